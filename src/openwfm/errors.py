"""Typed errors for bad input.

Every error names *where* the problem is (file, line or row, field or argument) and *what* was
expected, and renders as one line, so the CLI can print ``str(error)`` and exit non-zero.
"""

from __future__ import annotations


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
        text = ": ".join([*parts, self.message])
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
