"""Quality tables kept beside the interactions in the same DuckDB store.

Tables (created on first use, through the :class:`~openwfm.data.store.InteractionStore`'s
connection; the interactions table itself is never altered):

- ``eval_form(form, version, scoring, fingerprint, definition)``: every form version used;
  a stored version never changes meaning (same fingerprint or an error).
- ``evaluation(evaluation_id, interaction_id, agent, evaluator, form, version, evaluated_at,
  score, critical_score, auto_fail, calibration_id, source)``: scores are fractions 0..1.
- ``eval_answer(evaluation_id, item, answer, points, item_score)``: ``item_score`` normalised
  0..1, NULL for N/A.
- ``survey_response(interaction_id, kind, value, agent, responded_at, attributed_by, source)``:
  ``kind`` csat (1-5), ces (customer effort, 1-7) or nps (0-10).
- ``interaction_customer(interaction_id, customer_key)``: hashed customer id per interaction,
  the key of repeat-contact (first-contact resolution) measures.

Every write is one transaction after the whole input has been checked: a bad row anywhere
stores nothing. Rows whose key is already stored are skipped (re-importing adds nothing).
"""

from __future__ import annotations

import pandas as pd

from openwfm.data.store import InteractionStore
from openwfm.errors import DataError
from openwfm.quality.forms import EvaluationForm

SURVEY_SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}

_DDL = (
    "CREATE TABLE IF NOT EXISTS eval_form (form VARCHAR, version INTEGER, scoring VARCHAR, "
    "fingerprint VARCHAR, definition VARCHAR, PRIMARY KEY (form, version))",
    "CREATE TABLE IF NOT EXISTS evaluation (evaluation_id VARCHAR PRIMARY KEY, "
    "interaction_id VARCHAR, agent VARCHAR, evaluator VARCHAR, form VARCHAR, version INTEGER, "
    "evaluated_at TIMESTAMP, score DOUBLE, critical_score DOUBLE, auto_fail BOOLEAN, "
    "calibration_id VARCHAR, source VARCHAR)",
    "CREATE TABLE IF NOT EXISTS eval_answer (evaluation_id VARCHAR, item VARCHAR, "
    "answer VARCHAR, points DOUBLE, item_score DOUBLE, PRIMARY KEY (evaluation_id, item))",
    "CREATE TABLE IF NOT EXISTS survey_response (interaction_id VARCHAR, kind VARCHAR, "
    "value DOUBLE, agent VARCHAR, responded_at TIMESTAMP, attributed_by VARCHAR, "
    "source VARCHAR, PRIMARY KEY (interaction_id, kind))",
    "CREATE TABLE IF NOT EXISTS interaction_customer (interaction_id VARCHAR PRIMARY KEY, "
    "customer_key VARCHAR)",
)

EVALUATION_COLUMNS = [
    "evaluation_id",
    "interaction_id",
    "agent",
    "evaluator",
    "form",
    "version",
    "evaluated_at",
    "score",
    "critical_score",
    "auto_fail",
    "calibration_id",
    "source",
]
ANSWER_COLUMNS = ["evaluation_id", "item", "answer", "points", "item_score"]
SURVEY_COLUMNS = [
    "interaction_id",
    "kind",
    "value",
    "agent",
    "responded_at",
    "attributed_by",
    "source",
]


class QualityStore:
    """Quality tables in an :class:`InteractionStore` (which owns and closes the connection)."""

    def __init__(self, store: InteractionStore) -> None:
        self.store = store
        self._ready = False

    def _con(self):
        con = self.store.connection()
        if not self._ready:
            for statement in _DDL:
                con.execute(statement)
            self._ready = True
        return con

    # lookups ------------------------------------------------------------------------------
    def handled_by(self, interaction_ids) -> pd.DataFrame:
        """interaction_id, agent, queue, segment, arrival_time of the given stored ids."""
        con = self._con()
        ids = pd.DataFrame({"interaction_id": pd.Series(list(interaction_ids), dtype=str)})
        con.register("wanted_ids", ids)
        try:
            return con.execute(
                "SELECT i.interaction_id, i.agent, i.queue, i.segment, i.arrival_time "
                "FROM interactions i SEMI JOIN wanted_ids w ON w.interaction_id = i.interaction_id"
            ).df()
        finally:
            con.unregister("wanted_ids")

    def agents(self) -> set[str]:
        """Agents who handled at least one stored interaction."""
        rows = self._con().execute(
            "SELECT DISTINCT agent FROM interactions WHERE agent IS NOT NULL"
        )
        return {row[0] for row in rows.fetchall()}

    def form(self, name: str, version: int) -> EvaluationForm | None:
        row = (
            self._con()
            .execute(
                "SELECT definition FROM eval_form WHERE form = ? AND version = ?", [name, version]
            )
            .fetchall()
        )
        row = row[0] if row else None
        return None if row is None else EvaluationForm.model_validate_json(row[0])

    def check_form(self, form: EvaluationForm, where: str) -> None:
        """A stored (form, version) must have the same definition (bump ``version`` instead)."""
        row = (
            self._con()
            .execute(
                "SELECT fingerprint FROM eval_form WHERE form = ? AND version = ?",
                [form.form, form.version],
            )
            .fetchall()
        )
        row = row[0] if row else None
        if row is not None and row[0] != form.fingerprint():
            raise DataError(
                f"form {form.form!r} version {form.version} is stored with another definition "
                "(give the changed form a new version)",
                file=where,
                field="version",
            )

    # writing ------------------------------------------------------------------------------
    def _insert(self, table: str, frame: pd.DataFrame, key: list[str]) -> int:
        """Insert the rows of ``frame`` whose key is not stored yet; returns rows added."""
        con = self._con()
        con.register("incoming", frame)
        try:
            on = " AND ".join(f"t.{k} = n.{k}" for k in key)
            before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            con.execute(
                f"INSERT INTO {table} SELECT n.* FROM incoming n ANTI JOIN {table} t ON {on}"
            ).fetchall()
            return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before
        finally:
            con.unregister("incoming")

    def write(self, tables: dict[str, tuple[pd.DataFrame, list[str]]]) -> dict[str, int]:
        """Insert several tables in one transaction: {table: (frame, key columns)} -> added."""
        con = self._con()
        con.execute("BEGIN TRANSACTION")
        try:
            added = {name: self._insert(name, frame, key) for name, (frame, key) in tables.items()}
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return added

    def add_form(self, form: EvaluationForm) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "form": form.form,
                    "version": form.version,
                    "scoring": form.scoring,
                    "fingerprint": form.fingerprint(),
                    "definition": form.to_json(),
                }
            ]
        )

    # reading ------------------------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        """A whole quality table (``evaluation``, ``eval_answer``, ``survey_response``, ...)."""
        if name not in {
            "eval_form",
            "evaluation",
            "eval_answer",
            "survey_response",
            "interaction_customer",
        }:
            raise DataError(f"unknown quality table {name!r}", field="table")
        return self._con().execute(f"SELECT * FROM {name}").df()

    def evaluations(self) -> pd.DataFrame:
        """Evaluations with the queue and segment of their interaction."""
        return (
            self._con()
            .execute(
                "SELECT e.*, i.queue, i.segment, i.arrival_time FROM evaluation e "
                "JOIN interactions i USING (interaction_id) ORDER BY e.evaluation_id"
            )
            .df()
        )

    def surveys(self) -> pd.DataFrame:
        """Survey responses with the queue, segment and arrival time of their interaction."""
        return (
            self._con()
            .execute(
                "SELECT s.*, i.queue, i.segment, i.arrival_time FROM survey_response s "
                "JOIN interactions i USING (interaction_id) ORDER BY s.interaction_id, s.kind"
            )
            .df()
        )

    def contacts_with_customers(self) -> pd.DataFrame:
        """Stored interactions joined to their customer key (NULL when unknown)."""
        return (
            self._con()
            .execute(
                "SELECT i.interaction_id, i.queue, i.segment, i.arrival_time, i.agent, "
                "i.outcome, i.handle_s, c.customer_key FROM interactions i "
                "LEFT JOIN interaction_customer c USING (interaction_id)"
            )
            .df()
        )
