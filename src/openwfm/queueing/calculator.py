"""The ``openwfm erlang`` calculator beyond Erlang C / A: redials and lines (Erlang X),
uncertain forecasts, blending, and solving for agents, the arrival rate or the target.

:func:`calculate` takes the command's options as plain values and returns one flat dict of
results (the command prints it as JSON or a table). The model follows from the options:

- ``outbound_aht_s`` -> blending (``threshold`` given: evaluate; else the least agents and the
  best threshold for ``outbound_per_hour``);
- ``forecast_sd`` (contacts per interval) -> the uncertain-rate model (gamma rate with that
  standard deviation of the expected volume); ``probability`` -> the target met with that
  probability, else on average;
- ``lines`` / ``retrial_probability`` -> Erlang X;
- else Erlang A / C (``patience_s``).

``solve_for``: ``agents`` (least agents for ``sl``), ``arrival-rate`` (largest rate the
``agents`` carry at ``sl``) or ``service-level`` (metrics at ``agents``).
"""

from __future__ import annotations

import math

from openwfm.errors import ParameterError

SOLVE_FOR = ("agents", "arrival-rate", "service-level")


def model_name(options: dict) -> str:
    if options.get("outbound_aht_s") is not None:
        return "blend"
    if options.get("forecast_sd"):
        return "uncertain"
    lines = options.get("lines")
    if (lines is not None and math.isfinite(lines)) or options.get("retrial_probability"):
        return "erlang_x"
    return "erlang_a" if options.get("patience_s") is not None else "erlang_c"


def _check(options: dict, model: str, solve_for: str) -> None:
    if solve_for not in SOLVE_FOR:
        raise ParameterError(
            f"unknown {solve_for!r} (expected one of {', '.join(SOLVE_FOR)})", field="--solve-for"
        )
    if solve_for != "agents" and options.get("agents") is None and model != "blend":
        raise ParameterError(f"solving for {solve_for} needs --agents", field="--agents")
    if options.get("retry_mean_s") is not None and not options.get("retrial_probability"):
        raise ParameterError("a retry time needs --retrial-probability", field="--retry-mean-s")
    if options.get("redial_model") is not None and options.get("retry_mean_s") is None:
        raise ParameterError("a redial model needs --retry-mean-s", field="--redial-model")
    if options.get("probability") is not None and not options.get("forecast_sd"):
        raise ParameterError("a probability target needs --forecast-sd", field="--probability")
    if options.get("forecast_sd") is not None and options["forecast_sd"] < 0:
        raise ParameterError(
            f"expected >= 0, got {options['forecast_sd']:g}", field="--forecast-sd"
        )
    if model == "blend" and options.get("threshold") is None and options.get("agents") is not None:
        raise ParameterError("blending at given agents needs --threshold", field="--threshold")
    if model != "blend":
        for key, flag in (
            ("threshold", "--threshold"),
            ("outbound_per_hour", "--outbound-per-hour"),
        ):
            if options.get(key) is not None:
                raise ParameterError("applies to blending; give --outbound-aht-s", field=flag)


def calculate(options: dict, rate: float, interval_s: float, solve_for: str | None) -> dict:
    """Results of the calculator for ``options`` (the command's option values by name)."""
    model = model_name(options)
    agents = options.get("agents")
    if solve_for is None:
        solve_for = "agents" if agents is None else "service-level"
    _check(options, model, solve_for)
    result: dict = {
        "model": model,
        "arrival_rate_per_s": rate,
        "traffic_erlangs": rate * options["aht_s"],
        "aht_s": options["aht_s"],
        "target_s": options["target_s"],
        "solved_for": solve_for,
    }
    if model == "blend":
        result.update(_blend(options, rate))
        return result
    if solve_for == "arrival-rate":
        rate = _max_rate(options, model)
        result["arrival_rate_per_s"] = rate
        result["calls_per_interval"] = rate * interval_s
        result["traffic_erlangs"] = rate * options["aht_s"]
    elif solve_for == "agents":
        agents = _agents(options, model, rate, interval_s)
    result["agents"] = int(agents)
    result.update(_metrics(options, model, rate, int(agents), interval_s))
    return result


def _patience(options: dict) -> float:
    return math.inf if options.get("patience_s") is None else options["patience_s"]


def _rate_variance(options: dict, rate: float, interval_s: float) -> float:
    return (options["forecast_sd"] / interval_s) ** 2


def _max_rate(options: dict, model: str) -> float:
    from openwfm.queueing.solve import max_arrival_rate

    extra = _model_kwargs(options, model)
    if model == "uncertain":
        if options.get("probability") is not None:
            raise ParameterError(
                "solve for the arrival rate on average (omit --probability)", field="--probability"
            )
        raise ParameterError(
            "the uncertain model is given in contacts: solve for agents or the service level",
            field="--solve-for",
        )
    return float(
        max_arrival_rate(
            options["agents"], options["aht_s"], options["target_s"], options["sl"], **extra
        )
    )


def _model_kwargs(options: dict, model: str) -> dict:
    kwargs: dict = {"patience_s": options.get("patience_s"), "definition": options["definition"]}
    if model == "erlang_x":
        kwargs.update(
            lines=math.inf if options.get("lines") is None else options["lines"],
            retrial_probability=options.get("retrial_probability") or 0.0,
            retry_mean_s=options.get("retry_mean_s") or math.inf,
            method=(options.get("redial_model") or "exact").replace("-", "_"),
        )
    return kwargs


def _agents(options: dict, model: str, rate: float, interval_s: float) -> int:
    from openwfm.queueing import (
        erlang_x_required_agents,
        required_agents,
        uncertain_required_agents,
    )

    if model == "uncertain":
        return int(
            uncertain_required_agents(
                rate,
                _rate_variance(options, rate, interval_s),
                options["aht_s"],
                options["target_s"],
                options["sl"],
                patience_s=options.get("patience_s"),
                probability=options.get("probability"),
            )
        )
    if model == "erlang_x":
        kw = _model_kwargs(options, model)
        return int(
            erlang_x_required_agents(
                rate,
                options["aht_s"],
                _patience(options),
                options["target_s"],
                options["sl"],
                lines=kw["lines"],
                retrial_probability=kw["retrial_probability"],
                retry_mean_s=kw["retry_mean_s"],
                definition=options["definition"],
                max_abandon=options.get("max_abandon"),
                method=kw["method"],
            )
        )
    definition = options["definition"]
    if definition == "virtual":
        raise ParameterError(
            "the virtual definition is computed by Erlang X (give --lines or "
            "--retrial-probability)",
            field="--sl-definition",
        )
    return int(
        required_agents(
            rate,
            options["aht_s"],
            options["target_s"],
            options["sl"],
            patience_s=options.get("patience_s"),
            max_occupancy=options.get("max_occupancy"),
            max_abandon=options.get("max_abandon"),
            max_asa_s=options.get("max_asa_s"),
            definition="offered" if definition == "offered" else "answered",
        )
    )


def _metrics(options: dict, model: str, rate: float, agents: int, interval_s: float) -> dict:
    from openwfm.queueing import erlang_x, expected_service_level, rate_quantile

    if model == "uncertain":
        variance = _rate_variance(options, rate, interval_s)
        out = {
            "forecast_sd_per_interval": options["forecast_sd"],
            "expected_service_level": float(
                expected_service_level(
                    rate,
                    variance,
                    options["aht_s"],
                    agents,
                    options["target_s"],
                    patience_s=options.get("patience_s"),
                )
            ),
        }
        if options.get("probability") is not None:
            quantile = float(rate_quantile(rate, variance, options["probability"]))
            out["probability"] = options["probability"]
            out["rate_quantile_per_s"] = quantile
            level = erlang_x(
                quantile,
                options["aht_s"],
                _patience(options),
                agents,
                math.inf,
                options["target_s"],
            )["service_level"]
            out["service_level_at_quantile"] = float(level)
        return out
    kw = _model_kwargs(options, "erlang_x")
    r = erlang_x(
        rate,
        options["aht_s"],
        _patience(options),
        agents,
        kw["lines"],
        options["target_s"],
        retrial_probability=kw["retrial_probability"],
        retry_mean_s=kw["retry_mean_s"],
        method=kw["method"],
    )
    keep = [
        "p_wait",
        "service_level",
        "service_level_answered",
        "service_level_virtual",
        "asa_s",
        "mean_wait_s",
        "p_abandon",
        "occupancy",
        "queue_length",
    ]
    if model == "erlang_x":
        keep += ["p_block", "attempt_rate_per_s", "retrial_rate_per_s", "p_customer_lost"]
    return {key: float(r[key]) for key in keep}


def _blend(options: dict, rate: float) -> dict:
    from openwfm.queueing import blend_metrics, blend_staffing

    agents, threshold = options.get("agents"), options.get("threshold")
    solved = agents is None
    if solved:
        volume = (options.get("outbound_per_hour") or 0.0) / 3600.0
        agents, threshold = blend_staffing(
            rate,
            options["aht_s"],
            options["outbound_aht_s"],
            options["target_s"],
            options["sl"],
            volume,
            patience_s=_patience(options),
        )
    r = blend_metrics(
        rate,
        options["aht_s"],
        options["outbound_aht_s"],
        agents,
        threshold,
        options["target_s"],
        patience_s=_patience(options),
    )
    out = {"agents": int(agents), "threshold": int(threshold), "solved_for_agents": solved}
    out.update({key: float(value) for key, value in r.items()})
    out["outbound_per_hour"] = out.pop("outbound_per_s") * 3600.0
    return out
