"""Re-planning the rest of the day, with the past fixed.

Proposals, each one change to one agent's shift of the day, found greedily in this order and
each scored *on top of the ones before it*:

1. **break moves**: a break or lunch that has not started yet moves inside its template window
   (never before ``as_of``, in template order, without overlapping another break), to where
   the projected service level gains most;
2. **overtime** (only while the projected rest-of-day service level is below target): a shift
   that has not ended is extended to a longer length its template and contract allow, or an
   agent with no shift today is called in for a shift starting from ``as_of`` (kind
   ``call_in``: template start, allowed length, breaks at the start of their windows), best
   gain per paid minute first;
3. **voluntary time off** (never on a day that got overtime; only where the projection stays
   at or above target + ``vto_margin`` in every interval the agent would leave): a shift
   ends early at a shorter allowed length (not before ``as_of``), least loss first.

The score is the expected number of contacts answered within target over the rest of the day,
``sum_i F_i SL_i(n_i)`` per queue, Erlang A per interval (:mod:`openwfm.queueing`), with
``F_i`` the intraday-updated forecast and ``n_i`` the agents on line of the changed schedule.

Every proposal's schedule goes through the schedule stage's independent rule checker
(:func:`openwfm.schedule.check.check_schedule`) over the whole horizon given; one that adds a
hard violation is dropped (counted in ``ReplanResult.rejected``). Accepting proposals
(:func:`accept_proposals`) returns a **new version** of the shifts table (``version`` + 1);
the caller keeps the old one, nothing is changed in place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openwfm.errors import DataError, ParameterError
from openwfm.intraday.shift_rows import call_in_rows, format_breaks, parse_breaks
from openwfm.model import Scenario
from openwfm.queueing import erlang_a
from openwfm.schedule.check import check_schedule
from openwfm.schedule.rules import OPEN_CONTRACT

PROPOSAL_COLUMNS = [
    "proposal_id",
    "kind",
    "agent",
    "detail",
    "paid_minutes_change",
    "projected_sl_before",
    "projected_sl_after",
    "gain_contacts_within_target",
    "breaks",
    "shift_end",
    "paid_minutes",
    "shift_start",
    "shift_type",
]


@dataclass
class _Day:
    """Vectorised state of the search: per queue the forecast, AHT and agents on line."""

    grid: pd.DatetimeIndex  # future interval starts
    step: pd.Timedelta
    queues: list[str]
    volume: np.ndarray  # [q, i] contacts per interval
    aht: np.ndarray  # [q, i]
    patience: np.ndarray  # [q]
    target_s: np.ndarray  # [q]
    target_sl: np.ndarray  # [q]
    shares: dict[str, np.ndarray] = field(default_factory=dict)  # agent -> [q]

    def cover(self, start, end, breaks) -> np.ndarray:
        """Fraction of each future interval the shift is on line (breaks cut out)."""
        edges = np.append(self.grid.asi8, (self.grid[-1] + self.step).value)
        spans = [(start.value, end.value, 1.0)] + [(b[0].value, b[1].value, -1.0) for b in breaks]
        total = np.zeros(len(self.grid))
        for lo, hi, sign in spans:
            total += sign * np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None)
        return np.clip(total / self.step.value, 0.0, 1.0)

    def score(self, agents: np.ndarray) -> tuple[float, np.ndarray]:
        """(expected contacts answered within target, SL per [q, i]) for agents [q, i]."""
        interval_s = self.step.total_seconds()
        result = erlang_a(
            self.volume / interval_s,
            self.aht,
            self.patience[:, None],
            agents,
            self.target_s[:, None],
            with_asa=False,
        )
        sl = np.asarray(result.service_level)
        return float(np.sum(self.volume * sl)), sl

    def rest_sl(self, agents: np.ndarray) -> float:
        total = self.volume.sum()
        return self.score(agents)[0] / total if total > 0 else float("nan")


@dataclass
class ReplanResult:
    """``proposals`` (:data:`PROPOSAL_COLUMNS`, in the order found), ``rejected`` (proposals
    dropped because the rule checker found a new hard violation), and the projected rest-of-
    day service level before any change and with every proposal."""

    proposals: pd.DataFrame
    rejected: int
    sl_before: float
    sl_all_accepted: float
    intervals: pd.DataFrame | None = None


def _interval_table(day: _Day, before: np.ndarray, after: np.ndarray) -> pd.DataFrame:
    """Per queue x remaining interval: agents on line and projected SL, now and with every
    proposal."""
    parts = []
    for q, queue in enumerate(day.queues):
        parts.append(
            pd.DataFrame(
                {
                    "interval_start": day.grid,
                    "queue": queue,
                    "forecast": day.volume[q],
                    "agents_before": before[q],
                    "agents_after": after[q],
                    "projected_sl_before": day.score(before)[1][q],
                    "projected_sl_after": day.score(after)[1][q],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _build_day(forecast_day: pd.DataFrame, scenario: Scenario, as_of, step) -> _Day:
    rows = forecast_day[pd.to_datetime(forecast_day["interval_start"]) >= as_of.ceil(step)]
    grid = pd.DatetimeIndex(sorted(pd.to_datetime(rows["interval_start"]).unique()))
    if not len(grid):
        raise ParameterError("nothing left of the day after as_of", field="as_of")
    queues = sorted(set(rows["queue"].astype(str)))
    volume = np.zeros((len(queues), len(grid)))
    aht = np.zeros_like(volume)
    column = "forecast_updated" if "forecast_updated" in rows.columns else "forecast"
    for q, name in enumerate(queues):
        spec = scenario.queue(name)
        part = rows[rows["queue"].astype(str) == name].set_index("interval_start")
        volume[q] = part[column].reindex(grid).fillna(0.0).to_numpy(float)
        aht[q] = spec.aht_s
        if "aht_s_updated" in part.columns:
            aht[q] = part["aht_s_updated"].reindex(grid).fillna(spec.aht_s).to_numpy(float)
    specs = [scenario.queue(q) for q in queues]
    return _Day(
        grid,
        step,
        queues,
        volume,
        aht,
        np.array([s.patience_s or np.inf for s in specs], dtype=float),
        np.array([s.target.within_s for s in specs]),
        np.array([s.target.service_level for s in specs]),
    )


def _shares(agent_name: str, scenario: Scenario, queues: list[str]) -> np.ndarray:
    agent = next((a for a in scenario.all_agents() if a.name == agent_name), None)
    if agent is None:
        raise DataError(
            f"unknown agent {agent_name!r} (not in the scenario)", file="shifts", field="agent"
        )
    live = [q for q in agent.skills if q in queues]
    share = np.zeros(len(queues))
    for q in live:
        share[queues.index(q)] = 1.0 / len(live)
    return share


class _Search:
    """The greedy search over one day's shifts (module doc)."""

    def __init__(self, shifts_day, horizon, scenario, day: _Day, as_of, start, days):
        self.scenario, self.day, self.as_of = scenario, day, as_of
        self.horizon, self.start, self.days = horizon.copy(), start, days
        self.rows = {r["agent"]: dict(r) for r in shifts_day.to_dict("records")}
        for row in self.rows.values():
            row["shift_start"] = pd.Timestamp(row["shift_start"])
            row["shift_end"] = pd.Timestamp(row["shift_end"])
            row["_breaks"] = parse_breaks(row.get("breaks"), row["shift_start"])
        self.templates = {t.name: t for t in scenario.schedule.shift_templates}
        contracts = {c.name: c for c in scenario.contracts}
        self.contract = {
            a.name: contracts.get(a.contract, OPEN_CONTRACT) for a in scenario.all_agents()
        }
        self.share = {a: _shares(a, scenario, day.queues) for a in self.rows}
        self.cover = {a: self._cover(r) for a, r in self.rows.items()}
        self.agents = sum(np.outer(self.share[a], self.cover[a]) for a in self.rows)
        if isinstance(self.agents, int):
            self.agents = np.zeros_like(day.volume)
        self.base_hard = self._hard(self.horizon)
        self.rejected = 0
        self.proposals: list[dict] = []

    def _cover(self, row) -> np.ndarray:
        return self.day.cover(row["shift_start"], row["shift_end"], row["_breaks"])

    def _hard(self, shifts) -> set:
        table = check_schedule(shifts, self.scenario, self.start, self.days)
        table = table[table["hard"]]
        return set(
            zip(table["rule"], table["agent"], table["period"], table["detail"], strict=True)
        )

    def _with_row(self, agent, row) -> pd.DataFrame:
        """The horizon with the agent's row of that day replaced (or added: a call-in)."""
        horizon = self.horizon.copy()
        date = pd.Timestamp(row["date"]).date()
        mask = (horizon["agent"] == agent) & (pd.to_datetime(horizon["date"]).dt.date == date)
        if not mask.any():
            added = {c: row.get(c) for c in horizon.columns}
            added["breaks"] = format_breaks(row["_breaks"])
            return pd.concat([horizon, pd.DataFrame([added])], ignore_index=True)
        for key in ("breaks", "shift_end", "paid_minutes"):
            value = format_breaks(row["_breaks"]) if key == "breaks" else row[key]
            horizon.loc[mask, key] = value
        return horizon

    def _try(self, agent, row, kind, detail, minutes) -> bool:
        """Score ``row`` as a proposal; keep it if the checker adds no hard violation."""
        new_cover = self._cover(row)
        agents = self._agents_with(agent, new_cover)
        before, _ = self.day.score(self.agents)
        after, _ = self.day.score(agents)
        horizon = self._with_row(agent, row)
        if self._hard(horizon) - self.base_hard:
            self.rejected += 1
            return False
        total = self.day.volume.sum()
        self.proposals.append(
            {
                "proposal_id": f"p{len(self.proposals) + 1}",
                "kind": kind,
                "agent": agent,
                "detail": detail,
                "paid_minutes_change": minutes,
                "projected_sl_before": before / total,
                "projected_sl_after": after / total,
                "gain_contacts_within_target": after - before,
                "breaks": format_breaks(row["_breaks"]),
                "shift_end": row["shift_end"],
                "paid_minutes": row["paid_minutes"],
                "shift_start": row["shift_start"],
                "shift_type": row["shift_type"],
            }
        )
        self.rows[agent], self.cover[agent], self.agents, self.horizon = (
            row,
            new_cover,
            agents,
            horizon,
        )
        return True

    def break_moves(self, passes: int = 2) -> None:
        step = self.day.step
        for _ in range(passes):
            moved = False
            for agent, row in self.rows.items():
                template = self.templates.get(row["shift_type"])
                if template is None:
                    continue
                windows = sorted(
                    [
                        b
                        for b in template.breaks
                        if b.min_shift_length_min
                        <= int((row["shift_end"] - row["shift_start"]).total_seconds() // 60)
                    ],
                    key=lambda b: b.earliest_after_start_min,
                )
                for k, (b_start, b_end, name) in enumerate(row["_breaks"]):
                    if b_start < self.as_of or k >= len(windows):
                        continue
                    best = self._best_break(agent, row, k, windows[k], step)
                    if best is not None:
                        new = {**row, "_breaks": [list(b) for b in row["_breaks"]]}
                        length = b_end - b_start
                        new["_breaks"][k] = [best, best + length, name]
                        detail = f"{name} {b_start:%H:%M} -> {best:%H:%M}"
                        if self._try(agent, new, "break_move", detail, 0):
                            row = new
                            moved = True
            if not moved:
                return

    def _best_break(self, agent, row, k, window, step):
        breaks = row["_breaks"]
        b_start, b_end, _ = breaks[k]
        length = b_end - b_start
        lo = row["shift_start"] + pd.Timedelta(minutes=window.earliest_after_start_min)
        hi = row["shift_start"] + pd.Timedelta(minutes=window.latest_after_start_min)
        earliest = max(lo, self.as_of.ceil(step), breaks[k - 1][1] if k else lo)
        latest = min(hi, (breaks[k + 1][0] - length) if k + 1 < len(breaks) else hi)
        offsets = pd.date_range(row["shift_start"], hi, freq=step)
        candidates = [c for c in offsets if earliest <= c <= latest and c != b_start]
        if not candidates:
            return None
        base, _ = self.day.score(self.agents)
        best, best_gain = None, 1e-6
        for candidate in candidates:
            trial = [list(b) for b in breaks]
            trial[k] = [candidate, candidate + length, trial[k][2]]
            cover = self.day.cover(row["shift_start"], row["shift_end"], trial)
            gain = self.day.score(self._agents_with(agent, cover))[0] - base
            if gain > best_gain:
                best, best_gain = candidate, gain
        return best

    def _lengths(self, agent, row) -> list[int]:
        template = self.templates.get(row["shift_type"])
        if template is None:
            return []
        allowed = set(template.lengths_min)
        contract = self.contract.get(agent, OPEN_CONTRACT)
        if contract.shift_lengths_min:
            allowed &= set(contract.shift_lengths_min)
        return sorted(allowed)

    def _agents_with(self, agent, cover: np.ndarray) -> np.ndarray:
        """Agents per queue x interval if ``agent`` covered ``cover`` instead of its shift."""
        return self.agents + np.outer(self.share[agent], cover - self.cover[agent])

    def _resizes(self, blocked: set):
        """(agent, length, resized row, change in paid minutes) for each allowed length of each
        shift not over yet, but the (agent, length) pairs in ``blocked``."""
        for agent, row in self.rows.items():
            if row["shift_end"] <= self.as_of:
                continue
            for length in self._lengths(agent, row):
                if (agent, length) not in blocked:
                    yield (agent, length, *self._resized(row, length))

    def _resized(self, row, length: int):
        new = {**row, "_breaks": [list(b) for b in row["_breaks"]]}
        old_length = int((row["shift_end"] - row["shift_start"]).total_seconds() // 60)
        new["shift_end"] = row["shift_start"] + pd.Timedelta(minutes=length)
        new["paid_minutes"] = int(row["paid_minutes"]) + (length - old_length)
        return new, length - old_length

    def overtime(self, limit: int) -> None:
        blocked: set = set()
        for _ in range(limit * 3):
            if sum(p["kind"] == "overtime" for p in self.proposals) >= limit:
                return
            if self.day.rest_sl(self.agents) >= float(
                np.average(self.day.target_sl, weights=self.day.volume.sum(axis=1) + 1e-12)
            ):
                return
            best = None
            base = self.day.score(self.agents)[0]
            for agent, length, new, extra in self._resizes(blocked):
                if extra <= 0:
                    continue
                agents = self._agents_with(agent, self._cover(new))
                rate = (self.day.score(agents)[0] - base) / extra
                if rate > 1e-9 and (best is None or rate > best[0]):
                    best = (rate, agent, new, extra, length)
            best = self._best_call_in(base, blocked, best)
            if best is None:
                return
            _, agent, new, extra, length = best
            if agent not in self.rows:
                detail = (
                    f"call in {new['shift_type']} {new['shift_start']:%H:%M}-"
                    f"{new['shift_end']:%H:%M} (+{extra} min)"
                )
                kind = "call_in"
            else:
                old_end = self.rows[agent]["shift_end"]
                detail = f"extend {old_end:%H:%M} -> {new['shift_end']:%H:%M} (+{extra} min)"
                kind = "overtime"
            if not self._try(agent, new, kind, detail, extra):
                blocked.add((agent, length))

    def _best_call_in(self, base: float, blocked: set, best):
        """The best call-in of an agent with no shift today (one per skill set and contract:
        identical agents gain the same), against the best extension found so far."""
        seen = set()
        for agent in self.scenario.all_agents():
            key = (tuple(sorted(agent.skills.items())), agent.contract)
            if agent.name in self.rows or key in seen:
                continue
            seen.add(key)
            share = self.share.get(agent.name)
            if share is None:
                share = self.share[agent.name] = _shares(agent.name, self.scenario, self.day.queues)
                self.cover[agent.name] = np.zeros(len(self.day.grid))
            if not share.any():
                continue
            contract = self.contract.get(agent.name, OPEN_CONTRACT)
            for row in call_in_rows(
                agent, self.templates.values(), contract, self.as_of, self.day.step
            ):
                length = int((row["shift_end"] - row["shift_start"]).total_seconds() // 60)
                if (agent.name, ("call_in", row["shift_start"], length)) in blocked:
                    continue
                cover = self._cover(row)
                gain = self.day.score(self.agents + np.outer(share, cover))[0] - base
                rate = gain / max(int(row["paid_minutes"]), 1)
                if rate > 1e-9 and (best is None or rate > best[0]):
                    best = (
                        rate,
                        agent.name,
                        row,
                        int(row["paid_minutes"]),
                        ("call_in", row["shift_start"], length),
                    )
        return best

    def vto(self, limit: int, margin: float) -> None:
        blocked: set = set()
        for _ in range(limit * 3):
            if sum(p["kind"] == "vto" for p in self.proposals) >= limit:
                return
            best = None
            base = self.day.score(self.agents)[0]
            for agent, length, new, change in self._resizes(blocked):
                if change >= 0 or new["shift_end"] < self.as_of:
                    continue
                if any(b[1] > new["shift_end"] for b in new["_breaks"]):
                    continue
                cover = self._cover(new)
                score, sl = self.day.score(self._agents_with(agent, cover))
                affected = (cover < self.cover[agent])[None, :] & (self.day.volume > 0)
                floor = np.broadcast_to(self.day.target_sl[:, None] + margin, sl.shape)
                if np.any(sl[affected] < floor[affected]):
                    continue
                loss = (base - score) / -change
                if best is None or loss < best[0]:
                    best = (loss, agent, new, change, length)
            if best is None:
                return
            _, agent, new, change, length = best
            old_end = self.rows[agent]["shift_end"]
            detail = f"leave {new['shift_end']:%H:%M} instead of {old_end:%H:%M} ({change} min)"
            if not self._try(agent, new, "vto", detail, change):
                blocked.add((agent, length))


def replan(
    shifts: pd.DataFrame,
    scenario: Scenario,
    forecast_day: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str,
    horizon_start: dt.date | None = None,
    horizon_days: int | None = None,
    interval_minutes: int | None = None,
    max_overtime: int = 10,
    max_vto: int = 10,
    vto_margin: float = 0.05,
) -> ReplanResult:
    """Proposals for the rest of ``as_of``'s day (module doc).

    ``shifts``: the scheduler's shifts table over its horizon (agent, date, shift_type,
    shift_start, shift_end, paid_minutes, breaks); the rule checker runs over
    ``horizon_start`` .. + ``horizon_days`` (default: the dates in ``shifts``).
    ``forecast_day``: the day's forecast (``interval_start, queue, forecast`` or the
    outlook's ``forecast_updated`` [``aht_s_updated``]) on ``interval_minutes`` intervals
    (default: the scenario's grid).
    """
    if scenario.schedule is None:
        raise ParameterError(
            "the scenario has no schedule section (shift templates)", field="schedule"
        )
    as_of = pd.Timestamp(as_of)
    step = pd.Timedelta(minutes=interval_minutes or scenario.grid.interval_minutes)
    table = shifts.copy()
    table["shift_start"] = pd.to_datetime(table["shift_start"])
    table["shift_end"] = pd.to_datetime(table["shift_end"])
    dates = pd.to_datetime(table["date"]).dt.date
    start = horizon_start or dates.min()
    days = horizon_days or (dates.max() - start).days + 1
    today = table[dates == as_of.date()]
    day = _build_day(forecast_day, scenario, as_of, step)
    search = _Search(today, table, scenario, day, as_of, start, days)
    sl_before = day.rest_sl(search.agents)
    agents_before = search.agents.copy()
    search.break_moves()
    search.overtime(max_overtime)
    if not any(p["kind"] in ("overtime", "call_in") for p in search.proposals):
        search.vto(max_vto, vto_margin)
    proposals = pd.DataFrame(search.proposals, columns=PROPOSAL_COLUMNS)
    return ReplanResult(
        proposals,
        search.rejected,
        sl_before,
        day.rest_sl(search.agents),
        _interval_table(day, agents_before, search.agents),
    )


def accept_proposals(
    shifts: pd.DataFrame,
    proposals: pd.DataFrame,
    accepted: list[str] | None,
    scenario: Scenario,
) -> pd.DataFrame:
    """A new version of ``shifts`` with the ``accepted`` proposal ids applied in their order
    (None: all). Raises DataError for an unknown id, or when the combination adds a hard rule
    violation (the old version is returned to nobody changed: ``shifts`` is not modified)."""
    ids = list(proposals["proposal_id"]) if accepted is None else list(accepted)
    unknown = sorted(set(ids) - set(proposals["proposal_id"]))
    if unknown:
        raise DataError(f"unknown proposal {unknown[0]!r}", field="accept")
    new = shifts.copy()
    new["shift_start"] = pd.to_datetime(new["shift_start"])
    new["shift_end"] = pd.to_datetime(new["shift_end"])
    version = int(new["version"].max()) if "version" in new.columns else 1
    for row in proposals[proposals["proposal_id"].isin(ids)].itertuples(index=False):
        day = pd.Timestamp(row.shift_start).normalize()
        mask = (new["agent"] == row.agent) & (new["shift_start"].dt.normalize() == day)
        if row.kind == "call_in":
            agent = next(a for a in scenario.all_agents() if a.name == row.agent)
            added = {
                "agent": row.agent,
                "team": agent.team,
                "contract": agent.contract,
                "date": pd.Timestamp(row.shift_start).date(),
                "shift_type": row.shift_type,
                "shift_start": pd.Timestamp(row.shift_start),
                "shift_end": pd.Timestamp(row.shift_end),
                "paid_minutes": int(row.paid_minutes),
                "breaks": row.breaks,
            }
            added = {k: v for k, v in added.items() if k in new.columns}
            new = pd.concat([new, pd.DataFrame([added])], ignore_index=True)
        elif not mask.any():
            raise DataError(
                f"proposal {row.proposal_id} changes a shift of {row.agent} that this version "
                "does not have (accept the call-in it builds on too)",
                field="accept",
            )
        elif row.kind == "break_move":
            new.loc[mask, "breaks"] = row.breaks
        else:
            new.loc[mask, "shift_end"] = pd.Timestamp(row.shift_end)
            new.loc[mask, "paid_minutes"] = int(row.paid_minutes)
    dates = pd.to_datetime(new["date"]).dt.date
    start, days = dates.min(), (dates.max() - dates.min()).days + 1
    before = check_schedule(
        shifts.assign(
            shift_start=pd.to_datetime(shifts["shift_start"]),
            shift_end=pd.to_datetime(shifts["shift_end"]),
        ),
        scenario,
        start,
        days,
    )
    after = check_schedule(new, scenario, start, days)
    added = set(map(tuple, after[after["hard"]][["rule", "agent", "period"]].to_numpy())) - set(
        map(tuple, before[before["hard"]][["rule", "agent", "period"]].to_numpy())
    )
    if added:
        rule, agent, period = sorted(added)[0]
        raise DataError(
            f"accepting these proposals breaks rule {rule} for {agent} on {period}", field="accept"
        )
    new["version"] = version + 1
    return new
