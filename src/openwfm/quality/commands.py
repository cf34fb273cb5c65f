"""``openwfm quality ...``: evaluations, surveys, repeat contacts, samples, agent quality."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from openwfm.errors import ParameterError

CustomerFormat = Literal["anonymous-bank", "table"]

STORE_HELP = "DuckDB store file (holds the interactions)."


def _open(store: Path):
    from openwfm.data.store import InteractionStore
    from openwfm.errors import StoreError
    from openwfm.quality.store import QualityStore

    if str(store) != ":memory:" and not store.exists():
        raise StoreError("store not found (run openwfm ingest first)", file=str(store))
    interactions = InteractionStore(store)
    return interactions, QualityStore(interactions)


def _show(frame, out: Path | None, title: str) -> None:
    from rich.console import Console

    if out is not None:
        from openwfm.io import write_table

        write_table(frame, out)
        Console(stderr=True).print(f"{title}: {len(frame):,} rows -> {out}")
        return
    typer.echo(title)
    typer.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def _days(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or any(v <= 0 for v in values):
        raise ParameterError(f"expected positive days like 1,7, got {text!r}", field="--days")
    return values


def _columns(text: str, allowed: tuple[str, ...], field: str) -> list[str]:
    columns = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in columns if c not in allowed]
    if bad:
        raise ParameterError(
            f"expected columns among {', '.join(allowed)}, got {bad[0]!r}", field=field
        )
    return columns


def register(app: typer.Typer) -> None:
    quality_app = typer.Typer(
        help="Quality: evaluations, surveys, first-contact resolution, agent quality.",
        no_args_is_help=True,
    )
    app.add_typer(quality_app, name="quality")
    _register_imports(quality_app)
    _register_measures(quality_app)


def _register_imports(quality_app: typer.Typer) -> None:
    """Commands that add to the store: score, surveys, customers."""

    @quality_app.command("score")
    def score(
        form: Path = typer.Argument(..., help="Evaluation form (YAML)."),
        evaluations: Path = typer.Argument(..., help="Answers (CSV/Parquet, one row per item)."),
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help=STORE_HELP),
        mapping: Path | None = typer.Option(None, "--mapping", help="YAML column mapping."),
        out: Path | None = typer.Option(None, "--out", help="Write the scores (.csv/.parquet)."),
    ) -> None:
        """Score evaluations with FORM and store them with the form version (atomic)."""
        from openwfm.quality.forms import load_form
        from openwfm.quality.imports import import_evaluations
        from openwfm.quality.tables import load_mapping_file

        parsed = load_form(form)
        interactions, quality = _open(store)
        with interactions:
            result = import_evaluations(quality, parsed, evaluations, load_mapping_file(mapping))
        scores = result.scores
        _show(
            scores[
                [
                    "evaluation_id",
                    "interaction_id",
                    "agent",
                    "evaluator",
                    "score",
                    "critical_score",
                    "auto_fail",
                ]
            ],
            out,
            f"{parsed.form} v{parsed.version} ({parsed.scoring}): "
            f"{result.added['evaluation']} evaluations added, mean score "
            f"{scores['score'].mean():.2%}, {int(scores['auto_fail'].sum())} auto-fail",
        )

    @quality_app.command("surveys")
    def surveys(
        responses: Path = typer.Argument(..., help="Survey responses (CSV/Parquet)."),
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help=STORE_HELP),
        mapping: Path | None = typer.Option(None, "--mapping", help="YAML column mapping."),
    ) -> None:
        """Store CSAT (1-5), CES (1-7) and NPS (0-10) responses, tied to the handling agent."""
        from openwfm.quality.imports import import_surveys
        from openwfm.quality.tables import load_mapping_file

        interactions, quality = _open(store)
        with interactions:
            result = import_surveys(quality, responses, load_mapping_file(mapping))
        typer.echo(
            f"survey responses: {result.read:,} read, {result.added['survey_response']:,} added"
        )

    @quality_app.command("customers")
    def customers(
        files: list[Path] = typer.Argument(..., help="Files with interaction and customer ids."),
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help=STORE_HELP),
        format: CustomerFormat = typer.Option(
            "anonymous-bank", "--format", help="anonymous-bank or table."
        ),
        mapping: Path | None = typer.Option(None, "--mapping", help="YAML column mapping."),
        salt: str = typer.Option("", "--salt", help="Salt of the customer-id hash."),
    ) -> None:
        """Store hashed customer keys of stored interactions (needed by ``quality fcr``)."""
        import pandas as pd

        from openwfm.quality.imports import anonymous_bank_customers, import_customers
        from openwfm.quality.tables import load_mapping_file, read_mapped_table

        if format == "anonymous-bank":
            frames = [anonymous_bank_customers(p) for p in files]
        else:
            frames = [
                read_mapped_table(p, load_mapping_file(mapping), ("interaction_id", "customer_id"))
                for p in files
            ]
        interactions, quality = _open(store)
        with interactions:
            result = import_customers(
                quality,
                pd.concat(frames, ignore_index=True),
                where=", ".join(map(str, files[:3])),
                salt=salt,
            )
        typer.echo(
            f"customer keys: {result.read:,} identified, "
            f"{result.added['interaction_customer']:,} added"
        )


def _register_measures(quality_app: typer.Typer) -> None:
    """Commands that read the store: fcr, sample, agents, calibration, report."""

    @quality_app.command("fcr")
    def fcr(
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help=STORE_HELP),
        days: str = typer.Option("1,7", "--days", help="Repeat windows in days, e.g. 1,7."),
        by: str = typer.Option("", "--by", help="Group by agent, queue and/or segment."),
        same_queue: bool = typer.Option(False, "--same-queue", help="Repeats in the same queue."),
        drop_censored: bool = typer.Option(
            False, "--drop-censored", help="Leave out the last N days (repeats unseen)."
        ),
        out: Path | None = typer.Option(None, "--out", help="Write the table (.csv/.parquet)."),
    ) -> None:
        """First-contact resolution from repeat contacts of the same customer within N days."""
        from openwfm.quality.fcr import fcr_rates, repeat_flags

        windows = _days(days)
        columns = _columns(by, ("agent", "queue", "segment"), "--by")
        interactions, quality = _open(store)
        with interactions:
            contacts = quality.contacts_with_customers()
        if contacts["customer_key"].notna().sum() == 0:
            raise ParameterError(
                "no customer keys stored (run openwfm quality customers)", field="--store"
            )
        flags = repeat_flags(contacts, windows, same_queue=same_queue, drop_censored=drop_censored)
        _show(
            fcr_rates(flags, by=columns),
            out,
            f"repeat contacts within {', '.join(f'{d:g}' for d in windows)} days",
        )

    @quality_app.command("sample")
    def sample(
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help=STORE_HELP),
        per_stratum: int = typer.Option(5, "--per-stratum", help="Contacts per stratum."),
        by: str = typer.Option("agent,queue", "--by", help="Strata: agent, queue, segment."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        start: str | None = typer.Option(None, "--start", help="First day (YYYY-MM-DD)."),
        end: str | None = typer.Option(None, "--end", help="Day after the last (YYYY-MM-DD)."),
        out: Path | None = typer.Option(None, "--out", help="Write the sample (.csv/.parquet)."),
    ) -> None:
        """A seeded stratified sample of answered contacts for evaluators (evaluated ones out)."""
        from openwfm.io import parse_date
        from openwfm.quality.sampling import stratified_sample

        columns = _columns(by, ("agent", "queue", "segment"), "--by")
        first, last = parse_date(start, "--start"), parse_date(end, "--end")
        interactions, quality = _open(store)
        with interactions:
            contacts = interactions.interactions(start=first, end=last)
            evaluated = quality.table("evaluation")["interaction_id"]
        picked = stratified_sample(contacts, per_stratum, by=columns, seed=seed, exclude=evaluated)
        keep = [
            "interaction_id",
            "agent",
            "queue",
            "segment",
            "arrival_time",
            "handle_s",
            "stratum_size",
        ]
        _show(picked[keep], out, f"sample of {len(picked):,} contacts (seed {seed})")

    @quality_app.command("agents")
    def agents(
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help=STORE_HELP),
        window: float = typer.Option(1.0, "--window-days", help="FCR repeat window (days)."),
        by_queue: bool = typer.Option(False, "--by-queue", help="One row per agent x queue."),
        scenario: Path | None = typer.Option(None, "--scenario", help="Scenario to update."),
        write_scenario: Path | None = typer.Option(
            None, "--write-scenario", help="Write the scenario copy with derived proficiency."
        ),
        a_team_segments: str = typer.Option(
            "", "--a-team-segments", help="Route these segments best-skilled (e.g. gold)."
        ),
        out: Path | None = typer.Option(None, "--out", help="Write the table (.csv/.parquet)."),
    ) -> None:
        """Per-agent quality (shrunk toward the team mean) and derived proficiency per queue."""
        from openwfm.quality.agents import agent_quality
        from openwfm.quality.fcr import repeat_flags
        from openwfm.quality.proficiency import derive_proficiency, handle_times, write_proficiency

        if (scenario is None) != (write_scenario is None):
            raise ParameterError(
                "give --scenario and --write-scenario together", field="--write-scenario"
            )
        if window <= 0:
            raise ParameterError(f"expected > 0 days, got {window}", field="--window-days")
        interactions, quality = _open(store)
        with interactions:
            evaluations, surveys = quality.evaluations(), quality.surveys()
            contacts = quality.contacts_with_customers()
        flags = repeat_flags(contacts, (window,))
        label = f"{window:g}d"
        by = ("agent", "queue") if by_queue or scenario is not None else ("agent",)
        teams = None
        if scenario is not None:  # shrink toward each scenario team's mean
            from openwfm.scenario import load_scenario

            teams = {a.name: a.team or "all" for a in load_scenario(scenario).all_agents()}
        table = agent_quality(evaluations, flags, surveys, window=label, by=by, teams=teams)
        if scenario is not None:
            table = derive_proficiency(table, handle_times(contacts))
            segments = [s.strip() for s in a_team_segments.split(",") if s.strip()]
            counts = write_proficiency(scenario, table, write_scenario, a_team_segments=segments)
            typer.echo(
                f"{write_scenario}: {counts['skills_updated']} skills updated for "
                f"{counts['agents_updated']} agents; {counts['agents_unmatched']} agents "
                "with data are not in the scenario",
                err=True,
            )
        _show(table, out, "agent quality")

    @quality_app.command("calibration")
    def calibration(
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help=STORE_HELP),
        reference: str | None = typer.Option(None, "--reference", help="Expert evaluator."),
    ) -> None:
        """How far evaluators disagree in calibration sessions."""
        from openwfm.quality.calibration import calibration_spread

        interactions, quality = _open(store)
        with interactions:
            sessions, evaluators = calibration_spread(
                quality.evaluations(), quality.table("eval_answer"), reference
            )
        _show(sessions, None, "calibration sessions")
        _show(evaluators, None, "evaluators")

    @quality_app.command("report")
    def report(
        store: Path = typer.Option(Path("openwfm.duckdb"), "--store", help=STORE_HELP),
        out: Path = typer.Option(Path("quality.html"), "--out", help="HTML file to write."),
        window: float = typer.Option(1.0, "--window-days", help="FCR repeat window (days)."),
    ) -> None:
        """The quality report page: scores, CSAT/effort/FCR trends, calibration spread."""
        from openwfm.quality.report import build_quality_report

        interactions, quality = _open(store)
        with interactions:
            page = build_quality_report(quality, window=f"{window:g}d")
        page.write(out)
        typer.echo(f"report -> {out}", err=True)
