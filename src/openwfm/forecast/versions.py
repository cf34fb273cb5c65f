"""Immutable forecast versions in the DuckDB store.

Every forecast and re-forecast can be kept as a *version*: ``id, parent, created, method,
horizon`` plus its rows (``interval_start, queue, forecast, bounds, aht_s``). A version is
written once and never changed: the id is derived from the content (rows, method, horizon,
parent), saving the same content again returns the same id, and no code path updates or deletes
a version. A re-forecast names its parent, so the chain from the day-ahead forecast a schedule
was built on to every intraday update stays readable, and accuracy is scored against the exact
version a plan used (:meth:`ForecastVersions.score`).

Tables (created on first use, beside the interactions table of
:class:`~openwfm.data.store.InteractionStore`): ``forecast_versions`` and
``forecast_version_rows``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from openwfm.errors import ParameterError, StoreError

VERSIONS = "forecast_versions"
ROWS = "forecast_version_rows"
VALUE_COLUMNS = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95", "aht_s")


def rows_digest(rows: pd.DataFrame) -> str:
    """SHA-256 (hex) of normalised forecast rows: finds the version a forecast file came from."""
    hashed = pd.util.hash_pandas_object(_normalise(rows), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def version_id(rows: pd.DataFrame, method: str, horizon: str, parent: str | None) -> str:
    """Content id: ``fv-`` + 16 hex digits of the SHA-256 of the rows and metadata."""
    digest = hashlib.sha256(f"{method}|{horizon}|{parent or ''}|{rows_digest(rows)}".encode())
    return "fv-" + digest.hexdigest()[:16]


class ForecastVersions:
    """Forecast versions in the store at ``path`` (a DuckDB file or ``":memory:"``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._store = None

    def _con(self):
        if self._store is None:
            from openwfm.data.store import InteractionStore

            self._store = InteractionStore(self.path)
            con = self._store.connection()
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {VERSIONS} (id VARCHAR PRIMARY KEY, parent VARCHAR, "
                "created TIMESTAMP, method VARCHAR, horizon VARCHAR, n_rows BIGINT, "
                "rows_sha VARCHAR)"
            )
            values = ", ".join(f"{c} DOUBLE" for c in VALUE_COLUMNS)
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {ROWS} (version_id VARCHAR, "
                f"interval_start TIMESTAMP, queue VARCHAR, {values}, "
                "PRIMARY KEY (version_id, queue, interval_start))"
            )
        return self._store.connection()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> ForecastVersions:
        self._con()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def save(
        self,
        forecast: pd.DataFrame,
        method: str,
        horizon: str,
        parent: str | None = None,
        created: pd.Timestamp | None = None,
    ) -> str:
        """Store ``forecast`` as a new version and return its id (existing id: unchanged).

        ``horizon`` says what the version covers (e.g. ``"14d"``, ``"intraday 1999-07-01T12:00"``).
        ``parent`` must be a stored version id. Nothing is written when anything fails.
        """
        rows = _normalise(forecast)
        con = self._con()
        if parent is not None and not self.exists(parent):
            raise ParameterError(f"parent version {parent!r} is not in the store", field="parent")
        vid = version_id(rows, method, str(horizon), parent)
        if self.exists(vid):
            return vid
        created = pd.Timestamp.now(tz="UTC").tz_localize(None) if created is None else created
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                f"INSERT INTO {VERSIONS} VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    vid,
                    parent,
                    created.to_pydatetime(),
                    method,
                    str(horizon),
                    len(rows),
                    rows_digest(rows),
                ],
            )
            frame = rows.assign(version_id=vid)[["version_id", *rows.columns]]
            con.register("_fv_rows", frame)
            con.execute(f"INSERT INTO {ROWS} SELECT * FROM _fv_rows")
            con.unregister("_fv_rows")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return vid

    def exists(self, vid: str) -> bool:
        found = self._con().execute(f"SELECT 1 FROM {VERSIONS} WHERE id = ?", [vid]).fetchone()
        return found is not None

    def find(self, forecast: pd.DataFrame) -> str | None:
        """Id of the newest version with exactly these rows (any metadata), or None."""
        found = (
            self._con()
            .execute(
                f"SELECT id FROM {VERSIONS} WHERE rows_sha = ? ORDER BY created DESC LIMIT 1",
                [rows_digest(forecast)],
            )
            .fetchone()
        )
        return None if found is None else str(found[0])

    def list(self) -> pd.DataFrame:
        """Every version (``id, parent, created, method, horizon, n_rows, rows_sha``), oldest
        first."""
        return self._con().execute(f"SELECT * FROM {VERSIONS} ORDER BY created, id").df()

    def get(self, vid: str) -> pd.DataFrame:
        """The rows of version ``vid`` (StoreError when unknown)."""
        if not self.exists(vid):
            raise StoreError(f"no forecast version {vid!r}", file=self.path, field="version")
        frame = (
            self._con()
            .execute(
                f"SELECT * EXCLUDE (version_id) FROM {ROWS} WHERE version_id = ? "
                "ORDER BY queue, interval_start",
                [vid],
            )
            .df()
        )
        return frame.dropna(axis=1, how="all")

    def score(self, vid: str, actuals: pd.DataFrame) -> pd.DataFrame:
        """WAPE and bias of version ``vid`` per queue against ``interval_start, queue, offered``.

        Only intervals present in both are scored; ``n`` counts them.
        """
        rows = self.get(vid)
        acts = actuals[["interval_start", "queue", "offered"]].copy()
        acts["interval_start"] = pd.to_datetime(acts["interval_start"])
        acts["queue"] = acts["queue"].astype(str)
        both = rows.merge(acts, on=["interval_start", "queue"], how="inner")
        grouped = both.assign(
            abs_error=(both["forecast"] - both["offered"]).abs(),
            error=both["forecast"] - both["offered"],
        ).groupby("queue")
        total = grouped["offered"].sum()
        return pd.DataFrame(
            {
                "n": grouped.size(),
                "wape": grouped["abs_error"].sum() / total,
                "bias": grouped["error"].sum() / total,
            }
        ).reset_index()


def _normalise(forecast: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("interval_start", "queue", "forecast") if c not in forecast.columns]
    if missing:
        raise ParameterError(f"missing column(s) {', '.join(missing)}", field="forecast")
    rows = pd.DataFrame(
        {
            "interval_start": pd.to_datetime(forecast["interval_start"]).to_numpy(),
            "queue": forecast["queue"].astype(str).to_numpy(),
        }
    )
    for column in VALUE_COLUMNS:
        values = forecast[column] if column in forecast.columns else np.nan
        rows[column] = pd.to_numeric(pd.Series(values, index=forecast.index)).to_numpy(float)
    return rows.sort_values(["queue", "interval_start"], kind="stable").reset_index(drop=True)
