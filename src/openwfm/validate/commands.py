"""CLI: ``openwfm validate``: how well Erlang C, Erlang A (and the simulator) predict a history.

``--history`` takes interaction files (Anonymous Bank raw files, openwfm CSV/Parquet), a folder
of them, a quoted glob (``'raw/*.txt'``), or a DuckDB store (``.duckdb``); repeat it for more.
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

import typer

from openwfm.errors import DataError, ParameterError

STORE_SUFFIXES = (".duckdb", ".db")
HISTORY_SUFFIXES = (".txt", ".csv", ".gz", ".parquet", ".pq", ".tsv")


def history_paths(history: list[str]) -> list[Path]:
    """Expand files, folders and globs given to ``--history`` into existing paths, in order."""
    paths: list[Path] = []
    for item in history:
        if any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(item))
            if not matches:
                raise DataError("no file matches this pattern", file=item, field="--history")
            paths.extend(Path(m) for m in matches)
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in HISTORY_SUFFIXES
            )
            if not found:
                raise DataError(
                    f"no history file ({', '.join(HISTORY_SUFFIXES)}) in this folder",
                    file=str(path),
                    field="--history",
                )
            paths.extend(found)
        elif path.exists():
            paths.append(path)
        else:
            raise DataError("file not found", file=str(path), field="--history")
    if not paths:
        raise ParameterError("give at least one --history file, folder or store", field="--history")
    return paths


def load_history(history: list[str], format: str = "auto", progress: bool = True):
    """The interactions table of all ``--history`` inputs (files and stores concatenated)."""
    import pandas as pd
    from rich.progress import Progress

    from openwfm.data.readers import read_interactions

    paths = history_paths(history)
    frames = []
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("reading history", total=len(paths))
        for path in paths:
            if path.suffix.lower() in STORE_SUFFIXES:
                from openwfm.data.store import InteractionStore

                with InteractionStore(path, read_only=True) as store:
                    frames.append(store.interactions())
            else:
                frames.append(read_interactions(path, format=format))
            bar.advance(task)
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise DataError("the history holds no interactions", file=str(paths[0]))
    return frame


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        history: list[str] = typer.Option(
            ...,
            "--history",
            help="Interaction file, folder, quoted glob or .duckdb store (repeatable).",
        ),
        format: str = typer.Option(
            "auto", "--format", help="History file format: anonymous-bank, openwfm, csv, auto."
        ),
        scenario: Path = typer.Option(
            None, "--scenario", help="Scenario YAML: queues to validate and their answer targets."
        ),
        target_s: float = typer.Option(
            None, "--target-s", help="Answer-time target (s) for every queue (default: scenario's)."
        ),
        queues: str = typer.Option(None, "--queues", help="Comma-separated queues to validate."),
        by_segment: bool = typer.Option(
            False, "--by-segment", help="Estimate and score per queue x segment."
        ),
        agents: str = typer.Option(
            "split", "--agents", help="Agents on duty: split (distinct agents) or busy (busy time)."
        ),
        occupancy_bound: float = typer.Option(
            0.9, "--occupancy-bound", help="Occupancy that busy time is divided by (0-1]."
        ),
        min_offered: int = typer.Option(
            10, "--min-offered", help="Score hours with at least this many offered contacts."
        ),
        simulate: bool = typer.Option(
            False, "--simulate", help="Add the simulator (trace replay) as a third model."
        ),
        replications: int = typer.Option(5, "--replications", help="Simulation replications."),
        seed: int = typer.Option(0, "--seed", min=0, help="Simulation seed."),
        report: Path = typer.Option(None, "--report", help="Write an HTML report here."),
        as_json: bool = typer.Option(False, "--json", help="Print the error tables as JSON."),
    ) -> None:
        """Estimate each hour of a history (arrival rate, AHT, patience, agents), predict its
        service level, ASA and abandonment with Erlang C and Erlang A (and the simulator), and
        print each model's mean absolute error and bias against what actually happened."""
        from rich.console import Console

        from openwfm.validate.fidelity import DEFAULT_MODELS, model_fidelity

        if target_s is not None and not target_s >= 0:
            raise ParameterError(f"expected seconds >= 0, got {target_s}", field="--target-s")
        if min_offered < 1:
            raise ParameterError(f"expected >= 1, got {min_offered}", field="--min-offered")
        if report is not None:
            from openwfm.io import check_output_path

            check_output_path(report, "--report")
        loaded = None
        if scenario is not None:
            from openwfm.scenario import load_scenario

            loaded = load_scenario(scenario)
        console = Console(stderr=as_json)
        frame = load_history(history, format, progress=not as_json)
        queue_list = [q.strip() for q in (queues or "").split(",") if q.strip()] or None
        models = (*DEFAULT_MODELS, "simulation") if simulate else DEFAULT_MODELS
        if simulate and by_segment:
            raise ParameterError("--simulate scores per queue only", field="--by-segment")
        with console.status("estimating and predicting every hour"):
            result = model_fidelity(
                frame,
                target_s=target_s,
                scenario=loaded,
                by=("queue", "segment") if by_segment else ("queue",),
                queues=queue_list,
                models=models,
                min_offered=min_offered,
                replications=replications,
                seed=seed,
                progress=False,
                agents=agents,
                occupancy_bound=occupancy_bound,
            )
        if report is not None:
            from openwfm.validate.report import write_report

            write_report(
                result, report, title=f"Model fidelity: {', '.join(Path(h).name for h in history)}"
            )
        if as_json:
            payload = {
                "info": {k: v for k, v in result.info.items() if _jsonable(v)},
                "errors": result.errors.to_dict(orient="records"),
                "by_hour": result.by_hour.to_dict(orient="records"),
                "by_queue": result.by_queue.to_dict(orient="records"),
            }
            json.dump(payload, sys.stdout, indent=1, default=float)
            sys.stdout.write("\n")
            return
        from openwfm.validate.report import error_table

        console.print(error_table(result))
        if report is not None:
            console.print(f"report: {report}")


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True
