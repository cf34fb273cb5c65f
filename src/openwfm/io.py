"""Atomic file output shared by every stage: nothing is half-written.

Each writer puts the content into a temporary file beside the target and renames it into place
(``os.replace`` is atomic on one file system), so an error or an interrupt leaves either the old
file or the new one, never a truncated one.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from openwfm.errors import ParameterError

if TYPE_CHECKING:  # pandas is only a type here: importing it costs the CLI half a second
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet")


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text to ``path`` atomically."""
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


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

    return atomic_write(path, write)


def write_tables(tables: dict[Path, pd.DataFrame | str]) -> None:
    """Write several outputs (DataFrames as CSV, strings as text) so they land together.

    Every file is written to a temporary file first; only when all are written are they renamed
    into place, so an error leaves none of the new files half-written.
    """
    temporary: dict[Path, Path] = {}
    try:
        for path, content in tables.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(handle)
            temporary[path] = Path(name)
            if isinstance(content, str):
                temporary[path].write_text(content, encoding="utf-8")
            else:
                content.to_csv(temporary[path], index=False)
            os.chmod(temporary[path], 0o644)
        for path, written in temporary.items():
            os.replace(written, path)
    finally:
        for written in temporary.values():
            written.unlink(missing_ok=True)


def parse_date(text: str | None, field: str = "--start") -> dt.date | None:
    """A YYYY-MM-DD option as a date (None stays None); else a ParameterError naming ``field``."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"expected a date YYYY-MM-DD, got {text!r}", field=field) from None
