"""Model fidelity on the Anonymous Bank, all nine months with call records (1999).

For every queue-hour of PS, NW, NE, IN and TT: estimate arrival rate, AHT, patience (censored
exponential MLE: total wait / abandons, pooled over the queue in hours without an abandon) and
agents on duty, then predict the hour's service level (answered within the scenario's target,
60 s, over offered), ASA and abandonment with Erlang C, Erlang A, Erlang X (redials: the
probability and retry time estimated from the records, same customer id calling again after
an abandon), the simulator (trace replay) and the naive baseline (the queue's whole-history
value), and compare with what happened.

Erlang C predicts no abandonment, so it is compared on service level and ASA only; its ASA is
infinite in hours where the load reaches the agents (counted as "unstable"); ASA is scored on
the hours where every model is finite. Both agent estimates are run (``split``: distinct
agents who served, an agent's hour split between queues by busy time; ``busy``: busy time /
0.9 occupancy). Peer: pyworkforce's Erlang C service level on the same hours (agreement and
speed of the Erlang C evaluation).

Run: ``.venv/bin/python bench/validate.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from _timing import timed

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "anonymous-bank" / "raw"
SCENARIO = ROOT / "examples" / "anonymous-bank.yaml"


def main() -> int:
    from openwfm.data.readers import read_anonymous_bank
    from openwfm.scenario import load_scenario
    from openwfm.validate import model_fidelity
    from openwfm.validate.report import pivot_by_hour

    files = sorted(DATA.glob("*.txt"))
    if len(files) != 9:
        print(f"expected the nine monthly files in {DATA}, found {len(files)}")
        return 1
    with timed() as timing:
        history = pd.concat([read_anonymous_bank(f) for f in files], ignore_index=True)
    read_s = timing.wall_s
    scenario = load_scenario(SCENARIO)
    print(f"read {len(history):,} records from {len(files)} files in {read_s:.1f} s")
    redials = redial_estimates(files)

    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    pd.set_option("display.max_rows", 100)
    results = {}
    for agents in ("split", "busy"):
        with timed() as timing:
            result = model_fidelity(
                history,
                scenario=scenario,
                agents=agents,
                models=("erlang_c", "erlang_a", "erlang_x", "simulation", "queue_mean"),
                replications=5,
                seed=1,
                redials=redials,
            )
        elapsed = timing.wall_s
        results[agents] = result
        info = result.info
        print(
            f"\n=== agents = {agents}: {info['rows']:,} queue-hours, scored with >= "
            f"{info['min_offered']} offered; estimate + predict + simulate in {elapsed:.1f} s ==="
        )
        print("overall (MAE and bias = mean of predicted - actual, one value per queue-hour):")
        print(result.errors.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        for metric in ("abandon_rate", "service_level", "asa_s"):
            print(f"\nMAE by hour of day, {metric}:")
            wide = pivot_by_hour(result.by_hour, metric)
            hours = result.by_hour[
                (result.by_hour["metric"] == metric) & (result.by_hour["model"] == "erlang_a")
            ].set_index("hour")["hours"]
            wide.insert(1, "queue_hours", wide["hour"].map(hours).astype("Int64"))
            print(wide.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print("\nper queue, abandonment:")
        by_queue = result.by_queue[result.by_queue["metric"] == "abandon_rate"]
        print(by_queue.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    result = results["split"]
    errors = result.errors.set_index(["model", "metric"])
    a = errors.loc[("erlang_a", "abandon_rate")]
    naive = errors.loc[("queue_mean", "abandon_rate")]
    print(
        "\nHEADLINE (agents = split): Erlang A abandonment MAE per queue-hour "
        f"{a['mae']:.3f} (bias {a['bias']:+.3f}) over {int(a['hours'])} hours; naive queue mean "
        f"{naive['mae']:.3f}; ratio Erlang A / naive {a['mae'] / naive['mae']:.2f}. "
        "Erlang C predicts no abandonment: compared on service level and ASA only."
    )
    scored = result.predictions[
        (result.predictions["model"] == "erlang_a")
        & (result.predictions["metric"] == "abandon_rate")
        & (result.predictions["offered"] >= result.info["min_offered"])
    ]
    print(
        f"  (taken at its word, Erlang C's zero abandonment would score MAE "
        f"{scored['actual'].abs().mean():.3f} on the same hours: the mean actual abandonment)"
    )
    for metric in ("service_level", "asa_s"):
        c = errors.loc[("erlang_c", metric)]
        ea = errors.loc[("erlang_a", metric)]
        print(
            f"  {metric}: Erlang C MAE {c['mae']:.3f} ({int(c['unstable_hours'])} unstable hours), "
            f"Erlang A {ea['mae']:.3f}, ratio C / A {c['mae'] / ea['mae']:.2f}"
        )

    for metric in ("abandon_rate", "service_level", "asa_s"):
        x = errors.loc[("erlang_x", metric)]
        ea = errors.loc[("erlang_a", metric)]
        print(
            f"  Erlang X (redial probability {redials['retrial_probability']:.2f}, retry "
            f"{redials['retry_mean_s']:.0f} s) {metric}: MAE {x['mae']:.3f} (bias "
            f"{x['bias']:+.3f}) beside Erlang A {ea['mae']:.3f} (bias {ea['bias']:+.3f})"
        )

    peer(result)
    return 0


def redial_estimates(files) -> dict:
    """Redial probability and retry time from the records: the same customer id calling
    again after an abandon (within an hour: the redials that reach the hour's queue; within
    a day for comparison). Erlang X uses the one-hour estimate."""
    from openwfm.validate.redials import estimate_redials, read_anonymous_bank_callers

    with timed() as timing:
        callers = read_anonymous_bank_callers(files)
    print(f"\nredials from {len(callers):,} caller records ({timing.wall_s:.1f} s):")
    estimates = {}
    for window in (3_600.0, 86_400.0):
        got = estimate_redials(callers, window_s=window)
        estimates[window] = got
        print(
            f"  within {window / 3600:g} h of an abandon: {got['redials']:,} of "
            f"{got['abandons']:,} identified abandons call again -> redial probability "
            f"{got['retrial_probability']:.3f}, retry time mean {got['retry_mean_s']:.0f} s, "
            f"median {got['retry_median_s']:.0f} s"
        )
    return estimates[3_600.0]


def peer(result) -> None:
    """pyworkforce's Erlang C on the same hours: same service level, and how long each takes."""
    try:
        from pyworkforce.queuing import ErlangC
    except ImportError:
        print("\npeer pyworkforce not installed (make bench-setup): skipped")
        return
    from openwfm import queueing

    est = result.estimates
    est = est[est["offered"] >= result.info["min_offered"]]
    traffic = (est["arrival_rate_per_s"] * est["aht_s"]).to_numpy()
    agents = est["agents"].to_numpy(dtype=float)
    aht = est["aht_s"].to_numpy()
    target = est["target_s"].to_numpy()
    # pyworkforce refuses load >= agents (openwfm returns the limit, 0), so both take the
    # stable hours; openwfm is timed on the same hours, in one vectorised call
    stable = traffic < agents
    offered = est["offered"].to_numpy()[stable]
    with timed() as timing:
        theirs = []
        for count, h, t, n in zip(
            offered, aht[stable], target[stable], agents[stable], strict=True
        ):
            model = ErlangC(transactions=float(count), aht=float(h), asa=float(t), interval=3600)
            theirs.append(model.service_level(positions=int(n), scale_positions=False))
    theirs_s = timing.wall_s
    theirs = np.clip(np.asarray(theirs, dtype=float), 0, 1)
    # steady state, as for the peer's loop: the first call loads the compiled kernel
    queueing.service_level(traffic[stable], agents[stable], aht[stable], target[stable])
    with timed() as timing:
        ours = np.asarray(
            queueing.service_level(traffic[stable], agents[stable], aht[stable], target[stable])
        )
    ours_s = timing.wall_s
    diff = np.abs(ours - theirs)
    print(
        f"\npeer pyworkforce ErlangC on {len(est):,} queue-hours: max |SL difference| on the "
        f"{stable.sum():,} stable hours {diff.max():.2e}; time openwfm {ours_s * 1e3:.1f} ms, "
        f"pyworkforce {theirs_s * 1e3:.0f} ms, ratio {theirs_s / max(ours_s, 1e-9):.0f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
