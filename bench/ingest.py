"""Ingest benchmark: the nine Anonymous Bank months into a fresh DuckDB store.

Runs, side by side in one process:
- openwfm: ``read_anonymous_bank`` on every file + ``InteractionStore.ingest`` (one transaction),
  exactly what ``openwfm ingest ... --format anonymous-bank`` does;
- openwfm CLI: the ``openwfm ingest`` command end to end (a subprocess, so start-up included);
- peer: a plain ``pandas.read_csv`` of the same files (parsing only: no validation, mapping or
  storage), the floor any pandas-based reader pays.
Also times ``interval_kpis`` (15 min, by queue and segment) on the stored rows.

Usage: ``.venv/bin/python bench/ingest.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from _timing import timed
from openwfm.data.intervals import interval_kpis
from openwfm.data.readers import read_anonymous_bank
from openwfm.data.store import InteractionStore

ROOT = Path(__file__).resolve().parents[1]
RAW = (
    Path(os.environ.get("OPENWFM_SHARED_DATA", ROOT.parent / "shared" / "data"))
    / "anonymous-bank"
    / "raw"
)


def best_of(runs: int, function):
    """Best wall time of ``runs`` calls (the machine is shared) and the last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        with timed() as timing:
            result = function()
        best = min(best, timing.wall_s)
    return best, result


def main() -> None:
    files = sorted(RAW.glob("*.txt"))
    if len(files) != 9:
        sys.exit(f"expected the nine raw files in {RAW}")
    with tempfile.TemporaryDirectory() as folder:
        counter = iter(range(100))

        def openwfm_api() -> int:
            store_path = Path(folder) / f"api-{next(counter)}.duckdb"
            frame = pd.concat([read_anonymous_bank(f) for f in files], ignore_index=True)
            with InteractionStore(store_path) as store:
                store.ingest(frame)
                return store.count()

        def openwfm_cli() -> int:
            store_path = Path(folder) / f"cli-{next(counter)}.duckdb"
            command = [str(Path(sys.executable).parent / "openwfm"), "ingest", *map(str, files)]
            command += ["--format", "anonymous-bank", "--store", str(store_path)]
            subprocess.run(command, check=True, capture_output=True)
            with InteractionStore(store_path) as store:
                return store.count()

        def pandas_peer() -> int:
            frames = [pd.read_csv(f, sep="\t") for f in files]
            return sum(len(f) for f in frames)

        peer_s, peer_rows = best_of(3, pandas_peer)
        api_s, api_rows = best_of(3, openwfm_api)
        cli_s, cli_rows = best_of(1, openwfm_cli)
        assert api_rows == cli_rows == peer_rows == 318_286, (api_rows, cli_rows, peer_rows)
        with InteractionStore(Path(folder) / "api-0.duckdb") as store:
            load_s, interactions = best_of(1, store.interactions)
        kpi_s, kpis = best_of(3, lambda: interval_kpis(interactions, 15, ("queue", "segment")))

    print(f"nine months of Anonymous Bank: {api_rows:,} records, fresh store each run")
    print(f"{'':34}{'seconds':>9}{'rows/s':>12}{'vs pandas':>11}")
    for name, seconds in (
        ("pandas.read_csv (parse only)", peer_s),
        ("openwfm read + ingest (API)", api_s),
        ("openwfm ingest (CLI, end to end)", cli_s),
    ):
        print(f"{name:34}{seconds:9.2f}{api_rows / seconds:12,.0f}{seconds / peer_s:10.1f}x")
    print(f"load from store: {load_s:.2f} s; interval_kpis 15 min x queue x segment: "
          f"{kpi_s:.2f} s ({len(kpis):,} rows)")  # fmt: skip
    print(f"target: nine months under 20 s -> {'met' if cli_s < 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
