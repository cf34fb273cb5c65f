"""CLI: ``openwfm erlang`` (the queueing calculator)."""

from __future__ import annotations

import typer


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
    import json
    import math

    from openwfm.errors import ParameterError
    from openwfm.queueing.calculator import calculate

    if options["definition"] not in ("offered", "answered", "virtual"):
        raise ParameterError(
            f"unknown {options['definition']!r} (expected offered, answered or virtual)",
            field="--sl-definition",
        )
    interval_s = interval_minutes * 60.0
    rate = arrival_rate_per_s if arrival_rate_per_s is not None else calls_per_interval / interval_s
    if rate < 0:
        field = "--arrival-rate-per-s" if arrival_rate_per_s is not None else "--calls-per-interval"
        raise ParameterError(f"expected >= 0, got {rate:g}", field=field)
    flags = {
        "lines": "--lines",
        "retrial_probability": "--retrial-probability",
        "retry_mean_s": "--retry-mean-s",
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
        strict = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in result.items()
        }
        print(json.dumps(strict, indent=2, allow_nan=False))
        return
    _print_result(result)


def register(app: typer.Typer) -> None:
    @app.command("erlang")
    def erlang(
        calls_per_interval: float = typer.Option(None, help="Contacts offered per interval."),
        arrival_rate_per_s: float = typer.Option(None, help="Arrival rate per second."),
        aht_s: float = typer.Option(..., help="Average handle time, seconds."),
        interval_minutes: float = typer.Option(30.0, help="Interval length, minutes."),
        target_s: float = typer.Option(20.0, help="Service-level target time, seconds."),
        sl: float = typer.Option(0.8, help="Service-level target (fraction), when solving."),
        agents: int = typer.Option(None, help="Agents on line; omit to solve for agents."),
        patience_s: float = typer.Option(None, help="Mean patience, seconds (Erlang A)."),
        max_occupancy: float = typer.Option(None, help="Occupancy cap when solving."),
        max_abandon: float = typer.Option(None, help="Abandonment cap when solving (Erlang A)."),
        max_asa_s: float = typer.Option(None, help="ASA cap in seconds when solving."),
        lines: int = typer.Option(
            None, help="Lines (agents + waiting places); busy signal beyond (Erlang X)."
        ),
        retrial_probability: float = typer.Option(
            None, help="Probability a blocked or abandoning caller redials (Erlang X)."
        ),
        retry_mean_s: float = typer.Option(
            None, help="Mean time to the redial, seconds (default: the long-retry limit)."
        ),
        forecast_sd: float = typer.Option(
            None, help="Standard deviation of the forecast volume per interval (contacts)."
        ),
        probability: float = typer.Option(
            None, help="With --forecast-sd: meet the target with this probability."
        ),
        outbound_aht_s: float = typer.Option(None, help="Blending: outbound handle time, seconds."),
        threshold: int = typer.Option(None, help="Blending: idle agents kept free for inbound."),
        outbound_per_hour: float = typer.Option(
            None, help="Blending: outbound calls per hour to afford when solving."
        ),
        sl_definition: str = typer.Option(
            "offered", help="Service level over offered, answered or virtual."
        ),
        solve_for: str = typer.Option(
            None, help="agents, arrival-rate or service-level (default from --agents)."
        ),
        json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Erlang C / A / X, uncertain-forecast and blending calculator: metrics for given
        agents, the least agents, or the largest arrival rate."""
        import json
        import math

        from openwfm.errors import ParameterError
        from openwfm.queueing import erlang_a, required_agents

        if (calls_per_interval is None) == (arrival_rate_per_s is None):
            raise ParameterError(
                "give exactly one of --calls-per-interval or --arrival-rate-per-s",
                field="--calls-per-interval",
            )
        if interval_minutes <= 0:
            raise ParameterError("expected > 0", field="--interval-minutes")
        advanced = {
            "lines": lines,
            "retrial_probability": retrial_probability,
            "retry_mean_s": retry_mean_s,
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
            # strict JSON: an infinite wait is null (the note says why)
            strict = {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in result.items()
            }
            print(json.dumps(strict, indent=2, allow_nan=False))
            return
        _print_result(result)
