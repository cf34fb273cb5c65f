"""The plan's stage cache: pickled stage outputs keyed by everything that can change them.

A key is a hash of the stage's inputs (tables by content, files by content, parameters as
JSON) and of :func:`code_fingerprint`: the installed openwfm sources and the versions of the
libraries whose results the stages return (solvers, forecasting, numerics). A new openwfm
build, an edited file or an upgraded OR-Tools therefore recomputes what it may have changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from openwfm.io import atomic_write

# distributions whose versions can change a stage's numbers
RESULT_LIBRARIES = (
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "duckdb",
    "statsforecast",
    "holidays",
    "ortools",
    "numba",
    "pydantic",
)


def stage_key(*parts: Any) -> str:
    """A cache key: SHA-256 of ``parts`` (tables by content and columns, anything else as
    JSON), 20 hex digits."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(repr(list(part.columns)).encode())
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:20]


def file_digest(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """Hash of the installed openwfm package's Python sources (names and bytes) and of the
    versions of :data:`RESULT_LIBRARIES` (``missing`` when one is not installed)."""
    import openwfm

    root = Path(openwfm.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\x00")
        digest.update(path.read_bytes() + b"\x00")
    for name in RESULT_LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "missing"
        digest.update(f"{name}=={version}\x00".encode())
    return digest.hexdigest()[:20]


class StageCache:
    """Pickled stage outputs in ``folder``, one file per stage, named by the stage's key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, stage: str, key: str) -> Path:
        return self.folder / f"{stage}-{key}.pkl"

    def get(self, stage: str, key: str) -> Any | None:
        path = self.path(stage, key)
        if not path.exists():
            return None
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except Exception:  # a cache file from another version: recompute
            return None

    def put(self, stage: str, key: str, value: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(stage, key)
        atomic_write(
            path,
            lambda temporary: temporary.write_bytes(
                pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            ),
        )
        for old in self.folder.glob(f"{stage}-*.pkl"):  # keep only the newest of a stage
            if old != path:
                old.unlink(missing_ok=True)
