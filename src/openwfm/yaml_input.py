"""YAML input files (scenarios, capacity plans, evaluation forms, adherence maps, alert rules,
column mappings) read once, with one-line errors.

Every error is the caller's :class:`openwfm.errors.OpenWFMError` class and names the file, the
line and the YAML path of the field, e.g.
``center.yaml:14: queues[0].aht_s: Input should be greater than 0 (got -5)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from openwfm.errors import OpenWFMError

if TYPE_CHECKING:  # yaml and pydantic are loaded when a file is read, not when the CLI starts
    import yaml
    from pydantic import BaseModel, ValidationError

Location = tuple[Any, ...]  # a YAML path as a tuple of keys and list indexes
Model = TypeVar("Model", bound="BaseModel")


def read_text_file(path: str | Path, error: type[OpenWFMError], what: str = "file") -> str:
    """The UTF-8 text of ``path``; else ``error`` naming the file: ``{what} not found``, a
    folder, not UTF-8 (with the line of the first bad byte), or not readable."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} not found", file=str(path)) from None
    except IsADirectoryError:
        raise error(f"is a folder, expected a {what}", file=str(path)) from None
    except UnicodeDecodeError:
        from openwfm.io import undecodable_line

        raise error(
            "not UTF-8 text; save the file as UTF-8", file=str(path), line=undecodable_line(path)
        ) from None
    except OSError as problem:
        raise error(f"cannot read: {problem.strerror or problem}", file=str(path)) from None


def yaml_path(location: Location) -> str:
    """``("queues", 0, "aht_s")`` as ``queues[0].aht_s`` (``(top level)`` for ``()``)."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def yaml_line(root: yaml.Node | None, location: Location) -> int | None:
    """1-based line of the YAML node at ``location`` (or of its nearest existing parent)."""
    import yaml

    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            pairs = [(k, v) for k, v in node.value if getattr(k, "value", None) == str(part)]
            if not pairs:
                return line
            node = pairs[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def _check_duplicate_keys(
    node: yaml.Node | None, source: str, error: type[OpenWFMError], path: str = ""
) -> None:
    """``error`` for a key given twice in one mapping (YAML keeps the last one silently)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            where = f"{path}.{name}" if path else name
            if name in seen:
                raise error(
                    f"key {name!r} is given twice (first on line {seen[name]}); the first "
                    f"value would be ignored",
                    file=source,
                    line=key.start_mark.line + 1,
                    field=where,
                )
            seen[name] = key.start_mark.line + 1
            _check_duplicate_keys(value, source, error, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_duplicate_keys(item, source, error, f"{path}[{index}]")


def parse_yaml_mapping(
    text: str,
    source: str,
    error: type[OpenWFMError],
    not_a_mapping: str,
    *,
    list_key: str | None = None,
) -> tuple[yaml.Node | None, dict]:
    """(node tree, data) of YAML text whose top level is a mapping; else ``error`` naming
    ``source`` and the line: not valid YAML, a key given twice, or ``not_a_mapping``.

    With ``list_key``, a top-level list stands for ``{list_key: [...]}`` (a file of rules
    only). The node tree gives a field's line (:func:`yaml_line`) when validation fails later.
    """
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as problem_error:
        mark = getattr(problem_error, "problem_mark", None)
        problem = getattr(problem_error, "problem", None) or str(problem_error).splitlines()[0]
        raise error(
            f"not valid YAML: {problem}",
            file=source,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    _check_duplicate_keys(root, source, error)
    if list_key is not None and isinstance(data, list):
        key = yaml.ScalarNode("tag:yaml.org,2002:str", list_key, root.start_mark, root.end_mark)
        root = yaml.MappingNode("tag:yaml.org,2002:map", [(key, root)], root.start_mark)
        data = {list_key: data}
    if not isinstance(data, dict):
        raise error(not_a_mapping, file=source)
    return root, data


def raise_at(
    error: type[OpenWFMError], message: str, source: str, root: yaml.Node | None, location: Location
) -> NoReturn:
    """Raise ``error(message)`` naming ``source``, the line and the YAML path of ``location``."""
    line = yaml_line(root, location)
    raise error(message, file=source, line=line, field=yaml_path(location)) from None


def raise_validation_error(
    error: type[OpenWFMError],
    problem: ValidationError,
    source: str,
    root: yaml.Node | None,
) -> NoReturn:
    """Raise ``error`` for pydantic's first problem: its file, line, YAML path and message,
    the value given (a single value) and how many more problems there are."""
    first = problem.errors()[0]
    location = tuple(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if "input" in first and first["type"] not in ("missing", "extra_forbidden"):
        shown = first["input"]
        if not isinstance(shown, dict | list):
            message += f" (got {shown!r})"
    more = problem.error_count() - 1
    if more:
        message += f" [and {more} more problem{'s' if more > 1 else ''}]"
    raise_at(error, message, source, root, location)


def parse_yaml_model(
    text: str,
    source: str,
    model: type[Model],
    error: type[OpenWFMError],
    not_a_mapping: str,
    *,
    list_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[yaml.Node | None, Model]:
    """(node tree, ``model`` validated from YAML text): :func:`parse_yaml_mapping`, then
    pydantic with :func:`raise_validation_error`. ``extra`` adds fields the file does not
    give (where it was read from). The node tree places the caller's own cross-field checks
    (:func:`raise_at`)."""
    from pydantic import ValidationError

    root, data = parse_yaml_mapping(text, source, error, not_a_mapping, list_key=list_key)
    try:
        return root, model.model_validate({**data, **(extra or {})})
    except ValidationError as problem:
        raise_validation_error(error, problem, source, root)


def load_yaml_model(
    path: str | Path,
    model: type[Model],
    error: type[OpenWFMError],
    what: str,
    not_a_mapping: str,
    *,
    list_key: str | None = None,
) -> Model:
    """``model`` validated from the YAML file at ``path`` (``what`` names the kind of file in
    errors: ``adherence map file not found``)."""
    text = read_text_file(path, error, what)
    return parse_yaml_model(text, str(path), model, error, not_a_mapping, list_key=list_key)[1]
