"""Redials estimated from caller records, and Erlang X in the model fidelity table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openwfm.errors import ParameterError
from openwfm.validate.fidelity import predict_hours
from openwfm.validate.redials import estimate_redials, read_anonymous_bank_callers

HEADER = (
    "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\t"
    "q_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver"
)


def _row(customer, start, queue_s, outcome, call_id):
    return (
        f"AA0101\t{call_id}\t{customer}\t1\tPS\t990104\t{start}\t{start}\t10\t{start}\t{start}\t"
        f"{queue_s}\t{outcome}\t0:00:00\t0:00:00\t0\tNO_SERVER"
    )


@pytest.fixture()
def records(tmp_path):
    rows = [
        _row(11, "10:00:00", 50, "HANG", 1),  # abandons at 10:01:00 ...
        _row(11, "10:11:00", 0, "AGENT", 2),  # ... calls again 600 s later
        _row(12, "10:05:00", 30, "HANG", 3),  # abandons, never calls again
        _row(13, "11:00:00", 50, "HANG", 4),  # abandons at 11:01:00 ...
        _row(13, "13:01:00", 0, "AGENT", 5),  # ... calls again two hours later
        _row(0, "12:00:00", 40, "HANG", 6),  # unidentified: not counted
        _row(0, "12:01:00", 0, "AGENT", 7),
        _row("6.02701E+11", "12:00:00", 40, "HANG", 8),  # mangled id: unidentified
        _row(14, "12:30:00", 0, "HANG", 9),  # hung up in the VRU: not an abandon
        _row(14, "12:31:00", 0, "AGENT", 10),
    ]
    path = tmp_path / "01_January.txt"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_redial_probability_and_retry_time_from_the_same_customer(records):
    callers = read_anonymous_bank_callers([records])
    assert callers["customer_id"].tolist()[:3] == [11, 11, 12]
    assert callers["customer_id"].iloc[7] == 0
    assert int(callers["abandoned"].sum()) == 5
    hour = estimate_redials(callers, window_s=3_600)
    assert hour["abandons"] == 3 and hour["redials"] == 1
    assert hour["retrial_probability"] == pytest.approx(1 / 3)
    assert hour["retry_mean_s"] == pytest.approx(600.0)
    day = estimate_redials(callers, window_s=86_400)
    assert day["retrial_probability"] == pytest.approx(2 / 3)
    assert day["retry_mean_s"] == pytest.approx((600.0 + 7_200.0) / 2)
    with pytest.raises(ParameterError, match="window_s"):
        estimate_redials(callers, window_s=0)


def _estimates():
    starts = pd.date_range("1999-01-04 10:00", periods=4, freq="h")
    return pd.DataFrame(
        {
            "interval_start": starts,
            "queue": "PS",
            "offered": [40, 55, 30, 60],
            "answered": [36, 48, 29, 50],
            "answered_within_target": [30, 35, 27, 38],
            "abandoned": [4, 7, 1, 10],
            "arrival_rate_per_s": np.array([40, 55, 30, 60]) / 3600,
            "aht_s": [180.0, 170.0, 200.0, 160.0],
            "agents": [3.0, 3.0, 2.0, 4.0],
            "target_s": 60.0,
            "patience_s": [300.0, 250.0, 400.0, 200.0],
            "service_level": [0.75, 0.64, 0.9, 0.63],
            "asa_s": [20.0, 35.0, 8.0, 40.0],
            "abandon_rate": [0.1, 0.127, 0.033, 0.167],
        }
    )


def test_erlang_x_sits_beside_erlang_a_in_the_fidelity_table():
    estimates = _estimates()
    with pytest.raises(ParameterError, match="redials"):
        predict_hours(estimates, models=["erlang_x"])
    none = {"retrial_probability": 0.0, "retry_mean_s": 600.0}
    table = predict_hours(estimates, models=["erlang_a", "erlang_x"], redials=none)
    wide = table.pivot_table(
        index=["interval_start", "metric"], columns="model", values="predicted"
    )
    # without redials Erlang X is Erlang A
    np.testing.assert_allclose(wide["erlang_x"], wide["erlang_a"], rtol=1e-9)
    some = {"retrial_probability": 0.45, "retry_mean_s": 900.0}
    table = predict_hours(estimates, models=["erlang_a", "erlang_x"], redials=some)
    x = table[table["model"] == "erlang_x"]
    assert set(x["metric"]) == {"service_level", "asa_s", "abandon_rate"}
    assert np.all(np.isfinite(x["predicted"]))
    assert (x["predicted"] >= 0).all()
    rates = x.loc[x["metric"] != "asa_s", "predicted"]
    assert (rates <= 1).all()
