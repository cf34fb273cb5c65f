"""A user's column-mapping file (YAML), read once for every reader that takes one.

The file is either ``{source column: table column}`` or ``{columns: {...}, <option>: ...}``
with the reader's options (``time_format``, ``delimiter``, ``channel``, ``queue``...). Errors
are one-line :class:`~openwfm.errors.DataError` naming the mapping file and the key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from openwfm.errors import DataError
from openwfm.yaml_input import parse_yaml_mapping, read_text_file


def load_mapping_file(
    path: str | Path | None,
    *,
    options: Iterable[str] = (),
    targets: Iterable[str] | None = None,
) -> dict:
    """The mapping file at ``path`` as keyword arguments of a reader: ``{"mapping": {source
    column: table column}, <option>: value}`` (``{}`` for no file).

    ``options`` are the keys allowed beside ``columns`` (their values must be strings; a
    ``delimiter`` one character, a ``time_format`` a ``strptime`` format); ``targets`` the
    columns a source column may be mapped to (any when None).
    """
    if path is None:
        return {}
    path = Path(path)
    _, content = parse_yaml_mapping(
        read_text_file(path, DataError, "mapping file"),
        str(path),
        DataError,
        "expected a mapping of source column -> column",
    )
    options = tuple(options)
    found = {}
    if "columns" in content:
        unknown = sorted(set(content) - {"columns", *options})
        if unknown:
            raise DataError(
                f"unknown key(s) {', '.join(map(str, unknown))} (expected columns"
                + "".join(f", {o}" for o in options)
                + ")",
                file=str(path),
                field=str(unknown[0]),
            )
        columns = content["columns"]
        found = {k: content[k] for k in options if k in content}
    else:
        columns = content
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise DataError("columns: expected source column -> column", file=str(path))
    if "columns" not in content:
        _check_flat_options(path, columns, options, targets)
    _check_targets(path, columns, targets)
    _check_options(path, found)
    return {"mapping": dict(columns), **found}


def _check_flat_options(
    path: Path, columns: dict, options: tuple, targets: Iterable[str] | None
) -> None:
    """A flat mapping (no ``columns:`` section) with an option's key mapped to no known column
    (``queue: voice``) meant the option: say where it goes."""
    known = None if targets is None else set(targets)
    given = [k for k in options if k in columns and (known is None or columns[k] not in known)]
    if given:
        raise DataError(
            f"{given[0]!r} is an option: put the column mapping under `columns:` and "
            f"{', '.join(given)} beside it",
            file=str(path),
            field=given[0],
        )


def _check_targets(path: Path, columns: dict, targets: Iterable[str] | None) -> None:
    if targets is None:
        return
    targets = list(targets)
    unknown = sorted(set(columns.values()) - set(targets))
    if unknown:
        raise DataError(
            f"unknown column(s) {', '.join(unknown)} (known columns: {', '.join(targets)})",
            file=str(path),
            field="columns",
        )


def _check_options(path: Path, options: dict) -> None:
    """DataError naming the key for a value that is not a string, a delimiter that is not one
    character or a time format that is not a ``strptime`` format."""
    for key, value in options.items():
        if not isinstance(value, str):
            raise DataError(f"expected a quoted string, got {value!r}", file=str(path), field=key)
    if "delimiter" in options and len(options["delimiter"]) != 1:
        raise DataError(
            f"expected one character, got {options['delimiter']!r}",
            file=str(path),
            field="delimiter",
        )
    fmt = options.get("time_format")
    if fmt is None:
        return
    try:
        dt.datetime.strptime(dt.datetime(2026, 10, 5, 8, 0).strftime(fmt), fmt)
    except ValueError as error:
        if "does not match" not in str(error) and "unconverted" not in str(error):
            raise DataError(
                f"invalid strptime format {fmt!r} ({error})", file=str(path), field="time_format"
            ) from None
    if "%" not in fmt:
        raise DataError(
            f"invalid strptime format {fmt!r} (no % directive)",
            file=str(path),
            field="time_format",
        )
