"""Repeat-contact (FCR) rates on the Anonymous Bank, against an independent pandas count."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import require_shared_data
from openwfm.data.readers import read_anonymous_bank
from openwfm.data.store import InteractionStore
from openwfm.quality.fcr import fcr_rates, repeat_flags
from openwfm.quality.imports import anonymous_bank_customers, import_customers
from openwfm.quality.store import QualityStore


@pytest.fixture(scope="module")
def bank():
    """The raw files read once: (our rates via the store, the raw records)."""
    folder = require_shared_data("anonymous-bank") / "raw"
    paths = sorted(folder.glob("*.txt"))
    store = InteractionStore(":memory:")
    store.ingest(pd.concat([read_anonymous_bank(p) for p in paths], ignore_index=True))
    quality = QualityStore(store)
    import_customers(quality, pd.concat([anonymous_bank_customers(p) for p in paths]))
    flags = repeat_flags(quality.contacts_with_customers(), days=(1, 7))
    raw = pd.concat([pd.read_csv(p, sep="\t", dtype=str) for p in paths], ignore_index=True)
    yield flags, raw
    store.close()


def independent_rates(raw: pd.DataFrame, days: int) -> tuple[pd.Series, pd.Series]:
    """Straight from the raw columns: candidates are AGENT records with a server; a repeat is a
    later AGENT record or HANG with queue time, of the same numeric customer id, within days."""
    clock = pd.to_timedelta(raw["vru_exit"].str.strip())
    entry = pd.to_timedelta(raw["vru_entry"].str.strip())
    moment = pd.to_datetime(raw["date"].str.strip(), format="%y%m%d") + clock
    moment = moment + pd.to_timedelta(
        ((clock - entry) < pd.Timedelta(hours=-12)).astype(int), unit="D"
    )
    customer = raw["customer_id"].str.strip()
    identified = customer.str.fullmatch(r"\d+") & (customer.str.lstrip("0") != "")
    server = raw["server"].str.strip().str.replace("NO_SERVERAMA", "NAAMA")
    server = server.str.replace("ANO_SERVERT", "ANAT")
    outcome = raw["outcome"].str.strip()
    offered = (outcome == "AGENT") | ((outcome == "HANG") & (raw["q_time"].astype(int) > 0))
    calls = pd.DataFrame({"customer": customer, "t": moment, "server": server})[identified]
    later = calls[offered[identified]][["customer", "t"]].rename(columns={"t": "t_next"})
    served = calls[(outcome[identified] == "AGENT") & (server[identified] != "NO_SERVER")]
    matched = pd.merge_asof(
        served.sort_values("t"),
        later.assign(t=later["t_next"]).sort_values("t"),
        on="t", by="customer", direction="forward", allow_exact_matches=False,
    )  # fmt: skip
    repeated = (matched["t_next"] - matched["t"]) <= pd.Timedelta(days=days)
    per_agent = repeated.groupby(matched["server"]).mean()
    return pd.Series({"contacts": len(matched), "rate": repeated.mean()}), per_agent


@pytest.mark.parametrize("days", [1, 7])
def test_repeat_rates_equal_an_independent_count(bank, days):
    flags, raw = bank
    expected_overall, expected_agents = independent_rates(raw, days)
    overall = fcr_rates(flags).iloc[0]
    assert overall["contacts"] == expected_overall["contacts"]
    assert overall[f"repeat_rate_{days}d"] == pytest.approx(expected_overall["rate"], abs=1e-12)
    agents = fcr_rates(flags, by=["agent"]).set_index("agent")[f"repeat_rate_{days}d"]
    pd.testing.assert_series_equal(
        agents.sort_index(), expected_agents.sort_index(), check_names=False, rtol=0, atol=1e-12
    )
    assert "NO_SERVERAMA" not in agents.index and len(agents) > 25
    assert 0.2 < overall[f"repeat_rate_{days}d"] < 0.9
