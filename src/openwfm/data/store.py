"""The interaction store: the normalised interactions table in an embedded DuckDB file.

Ingest is *idempotent* (a row whose ``interaction_id`` is already stored is skipped, so
ingesting the same file twice adds nothing) and *atomic* (one transaction per call: a frame that
fails validation, or any error while writing, leaves the store as it was).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from openwfm.data.schema import INTERACTION_COLUMNS, Outcome
from openwfm.errors import DataError, StoreError

DEFAULT_STORE = "openwfm.duckdb"
TABLE = "interactions"

_SQL_TYPES = {
    "string": "VARCHAR",
    "datetime64[ns]": "TIMESTAMP_NS",  # lossless for pandas nanoseconds
    "float64": "DOUBLE",
}
_TIME_COLUMNS = [c for c, t in INTERACTION_COLUMNS.items() if t.startswith("datetime")]


@dataclass
class IngestResult:
    """What one :meth:`InteractionStore.ingest` did.

    ``read`` rows were given; ``added`` were new and stored; ``skipped`` were already stored;
    ``repeated`` repeated an earlier row of the same frame exactly (same id, same content; a
    repeated id with *different* content is an error). ``outcomes`` counts the *added* rows
    per outcome (every :class:`Outcome` value present, zeros included); ``sources`` the added
    rows per source.
    """

    read: int = 0
    added: int = 0
    skipped: int = 0
    repeated: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


def validate_interactions(frame: pd.DataFrame, *, where: str = "interactions") -> pd.DataFrame:
    """Check a frame against the schema and return it with the schema's columns and dtypes.

    Raises :class:`DataError` naming the column (and row, 0-based frame position) for a missing
    column, an empty id/queue/arrival time, an unknown outcome, or a negative duration.
    """
    missing = [c for c in INTERACTION_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", file=where, field=missing[0])
    try:
        frame = frame[list(INTERACTION_COLUMNS)].astype(INTERACTION_COLUMNS)
    except (ValueError, TypeError) as error:
        raise DataError(f"cannot convert to the schema dtypes ({error})", file=where) from None
    checks = [
        ("interaction_id", frame["interaction_id"].isna(), "an id"),
        ("queue", frame["queue"].isna(), "a queue name"),
        ("arrival_time", frame["arrival_time"].isna(), "an arrival time"),
        (
            "outcome",
            ~frame["outcome"].isin([o.value for o in Outcome]).fillna(False),
            "an Outcome value",
        ),
        ("wait_s", frame["wait_s"].lt(0), "wait_s >= 0"),
        ("handle_s", frame["handle_s"].lt(0), "handle_s >= 0"),
    ]
    for column, bad, expected in checks:
        bad = bad.to_numpy(dtype=bool)
        if bad.any():
            position = int(bad.nonzero()[0][0])
            raise DataError(
                f"expected {expected}, got {frame[column].iloc[position]!r} at row {position}",
                file=where,
                field=column,
            )
    return frame


def check_repeated_ids(
    frame: pd.DataFrame, *, where: str = "interactions", locations: pd.Series | None = None
) -> None:
    """DataError if one ``interaction_id`` comes with two different contents in ``frame``."""
    ids = frame["interaction_id"]
    repeated = ids.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    subset = frame[repeated]
    content = subset.drop(columns=["source"]).astype("string").fillna("\x00")
    hashes = pd.util.hash_pandas_object(content, index=False, categorize=False)
    variants = hashes.groupby(subset["interaction_id"].to_numpy()).nunique()
    conflicting = variants[variants > 1]
    if conflicting.empty:
        return
    first_id = subset["interaction_id"].isin(conflicting.index)
    first_id = subset.loc[first_id[first_id].index[0], "interaction_id"]
    rows = subset.index[subset["interaction_id"] == first_id]
    row_hashes = hashes.loc[rows]
    second = rows[(row_hashes != row_hashes.iloc[0]).to_numpy()][0]
    differ = [
        c
        for c in INTERACTION_COLUMNS
        if c not in ("interaction_id", "source")
        and str(frame.at[rows[0], c]) != str(frame.at[second, c])
    ]

    def label(position) -> str:
        if locations is not None:
            return str(locations.iloc[frame.index.get_loc(position)])
        return f"row {frame.index.get_loc(position)}"

    raise DataError(
        f"id {first_id!r} is given twice with different content: {label(rows[0])} and "
        f"{label(second)} (they differ in {', '.join(differ)}); "
        f"{len(conflicting)} id(s) conflict in all",
        file=where,
        field="interaction_id",
    )


def _check_duckdb_file(path: Path) -> None:
    """A StoreError when ``path`` holds something other than a DuckDB database (a log file
    given as the store): DuckDB's own message for a CSV is about in-memory databases."""
    if not path.is_file() or path.stat().st_size < 12:
        return
    with path.open("rb") as handle:
        head = handle.read(12)
    if head[8:12] != b"DUCK":
        raise StoreError(
            "not a DuckDB store (a log file goes to openwfm ingest, which writes the store "
            "given by --store)",
            file=str(path),
        )


class InteractionStore:
    """Interactions in a DuckDB file (``":memory:"`` for a throw-away store).

    The connection opens on first use and closes with :meth:`close` or at the end of a
    ``with`` block. One process writes at a time (DuckDB's file lock).
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._connection = None

    # connection ---------------------------------------------------------------------------
    def connection(self):
        """The store's open DuckDB connection (opened, and the interactions table checked, on
        first use). The store owns it: :meth:`close` closes it. For stages that keep tables of
        their own in the same file (:class:`openwfm.quality.store.QualityStore`); raises
        :class:`StoreError` when the file cannot be opened or is not an openwfm store."""
        if self._connection is None:
            import duckdb

            read_only = self.read_only and self.path != ":memory:"
            if self.path != ":memory:":
                parent = Path(self.path).resolve().parent
                if not parent.is_dir():
                    raise StoreError("folder does not exist", file=self.path)
                if Path(self.path).is_dir():
                    raise StoreError("is a folder, expected a DuckDB file", file=self.path)
                if read_only and not Path(self.path).exists():
                    raise StoreError("store not found (run openwfm ingest first)", file=self.path)
                _check_duckdb_file(Path(self.path))
            try:
                self._connection = duckdb.connect(self.path, read_only=read_only)
            except duckdb.Error as error:
                message = str(error).splitlines()[0]
                raise StoreError(f"cannot open the store ({message})", file=self.path) from None
            columns = ", ".join(
                f'"{c}" {_SQL_TYPES[t]}' + (" PRIMARY KEY" if c == "interaction_id" else "")
                for c, t in INTERACTION_COLUMNS.items()
            )
            try:
                if not read_only:
                    self._connection.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")
                self._check_shape()
            except BaseException:
                self.close()
                raise
        return self._connection

    def _check_shape(self) -> None:
        """StoreError unless the store's interactions table has the schema's columns."""
        rows = self._connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [TABLE],
        ).fetchall()
        found = [row[0] for row in rows]
        if not found:
            raise StoreError(f"no {TABLE} table (not an openwfm store?)", file=self.path)
        if found != list(INTERACTION_COLUMNS):
            missing = [c for c in INTERACTION_COLUMNS if c not in found]
            raise StoreError(
                f"the {TABLE} table is not openwfm's (columns {', '.join(found[:6])}"
                f"{' ...' if len(found) > 6 else ''}; missing {', '.join(missing[:4]) or '-'})",
                file=self.path,
            )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> InteractionStore:
        self.connection()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # writing ------------------------------------------------------------------------------
    def ingest(
        self,
        frame: pd.DataFrame,
        *,
        where: str = "interactions",
        locations: pd.Series | None = None,
    ) -> IngestResult:
        """Add the rows of ``frame`` whose ``interaction_id`` is not yet stored, atomically.

        An id given twice in ``frame`` with different content is a DataError naming both rows
        (``locations``: one ``file:line`` label per row; else the row positions); exact repeats
        are counted in ``repeated``. An interrupt (Ctrl-C) leaves the store as it was and
        surfaces as KeyboardInterrupt.
        """
        import duckdb

        frame = validate_interactions(frame, where=where)
        check_repeated_ids(frame, where=where, locations=locations)
        result = IngestResult(read=len(frame))
        unique = frame.drop_duplicates("interaction_id", keep="first")
        con = self.connection()
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("incoming_ids", unique[["interaction_id"]])
            known = con.execute(
                f"SELECT i.interaction_id FROM incoming_ids i "
                f"SEMI JOIN {TABLE} s ON s.interaction_id = i.interaction_id"
            ).df()["interaction_id"]
            con.unregister("incoming_ids")
            new = unique[~unique["interaction_id"].isin(known)]
            if len(new):
                con.register("incoming", new)
                con.execute(f"INSERT INTO {TABLE} SELECT * FROM incoming")
                con.unregister("incoming")
            con.execute("COMMIT")
        except BaseException as error:  # includes Ctrl-C: nothing half-written
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # the transaction already ended (an interrupt during COMMIT)
            # DuckDB reports Ctrl-C during a query as RuntimeError("Query interrupted")
            interrupted = isinstance(error, duckdb.Error | RuntimeError)
            if interrupted and "interrupted" in str(error).lower():
                raise KeyboardInterrupt from None
            raise
        result.added = len(new)
        result.repeated = result.read - len(unique)
        result.skipped = len(unique) - result.added
        counts = new["outcome"].value_counts()
        result.outcomes = {o.value: int(counts.get(o.value, 0)) for o in Outcome}
        result.sources = {str(k): int(v) for k, v in new["source"].value_counts().items()}
        return result

    # reading ------------------------------------------------------------------------------
    def interactions(
        self,
        queues: list[str] | tuple[str, ...] | None = None,
        start: dt.datetime | str | None = None,
        end: dt.datetime | str | None = None,
    ) -> pd.DataFrame:
        """Stored interactions, optionally of ``queues`` with ``start <= arrival_time < end``.

        Returned with the schema's columns and dtypes, ordered by arrival time and id.
        """
        clauses, params = [], []
        if queues is not None:
            queues = [queues] if isinstance(queues, str) else list(queues)
            if not queues:
                return self._typed(self.connection().execute(f"SELECT * FROM {TABLE} LIMIT 0").df())
            clauses.append(f"queue IN ({', '.join('?' for _ in queues)})")
            params.extend(queues)
        if start is not None:
            clauses.append("arrival_time >= ?")
            params.append(pd.Timestamp(start).to_pydatetime())
        if end is not None:
            clauses.append("arrival_time < ?")
            params.append(pd.Timestamp(end).to_pydatetime())
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM {TABLE}{where} ORDER BY arrival_time, interaction_id"
        return self._typed(self.connection().execute(query, params).df())

    @staticmethod
    def _typed(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[list(INTERACTION_COLUMNS)]
        for column in _TIME_COLUMNS:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        return frame.astype(INTERACTION_COLUMNS).reset_index(drop=True)

    def count(self, outcome: str | None = None) -> int:
        """Number of stored interactions (of one ``outcome`` if given)."""
        if outcome is None:
            return int(self.connection().execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])
        query = f"SELECT count(*) FROM {TABLE} WHERE outcome = ?"
        return int(self.connection().execute(query, [outcome]).fetchone()[0])

    def sources(self) -> pd.DataFrame:
        """One row per source file: source, interactions, first_arrival, last_arrival."""
        return (
            self.connection()
            .execute(
                f"SELECT source, count(*) AS interactions, min(arrival_time) AS first_arrival, "
                f"max(arrival_time) AS last_arrival FROM {TABLE} GROUP BY source ORDER BY source"
            )
            .df()
        )

    def queues(self) -> list[str]:
        """Names of the stored queues, sorted."""
        rows = self.connection().execute(f"SELECT DISTINCT queue FROM {TABLE} ORDER BY queue")
        return [row[0] for row in rows.fetchall()]


def replace_store(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    where: str = "interactions",
    locations: pd.Series | None = None,
) -> IngestResult:
    """Make ``path`` a store holding exactly ``frame``: built beside it, then swapped in.

    For outputs that describe one run (``plan`` and ``demo`` write ``OUT/openwfm.duckdb``): a
    second run never mixes its history with the previous one, and an error or an interrupt
    leaves the previous store as it was.
    """
    import os

    path = Path(path)
    if path.is_dir():
        raise StoreError("is a folder, expected a DuckDB file", file=str(path))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def remove_temporary() -> None:
        for leftover in (temporary, Path(f"{temporary}.wal")):
            leftover.unlink(missing_ok=True)

    remove_temporary()
    try:
        with InteractionStore(temporary) as store:
            result = store.ingest(frame, where=where, locations=locations)
        Path(f"{path}.wal").unlink(missing_ok=True)  # a log of the old file must not replay
        os.replace(temporary, path)
    finally:
        remove_temporary()
    return result
