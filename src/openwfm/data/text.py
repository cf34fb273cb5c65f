"""Reading delimited text logs: header, delimiter, encoding, malformed rows, bad values.

Shared by the readers (:mod:`openwfm.data.readers`, :mod:`openwfm.data.anonymous_bank`,
:mod:`openwfm.data.generic`). Errors name the file, the line as numbered in the file (the
header is line 1) and the field.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.data.schema import INTERACTION_COLUMNS
from openwfm.errors import DataError

_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
# The longest duration a log may give (wait, handle or VRU time): 31 days. Longer values are
# typing or export errors, and they would overflow timestamps if added to an arrival.
MAX_DURATION_S = 31 * 86400


def open_text(path: Path):
    # utf-8-sig: a byte-order mark (as spreadsheet programs write it) is not part of the header
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def decode_error(path: Path, error: UnicodeDecodeError) -> DataError:
    """A DataError naming the line of the first byte that is not UTF-8, with a hint."""
    from openwfm.io import undecodable_line

    byte = error.object[error.start : error.start + 1].hex() if error.object else "?"
    return DataError(
        f"not UTF-8 text (byte 0x{byte}); save the file as UTF-8 "
        f"(it looks like {'UTF-16' if byte in ('ff', 'fe') else 'Latin-1 / Windows-1252'})",
        file=str(path),
        line=undecodable_line(path),
    )


def header_line(path: Path) -> str:
    """First line of a text file; DataError if the file is missing or empty."""
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path))
    try:
        with open_text(path) as handle:
            header = handle.readline()
    except UnicodeDecodeError as error:
        raise decode_error(path, error) from None
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read as text ({error})", file=str(path)) from None
    if not header.strip():
        raise DataError("empty file (expected a header line and data rows)", file=str(path))
    return header.rstrip("\r\n")


def check_delimiter(path: Path, header: str, expected: tuple[str, ...], needed: int) -> str:
    """The delimiter of ``header`` among ``expected``; a clear DataError for another one."""
    for delimiter in expected:
        if len(header.split(delimiter)) >= needed:
            return delimiter
    counts = {d: header.count(d) for d in _DELIMITER_NAMES if d not in expected}
    found = max(counts, key=counts.get) if counts else None
    wanted = " or ".join(_DELIMITER_NAMES.get(d, repr(d)) for d in expected)
    if found is not None and counts[found] > 0:
        raise DataError(
            f"wrong delimiter: the header is {_DELIMITER_NAMES[found]}-separated, "
            f"expected {wanted}-separated",
            file=str(path),
            line=1,
        )
    return expected[0]


def read_text_table(
    path: Path, delimiter: str, usecols: list[str] | None, dtype: str | type = str
) -> pd.DataFrame:
    """All cells as strings (missing cells as <NA>), line numbers kept by row position."""
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            dtype=dtype,
            keep_default_na=False,
            na_values=[],
            usecols=usecols,
            skip_blank_lines=False,
            engine="c",
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError as error:
        raise decode_error(path, error) from None
    except pd.errors.ParserError as error:
        if "Calling read(nbytes) on source failed" in str(error):
            # the C parser turns an interrupted read (Ctrl-C) into a ParserError
            raise KeyboardInterrupt from None
        text = str(error).strip().splitlines()[-1]
        text = text.replace("Error tokenizing data. C error: ", "")
        line = None
        words = text.replace(",", " ").split()
        if "line" in words:
            try:
                line = int(words[words.index("line") + 1])
            except (ValueError, IndexError):
                line = None
        quote = re.search(r"EOF inside string starting at row (\d+)", text)
        if quote:  # rows are counted from 0 at the first data row; the header is line 1
            line = int(quote.group(1)) + 1
            text = 'a quote (") opens here and is never closed'
        raise DataError(f"malformed row: {text}", file=str(path), line=line) from None
    except pd.errors.EmptyDataError:
        raise DataError("empty file", file=str(path)) from None
    if frame.empty:
        raise DataError("no data rows after the header", file=str(path))
    return frame


def fail_at(mask: pd.Series | np.ndarray, path: Path, field: str, expected: str, values=None):
    """Raise a DataError at the first True of ``mask`` (row position -> file line)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    position = int(np.flatnonzero(mask)[0])
    shown = ""
    if values is not None:
        shown = f", got {str(np.asarray(values, dtype=object)[position])!r}"
    raise DataError(
        f"expected {expected}{shown} ({int(mask.sum())} bad value(s) in this column)",
        file=str(path),
        line=position + 2,  # header is line 1
        field=field,
    )


def finish_interactions(columns: dict[str, object], index: pd.Index) -> pd.DataFrame:
    """Assemble the schema columns in order with their dtypes."""
    frame = pd.DataFrame(columns, index=index)
    frame = frame[list(INTERACTION_COLUMNS)].reset_index(drop=True)
    return frame.astype(INTERACTION_COLUMNS)
