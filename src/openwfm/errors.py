"""Typed errors for bad input.

Every error names *where* the problem is (file, line or row, field or argument) and *what* was
expected, and renders as one line, so the CLI can print ``str(error)`` and exit non-zero.
"""

from __future__ import annotations

import re

# NumPy 2 scalars print as ``np.float64(-0.5)``: a message shows the value, ``-0.5``.
_NUMPY_SCALAR = re.compile(r"\bnp\.(?:float|int|uint|bool|str)_?\d*\(([^()]*)\)")


def plain_values(text: str) -> str:
    """``text`` with NumPy scalar reprs (``np.int64(-5)``) replaced by their values (``-5``)."""
    return _NUMPY_SCALAR.sub(r"\1", text)


class OpenWFMError(Exception):
    """Base of every error openwfm raises on purpose for bad input or state."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line is not None else "")
        elif self.line is not None:
            where = f"line {self.line}"
        parts = [p for p in (where, self.field) if p]
        text = plain_values(": ".join([*parts, self.message]))
        return " ".join(text.split())  # always one line


class DataError(OpenWFMError, ValueError):
    """An input table or file is malformed (missing column, unparseable value, empty...)."""


class ScenarioError(OpenWFMError, ValueError):
    """The scenario file is invalid; ``field`` is the YAML path, e.g. ``queues[0].aht_s``."""


class ParameterError(OpenWFMError, ValueError):
    """A function argument is out of its domain; ``field`` names the argument."""


class StoreError(OpenWFMError):
    """The interaction store cannot be opened or is in an unexpected state."""


class InfeasibleError(OpenWFMError):
    """Hard rules contradict each other; the message names the rules."""
