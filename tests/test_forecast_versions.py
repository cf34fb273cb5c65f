"""Immutable forecast versions in the DuckDB store."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from openwfm.errors import ParameterError, StoreError
from openwfm.forecast.versions import ForecastVersions


def table(scale: float = 1.0) -> pd.DataFrame:
    starts = pd.date_range("2024-05-06 08:00", periods=6, freq="30min")
    return pd.DataFrame(
        {"interval_start": starts, "queue": "sales", "forecast": scale * np.arange(1.0, 7.0)}
    )


def test_a_version_is_never_overwritten(tmp_path):
    path = tmp_path / "store.duckdb"
    with ForecastVersions(path) as versions:
        first = versions.save(table(), "profile", "14d")
        assert versions.save(table(), "profile", "14d") == first  # same content: same id
        update = versions.save(table(1.5), "ratio_shrunk", "intraday", parent=first)
        assert update != first
        np.testing.assert_allclose(versions.get(first)["forecast"], table()["forecast"])
        np.testing.assert_allclose(versions.get(update)["forecast"], 1.5 * table()["forecast"])
        listed = versions.list().set_index("id")
        assert listed.loc[update, "parent"] == first
        assert listed.loc[first, "n_rows"] == 6
        assert versions.find(table(1.5)) == update
        with pytest.raises(ParameterError, match="parent"):
            versions.save(table(2.0), "x", "1d", parent="fv-unknown")
        with pytest.raises(StoreError, match="no forecast version"):
            versions.get("fv-unknown")
        score = versions.score(first, table(1.1).rename(columns={"forecast": "offered"}))
        assert score.loc[0, "wape"] == pytest.approx(0.1 / 1.1)
    # the database itself refuses a second row under an existing id
    con = duckdb.connect(str(path))
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO forecast_versions (id, method) VALUES (?, 'other')", [first])
    con.close()
    with ForecastVersions(path) as versions:
        assert versions.list().set_index("id").loc[first, "method"] == "profile"
        assert len(versions.list()) == 2
