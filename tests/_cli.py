"""Run the ``openwfm`` console entry point in-process (shared by the reliability tests)."""

from __future__ import annotations

import sys

from openwfm import cli


def run(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``openwfm *args``."""
    monkeypatch.setattr(sys, "argv", ["openwfm", *map(str, args)])
    code = 0
    try:
        cli.main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(code: int, err: str, *fragments: str) -> None:
    """Assert exit 2 and exactly one stderr line ``openwfm: error: ...`` holding ``fragments``."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("openwfm: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
