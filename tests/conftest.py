"""Shared fixtures. Real data lies in ../shared/data (never committed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OPENWFM_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def require_shared_data(relative: str) -> Path:
    """Path of a file under shared/data; fail under CI (``CI`` set) when missing, else skip."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"real data missing: {path}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def anonymous_bank_dir() -> Path:
    return require_shared_data("anonymous-bank")


@pytest.fixture
def example_scenario_path() -> Path:
    return PROJECT_ROOT / "examples" / "center.yaml"
