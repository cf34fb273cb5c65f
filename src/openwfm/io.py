"""Atomic file output shared by every stage: nothing is half-written.

Each writer puts the content into a temporary file beside the target and renames it into place
(``os.replace`` is atomic on one file system), so an error or an interrupt leaves either the old
file or the new one, never a truncated one.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from openwfm.errors import ParameterError

if TYPE_CHECKING:  # pandas is only a type here: importing it costs the CLI half a second
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet")


def _temporary_beside(path: Path) -> Path:
    """A new empty temporary file beside ``path``, named ``.{name}.{pid}.{random}.tmp``."""
    handle, name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(handle)
    return Path(name)


def remove_stale_temporaries(path: Path) -> None:
    """Remove temporaries of ``path`` left by writers that no longer run (killed by SIGKILL).

    The writer's process id is part of the name; a temporary of a live process is kept.
    """
    try:
        leftovers = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return
    for leftover in leftovers:
        pid_text = leftover.name[len(path.name) + 2 :].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            leftover.unlink(missing_ok=True)
        except OSError:  # alive, owned by someone else
            continue


def check_output_path(path: str | Path, field: str = "--out") -> Path:
    """``path`` if a file can be written there, else a ParameterError naming ``field``.

    Checked before any work starts: the path is not a folder, no parent is a file, and the
    nearest existing folder is writable. Missing parent folders are fine (they are created).
    """
    path = Path(path)
    if path.is_dir():
        raise ParameterError("is a folder, expected a file name", file=str(path), field=field)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ParameterError(f"{folder} is a file, expected a folder", file=str(path), field=field)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(f"folder {folder} is not writable", file=str(path), field=field)
    return path


def check_output_folder(folder: str | Path, field: str = "--out") -> Path:
    """``folder`` if files can be written into it (created if missing), else a ParameterError."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ParameterError("expected a folder, found a file", file=str(folder), field=field)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(
            f"{existing} is a file, expected a folder", file=str(folder), field=field
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"folder {existing} is not writable", file=str(folder), field=field)
    return folder


def _output_error(path: Path, error: OSError, field: str | None) -> ParameterError:
    reason = error.strerror or str(error)
    return ParameterError(f"cannot write ({reason})", file=str(path), field=field)


def atomic_write(
    path: str | Path, write: Callable[[Path], None], field: str | None = "--out"
) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    A file system problem (the target is a folder, a parent is a file, no permission) is a
    ParameterError naming ``path`` and ``field``; the temporary file never stays behind.
    """
    path = Path(path)
    check_output_path(path, field or "--out")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _output_error(path, error, field) from None
    remove_stale_temporaries(path)
    try:
        # made inside the try: a signal right after the file exists still removes it
        temporary = _temporary_beside(path)
        write(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(temporary, path)
    except BaseException as error:
        _remove_own_temporaries(path)
        if isinstance(error, OSError):
            raise _output_error(path, error, field) from None
        raise
    return path


def _remove_own_temporaries(path: Path) -> None:
    """Remove this process's temporaries of ``path`` (found by name: a signal can arrive
    between the file's creation and the assignment of its name)."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.{os.getpid()}.*.tmp"):
        leftover.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str, field: str | None = "--out") -> Path:
    """Write UTF-8 text to ``path`` atomically."""
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"), field)


def check_table_path(path: str | Path, field: str = "--out") -> Path:
    """``path`` if it ends in .csv or .parquet, else a ParameterError naming ``field``."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ParameterError(
            f"expected a file ending in .csv or .parquet, got {path.name!r}", field=field
        )
    return path


def write_table(frame: pd.DataFrame, path: str | Path, field: str = "--out") -> Path:
    """Write ``frame`` as CSV or Parquet (chosen by the suffix) atomically, without the index."""
    path = check_table_path(path, field)

    def write(temporary: Path) -> None:
        if path.suffix.lower() == ".csv":
            frame.to_csv(temporary, index=False)
        else:
            frame.to_parquet(temporary, index=False)

    return atomic_write(path, write, field)


def write_tables(
    tables: Mapping[Path, pd.DataFrame | str | bytes | Callable[[Path], None]],
    field: str | None = "--out",
) -> None:
    """Write a set of outputs so that they land together: the one output-set writer.

    Content: a DataFrame (written as CSV), a string (UTF-8 text), bytes, or a callable that
    writes the file at the path it is given. Every file is written to a temporary file first;
    only when all are written are they renamed into place, in the order given (put the file
    that marks a complete set, e.g. a summary, last). An error or an interrupt while writing
    leaves the previous set untouched and no temporary file behind.
    """
    paths = [Path(path) for path in tables]
    for path in paths:
        check_output_path(path, field or "--out")
    temporary: dict[Path, Path] = {}
    try:
        for path, content in zip(paths, tables.values(), strict=True):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary[path] = _temporary_beside(path)
            except OSError as error:
                raise _output_error(path, error, field) from None
            remove_stale_temporaries(path)
            if isinstance(content, str):
                temporary[path].write_text(content, encoding="utf-8")
            elif isinstance(content, bytes):
                temporary[path].write_bytes(content)
            elif callable(content):
                content(temporary[path])
            else:
                content.to_csv(temporary[path], index=False)
            os.chmod(temporary[path], 0o644)
        for path, written in temporary.items():
            os.replace(written, path)
    except OSError as error:
        raise _output_error(Path(error.filename or paths[0]), error, field) from None
    finally:
        for written in temporary.values():
            written.unlink(missing_ok=True)
        for path in paths:  # one made just before a signal, its name not yet recorded
            _remove_own_temporaries(path)


# Earliest and latest dates a date option accepts: pandas timestamps (nanoseconds) span
# 1677-09-21 .. 2262-04-11, and a plan or a simulation adds weeks (or years) after its start.
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)
LAST_INSTANT = dt.date(2262, 4, 1)  # no computed day may pass this


def check_date_span(first: dt.date, days: float, field: str) -> None:
    """ParameterError naming ``field`` if ``first`` + ``days`` passes the supported range."""
    if days > (LAST_INSTANT - first).days:
        raise ParameterError(
            f"{days:g} days after {first} pass {LAST_INSTANT} (the latest supported date)",
            field=field,
        )


def parse_date(text: str | None, field: str = "--start") -> dt.date | None:
    """A YYYY-MM-DD option as a date (None stays None); else a ParameterError naming ``field``."""
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"expected a date YYYY-MM-DD, got {text!r}", field=field) from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise ParameterError(
            f"expected a date between {MIN_DATE} and {MAX_DATE}, got {text!r}", field=field
        )
    return day


def undecodable_line(path: str | Path) -> int | None:
    """Line (1-based) of the first byte of ``path`` that is not UTF-8, or None."""
    import gzip

    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16
        return 1
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return data[: error.start].count(b"\n") + 1
    return None


def _json_value(value: object) -> object:
    """``value`` with NaN / infinity as None, NumPy scalars as plain numbers, other objects
    (dates, paths) as strings; dicts and lists recursively."""
    import math

    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, bool | str):
        return value
    if hasattr(value, "item") and callable(value.item):  # a NumPy scalar
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def strict_json_text(value: object, indent: int | None = 2) -> str:
    """Strict JSON (RFC 8259: no NaN or Infinity): non-finite numbers become null."""
    import json

    return json.dumps(_json_value(value), indent=indent, allow_nan=False)
