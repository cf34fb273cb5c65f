"""CLI: ``openwfm erlang`` (the queueing calculator)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

SlDefinition = Literal["offered", "answered", "virtual"]
SolveFor = Literal["agents", "arrival-rate", "service-level"]
RedialModel = Literal["exact", "orbit-mean"]


def _print_result(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['model']}: {result['traffic_erlangs']:.4g} Erlangs")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key in ("model", "note"):
            continue
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    Console().print(table)
    if "note" in result:
        Console().print(f"note: {result['note']}")


def _advanced_erlang(
    options: dict, calls_per_interval, arrival_rate_per_s, interval_minutes, solve_for, as_json
) -> None:
    """Erlang X, uncertain forecasts, blending and solving for the rate (see
    :mod:`openwfm.queueing.calculator`)."""
    from openwfm.errors import ParameterError
    from openwfm.io import strict_json_text
    from openwfm.queueing.calculator import calculate

    interval_s = interval_minutes * 60.0
    rate = arrival_rate_per_s if arrival_rate_per_s is not None else calls_per_interval / interval_s
    if rate < 0:
        field = "--arrival-rate-per-s" if arrival_rate_per_s is not None else "--calls-per-interval"
        raise ParameterError(f"expected >= 0, got {rate:g}", field=field)
    flags = {
        "lines": "--lines",
        "retrial_probability": "--retrial-probability",
        "retry_mean_s": "--retry-mean-s",
        "method": "--redial-model",
        "probability": "--probability",
        "outbound_aht_s": "--outbound-aht-s",
        "threshold": "--threshold",
        "outbound_per_hour": "--outbound-per-hour",
        "agents": "--agents",
        "patience_s": "--patience-s",
    }
    try:
        result = calculate(options, rate, interval_s, solve_for)
    except ParameterError as error:
        # name the flag rather than the Python argument
        field = flags.get(str(error.field), error.field)
        if error.field and not str(error.field).startswith("--"):
            field = "--" + str(error.field).replace("_", "-")
        raise ParameterError(error.message, field=field) from None
    if as_json:
        print(strict_json_text(result))
        return
    _print_result(result)


def register(app: typer.Typer) -> None:
    @app.command("erlang")
    def erlang(
        aht_s: Annotated[float, typer.Option(help="Average handle time, seconds.")],
        calls_per_interval: Annotated[
            float | None, typer.Option(help="Contacts offered per interval.")
        ] = None,
        arrival_rate_per_s: Annotated[
            float | None, typer.Option(help="Arrival rate per second.")
        ] = None,
        interval_minutes: Annotated[float, typer.Option(help="Interval length, minutes.")] = 30.0,
        target_s: Annotated[float, typer.Option(help="Service-level target time, seconds.")] = 20.0,
        sl: Annotated[
            float, typer.Option(help="Service-level target (fraction), when solving.")
        ] = 0.8,
        agents: Annotated[
            int | None, typer.Option(help="Agents on line; omit to solve for agents.")
        ] = None,
        patience_s: Annotated[
            float | None, typer.Option(help="Mean patience, seconds (Erlang A).")
        ] = None,
        max_occupancy: Annotated[
            float | None, typer.Option(help="Occupancy cap when solving.")
        ] = None,
        max_abandon: Annotated[
            float | None, typer.Option(help="Abandonment cap when solving (Erlang A).")
        ] = None,
        max_asa_s: Annotated[
            float | None, typer.Option(help="ASA cap in seconds when solving.")
        ] = None,
        lines: Annotated[
            int | None,
            typer.Option(help="Lines (agents + waiting places); busy signal beyond (Erlang X)."),
        ] = None,
        retrial_probability: Annotated[
            float | None,
            typer.Option(help="Probability a blocked or abandoning caller redials (Erlang X)."),
        ] = None,
        retry_mean_s: Annotated[
            float | None,
            typer.Option(help="Mean time to the redial, seconds (default: the long-retry limit)."),
        ] = None,
        redial_model: Annotated[
            RedialModel | None,
            typer.Option(
                help="With --retry-mean-s: exact (two-dimensional chain) or orbit-mean (fast "
                "approximation within 0.01 p tau / (tau + T), tau = max(AHT, patience))."
            ),
        ] = None,
        forecast_sd: Annotated[
            float | None,
            typer.Option(help="Standard deviation of the forecast volume per interval (contacts)."),
        ] = None,
        probability: Annotated[
            float | None,
            typer.Option(help="With --forecast-sd: meet the target with this probability."),
        ] = None,
        outbound_aht_s: Annotated[
            float | None, typer.Option(help="Blending: outbound handle time, seconds.")
        ] = None,
        threshold: Annotated[
            int | None, typer.Option(help="Blending: idle agents kept free for inbound.")
        ] = None,
        outbound_per_hour: Annotated[
            float | None,
            typer.Option(help="Blending: outbound calls per hour to afford when solving."),
        ] = None,
        sl_definition: Annotated[
            SlDefinition, typer.Option(help="Service level over offered, answered or virtual.")
        ] = "offered",
        solve_for: Annotated[
            SolveFor | None,
            typer.Option(help="agents, arrival-rate or service-level (default from --agents)."),
        ] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Erlang C / A / X, uncertain-forecast and blending calculator: metrics for given
        agents, the least agents, or the largest arrival rate."""
        from openwfm.errors import ParameterError
        from openwfm.io import strict_json_text
        from openwfm.queueing import erlang_a, required_agents

        if (calls_per_interval is None) == (arrival_rate_per_s is None):
            raise ParameterError(
                "give exactly one of --calls-per-interval or --arrival-rate-per-s",
                field="--calls-per-interval",
            )
        if interval_minutes <= 0:
            raise ParameterError("expected > 0", field="--interval-minutes")
        given, flag = (
            (calls_per_interval, "--calls-per-interval")
            if calls_per_interval is not None
            else (arrival_rate_per_s, "--arrival-rate-per-s")
        )
        if not given >= 0:  # the flag the user typed, in its own unit (NaN too)
            raise ParameterError(f"expected >= 0, got {given:g}", field=flag)
        advanced = {
            "lines": lines,
            "retrial_probability": retrial_probability,
            "retry_mean_s": retry_mean_s,
            "redial_model": redial_model,
            "forecast_sd": forecast_sd,
            "probability": probability,
            "outbound_aht_s": outbound_aht_s,
            "threshold": threshold,
            "outbound_per_hour": outbound_per_hour,
        }
        if (
            any(v is not None for v in advanced.values())
            or sl_definition != "offered"
            or solve_for not in (None, "agents", "service-level")
        ):
            _advanced_erlang(
                advanced
                | {
                    "aht_s": aht_s,
                    "target_s": target_s,
                    "sl": sl,
                    "agents": agents,
                    "patience_s": patience_s,
                    "max_occupancy": max_occupancy,
                    "max_abandon": max_abandon,
                    "max_asa_s": max_asa_s,
                    "definition": sl_definition,
                },
                calls_per_interval,
                arrival_rate_per_s,
                interval_minutes,
                solve_for,
                json_output,
            )
            return
        if max_abandon is not None and patience_s is None:
            raise ParameterError(
                "an abandonment cap needs --patience-s (Erlang C has no abandonment)",
                field="--max-abandon",
            )
        if agents is not None:
            for flag, value in (
                ("--max-occupancy", max_occupancy),
                ("--max-abandon", max_abandon),
                ("--max-asa-s", max_asa_s),
            ):
                if value is not None:
                    raise ParameterError(
                        "a cap applies when solving for agents; omit --agents to solve",
                        field=flag,
                    )
        rate = (
            arrival_rate_per_s
            if arrival_rate_per_s is not None
            else calls_per_interval / (interval_minutes * 60.0)
        )
        solved = agents is None
        if solved:
            agents = int(
                required_agents(
                    rate,
                    aht_s,
                    target_s,
                    sl,
                    patience_s=patience_s,
                    max_occupancy=max_occupancy,
                    max_abandon=max_abandon,
                    max_asa_s=max_asa_s,
                )
            )
        if agents < 0:
            raise ParameterError(f"expected >= 0, got {agents}", field="--agents")
        patience = float("inf") if patience_s is None else patience_s
        r = erlang_a(rate, aht_s, patience, agents, target_s)
        result = {
            "model": "erlang_c" if patience_s is None else "erlang_a",
            "arrival_rate_per_s": rate,
            "traffic_erlangs": rate * aht_s,
            "aht_s": aht_s,
            "target_s": target_s,
            "agents": agents,
            "solved_for_agents": solved,
            "p_wait": float(r.p_wait),
            "service_level": float(r.service_level),
            "service_level_answered": float(r.service_level_answered),
            "asa_s": float(r.asa_s),
            "mean_wait_s": float(r.mean_wait_s),
            "p_abandon": float(r.p_abandon),
            "occupancy": float(r.occupancy),
            "queue_length": float(r.queue_length),
        }
        if patience_s is None and agents <= result["traffic_erlangs"]:
            result["note"] = (
                "agents at or below the offered load: without abandonment the queue grows "
                "without bound (waits and queue length are infinite)"
            )
        if json_output:
            print(strict_json_text(result))  # an infinite wait is null (the note says why)
            return
        _print_result(result)
