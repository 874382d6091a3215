"""The revenue-stage activity log and the stage intervals the Success Path Analyzer reads, and
the progress and per-lead results of Change Revenue Stage runs.

- `revenue_activity`: one row per logged stage change (the approved model's; a stage-approved
  model's changes are not logged), newest first per lead and per model.
- `revenue_intervals`: one row per stay of a lead in a stage, logged or not: entered, exited,
  seconds, the stage it went to, and for an SLA stage when the limit falls due and when the stay
  was settled (exited, or the limit passed: whichever is later). Open stays have no exit.
- `revenue_daily_in`, `revenue_daily_out`, `revenue_daily_sla`: the same stays counted per UTC
  day and stage, for the Success Path Analyzer (analysis.py).
- `revenue_runs`, `revenue_run_results`: each run's figures and each lead's outcome.

Times are UTC text with microseconds (text order is time order on SQLite and PostgreSQL alike).
Every row is derived from events alone: a rebuilt read model equals the live one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from leadflow_shared.readstore import ReadStore, Tx
from leadflow_shared.views import InvalidCursor, utc_text

from ..domain.revenue import LeadStage, StageChangeRun

Position: Any = LeadStage
Run: Any = StageChangeRun

ACTIVITY = "revenue_activity"
INTERVALS = "revenue_intervals"
DAILY_IN = "revenue_daily_in"
DAILY_OUT = "revenue_daily_out"
DAILY_SLA = "revenue_daily_sla"
RUNS = "revenue_runs"
RESULTS = "revenue_run_results"
TABLES = (ACTIVITY, INTERVALS, DAILY_IN, DAILY_OUT, DAILY_SLA, RUNS, RESULTS)

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {ACTIVITY} (
        entry_id TEXT PRIMARY KEY,
        model_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        lead_id TEXT NOT NULL,
        at TEXT NOT NULL,
        from_stage TEXT,
        to_stage TEXT,
        reason TEXT NOT NULL,
        detail TEXT,
        actor TEXT,
        campaign TEXT,
        manual INTEGER NOT NULL,
        sort_key TEXT NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS {ACTIVITY}_model ON {ACTIVITY} (model_id, generation, sort_key)",
    f"CREATE INDEX IF NOT EXISTS {ACTIVITY}_lead ON {ACTIVITY} (lead_id, sort_key)",
    f"""CREATE TABLE IF NOT EXISTS {INTERVALS} (
        position_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        model_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        lead_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        entered_at TEXT NOT NULL,
        exited_at TEXT,
        seconds REAL,
        next_stage TEXT,
        sla_due_at TEXT,
        sla_settled_at TEXT,
        PRIMARY KEY (position_id, version)
    )""",
    f"CREATE INDEX IF NOT EXISTS {INTERVALS}_in_model ON {INTERVALS} (model_id, generation, exited_at)",
    f"CREATE INDEX IF NOT EXISTS {INTERVALS}_due ON {INTERVALS} (model_id, generation, sla_due_at)",
    f"CREATE INDEX IF NOT EXISTS {INTERVALS}_settled ON {INTERVALS} (model_id, generation, sla_settled_at, stage)",
    f"CREATE INDEX IF NOT EXISTS {INTERVALS}_open ON {INTERVALS} (position_id, exited_at)",
    # Per UTC day and stage (the analyzer folds days into periods): stays begun; stays ended, by
    # where they went, with their seconds; SLA limits falling due, met before (left in time), and
    # stays settled (left, or past the limit, whichever was later).
    f"""CREATE TABLE IF NOT EXISTS {DAILY_IN} (
        model_id TEXT NOT NULL, generation INTEGER NOT NULL, stage TEXT NOT NULL, day TEXT NOT NULL,
        n INTEGER NOT NULL, PRIMARY KEY (model_id, generation, stage, day)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {DAILY_OUT} (
        model_id TEXT NOT NULL, generation INTEGER NOT NULL, stage TEXT NOT NULL, day TEXT NOT NULL,
        next_stage TEXT NOT NULL, n INTEGER NOT NULL, seconds REAL NOT NULL,
        PRIMARY KEY (model_id, generation, stage, day, next_stage)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {DAILY_SLA} (
        model_id TEXT NOT NULL, generation INTEGER NOT NULL, stage TEXT NOT NULL, day TEXT NOT NULL,
        due INTEGER NOT NULL, met INTEGER NOT NULL, settled INTEGER NOT NULL,
        PRIMARY KEY (model_id, generation, stage, day)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {RUNS} (
        run_id TEXT PRIMARY KEY,
        model_id TEXT NOT NULL,
        to_stage TEXT,
        from_stage TEXT,
        purpose TEXT NOT NULL,
        actor TEXT,
        total INTEGER NOT NULL,
        scanned INTEGER NOT NULL,
        moved INTEGER NOT NULL,
        skipped INTEGER NOT NULL,
        refused INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT
    )""",
    f"CREATE INDEX IF NOT EXISTS {RUNS}_open ON {RUNS} (finished_at)",
    f"""CREATE TABLE IF NOT EXISTS {RESULTS} (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        lead_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        PRIMARY KEY (run_id, seq)
    )""",
)

ACTIVITY_COLUMNS: tuple[str, ...] = ("entry_id", "model_id", "generation", "lead_id", "at", "from_stage", "to_stage")
ACTIVITY_COLUMNS += ("reason", "detail", "actor", "campaign", "manual", "sort_key")
RUN_COLUMNS: tuple[str, ...] = ("run_id", "model_id", "to_stage", "from_stage", "purpose", "actor", "total")
RUN_COLUMNS += ("scanned", "moved", "skipped", "refused", "started_at", "finished_at")


class RevenueProjection:
    name = "revenue"
    event_classes: Sequence[type[Any]] = (
        Position.StageChanged,
        Run.Started,
        Run.PageDone,
        Run.Finished,
    )

    def create(self, tx: Tx) -> None:
        for ddl in _DDL:
            tx.execute(ddl)

    def drop(self, tx: Tx) -> None:
        for table in TABLES:
            tx.execute(f"DROP TABLE IF EXISTS {table}")

    def counts(self, tx: Tx) -> dict[str, int]:
        return {table: int(tx.fetchone(f"SELECT COUNT(*) FROM {table}")[0]) for table in TABLES}  # type: ignore[index]

    def apply(self, tx: Tx, events: Sequence[Any]) -> None:
        activity: list[tuple[Any, ...]] = []
        entered: list[list[Any]] = []
        runs: dict[str, Any] = {}
        daily = Daily()
        open_stays: dict[str, list[Any]] = {}
        for e in events:
            if isinstance(e, Position.StageChanged):
                self._stage_changed(tx, e, entered, open_stays, daily)
                if e.logged:
                    activity.append(_activity_row(e))
            elif isinstance(e, Run.Started):
                runs[str(e.originator_id)] = self._run_started(e)
            elif isinstance(e, Run.PageDone):
                self._page_done(tx, e, runs)
            elif isinstance(e, Run.Finished):
                run = self._run(tx, runs, str(e.originator_id))
                if run is not None:
                    run["finished_at"] = utc_text(e.at)
        if entered:
            self._flush_entered(tx, entered)
        daily.flush(tx)
        if activity:
            tx.executemany(
                f"INSERT INTO {ACTIVITY} ({', '.join(ACTIVITY_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(ACTIVITY_COLUMNS))}) ON CONFLICT (entry_id) DO NOTHING",
                activity,
            )
        for run in runs.values():
            if run is not None:
                tx.execute(
                    f"INSERT INTO {RUNS} ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))}) "
                    "ON CONFLICT (run_id) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in RUN_COLUMNS if c != "run_id"),
                    [run[c] for c in RUN_COLUMNS],
                )

    def _stage_changed(
        self, tx: Tx, e: Any, entered: list[list[Any]], open_stays: dict[str, list[Any]], daily: Daily
    ) -> None:
        position_id = str(e.originator_id)
        at = utc_text(e.at)
        if e.from_stage is not None:
            # The open stay may still be in this batch's pending inserts.
            row = open_stays.pop(position_id, None)
            if row is None:
                found = tx.fetchone(
                    f"SELECT version, model_id, generation, lead_id, stage, entered_at, sla_due_at FROM {INTERVALS} "
                    "WHERE position_id = ? AND exited_at IS NULL ORDER BY version DESC LIMIT 1",
                    (position_id,),
                )
                if found is not None:
                    version, model_id, generation, lead_id, stage, entered_at, due = found
                    row = [position_id, version, model_id, generation, lead_id, stage, entered_at]
                    row += [None, None, None, due, None]
                    _close(row, e, at, daily)
                    tx.execute(
                        f"UPDATE {INTERVALS} SET exited_at = ?, seconds = ?, next_stage = ?, sla_settled_at = ? "
                        "WHERE position_id = ? AND version = ?",
                        (row[7], row[8], row[9], row[11], position_id, version),
                    )
            else:
                _close(row, e, at, daily)
        if e.to_stage is not None:
            row = [position_id, e.originator_version, str(e.model_id), e.generation, str(e.lead_id), e.to_stage, at]
            row += [None, None, None, utc_text(e.sla_due_at), None]
            entered.append(row)
            open_stays[position_id] = row
            daily.entered(row)

    def _flush_entered(self, tx: Tx, entered: list[list[Any]]) -> None:
        tx.executemany(
            f"INSERT INTO {INTERVALS} (position_id, version, model_id, generation, lead_id, stage, entered_at, "
            "exited_at, seconds, next_stage, sla_due_at, sla_settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (position_id, version) DO NOTHING",
            entered,
        )

    def _run_started(self, e: Any) -> dict[str, Any]:
        return {
            "run_id": str(e.originator_id),
            "model_id": str(e.model_id),
            "to_stage": e.to_stage,
            "from_stage": e.from_stage,
            "purpose": e.purpose,
            "actor": e.actor,
            "total": e.total,
            "scanned": 0,
            "moved": 0,
            "skipped": 0,
            "refused": 0,
            "started_at": utc_text(e.at),
            "finished_at": None,
        }

    def _run(self, tx: Tx, runs: dict[str, Any], run_id: str) -> dict[str, Any] | None:
        if run_id not in runs:
            found = tx.fetchone(f"SELECT {', '.join(RUN_COLUMNS)} FROM {RUNS} WHERE run_id = ?", (run_id,))
            runs[run_id] = dict(zip(RUN_COLUMNS, found, strict=True)) if found else None
        run: dict[str, Any] | None = runs[run_id]
        return run

    def _page_done(self, tx: Tx, e: Any, runs: dict[str, Any]) -> None:
        run = self._run(tx, runs, str(e.originator_id))
        if run is None:
            return
        done = run["moved"] + run["skipped"] + run["refused"]
        run["scanned"] += e.scanned
        for _, outcome, _reason in e.results:
            run[str(outcome)] += 1
        tx.executemany(
            f"INSERT INTO {RESULTS} (run_id, seq, lead_id, outcome, reason) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id, seq) DO NOTHING",
            [(run["run_id"], done + i, r[0], r[1], r[2]) for i, r in enumerate(e.results, start=1)],
        )


def _close(row: list[Any], e: Any, at: str | None, daily: Daily) -> None:
    """Close an open stay (row in INTERVALS column order) at the change `e`."""
    row[7] = at
    row[8] = max(0.0, (e.at - datetime.fromisoformat(row[6])).total_seconds())
    row[9] = e.to_stage
    due = row[10]
    row[11] = None if due is None else max(due, at)
    daily.left(row)


class Daily:
    """The day-by-day counts one batch adds, written with one upsert per table."""

    def __init__(self) -> None:
        self.came: dict[tuple[Any, ...], int] = defaultdict(int)
        self.went: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0])
        self.sla: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])

    def entered(self, row: list[Any]) -> None:
        key = (row[2], row[3], row[5])
        self.came[(*key, row[6][:10])] += 1
        if row[10] is not None:
            self.sla[(*key, row[10][:10])][0] += 1

    def left(self, row: list[Any]) -> None:
        key = (row[2], row[3], row[5])
        out = self.went[(*key, row[7][:10], row[9] or "")]
        out[0] += 1
        out[1] += row[8]
        due = row[10]
        if due is not None:
            if row[7] < due:
                self.sla[(*key, due[:10])][1] += 1  # left in time
            self.sla[(*key, row[11][:10])][2] += 1

    def flush(self, tx: Tx) -> None:
        key = "model_id, generation, stage, day"
        if self.came:
            tx.executemany(
                f"INSERT INTO {DAILY_IN} ({key}, n) VALUES (?, ?, ?, ?, ?) "
                f"ON CONFLICT ({key}) DO UPDATE SET n = {DAILY_IN}.n + excluded.n",
                [(*k, n) for k, n in self.came.items()],
            )
        if self.went:
            tx.executemany(
                f"INSERT INTO {DAILY_OUT} ({key}, next_stage, n, seconds) VALUES (?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT ({key}, next_stage) DO UPDATE SET n = {DAILY_OUT}.n + excluded.n, "
                f"seconds = {DAILY_OUT}.seconds + excluded.seconds",
                [(*k, int(n), s) for k, (n, s) in self.went.items()],
            )
        if self.sla:
            tx.executemany(
                f"INSERT INTO {DAILY_SLA} ({key}, due, met, settled) VALUES (?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT ({key}) DO UPDATE SET due = {DAILY_SLA}.due + excluded.due, "
                f"met = {DAILY_SLA}.met + excluded.met, settled = {DAILY_SLA}.settled + excluded.settled",
                [(*k, *v) for k, v in self.sla.items()],
            )


def _activity_row(e: Any) -> tuple[Any, ...]:
    return (
        str(uuid5(e.originator_id, str(e.originator_version))),
        str(e.model_id),
        e.generation,
        str(e.lead_id),
        utc_text(e.at),
        e.from_stage,
        e.to_stage,
        e.reason,
        e.detail,
        e.actor,
        e.campaign,
        1 if e.manual else 0,
        # time, then the lead's own order (a pass through a gate is two changes in one instant)
        f"{utc_text(e.at)}|{e.originator_version:010d}|{e.originator_id}",
    )


class RevenueQueries:
    """Reads of the revenue read model (the API's and the use cases')."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def leads_in_model(self, model_id: UUID, generation: int) -> int:
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(
                f"SELECT COUNT(*) FROM {INTERVALS} WHERE model_id = ? AND generation = ? AND exited_at IS NULL",
                (str(model_id), generation),
            )
        return int(found[0]) if found else 0

    def activity(
        self,
        *,
        lead_id: UUID | None = None,
        model_id: UUID | None = None,
        generation: int | None = None,
        stage: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """Logged stage changes, newest first, one page (`next_cursor` for the next one)."""
        where: list[str] = []
        params: list[Any] = []
        equals: tuple[tuple[str, Any], ...] = (("lead_id", lead_id), ("model_id", model_id), ("generation", generation))
        for column, value in equals:
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value) if isinstance(value, UUID) else value)
        if stage is not None:
            where.append("(from_stage = ? OR to_stage = ?)")
            params += [stage, stage]
        for column, value in (("reason", reason), ("actor", actor)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(utc_text(since))
        if until is not None:
            where.append("at < ?")
            params.append(utc_text(until))
        fingerprint = hashlib.sha256(repr((where, params)).encode()).hexdigest()[:16]
        if cursor is not None:
            where.append("sort_key < ?")
            params.append(_decode(cursor, fingerprint))
        sql = f"SELECT {', '.join(ACTIVITY_COLUMNS)} FROM {ACTIVITY}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY sort_key DESC LIMIT ?"
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(sql, (*params, limit + 1))
        items = [dict(zip(ACTIVITY_COLUMNS, r, strict=True)) for r in rows[:limit]]
        for item in items:
            item["manual"] = bool(item["manual"])
            last_key = item.pop("sort_key")
        more = len(rows) > limit
        return {"items": items, "next_cursor": _encode(last_key, fingerprint) if more else None}

    def open_runs(self) -> list[UUID]:
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(f"SELECT run_id FROM {RUNS} WHERE finished_at IS NULL ORDER BY started_at")
        return [UUID(r[0]) for r in rows]

    def run(self, run_id: UUID, *, outcome: str | None, after: int, limit: int) -> dict[str, Any] | None:
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(f"SELECT {', '.join(RUN_COLUMNS)} FROM {RUNS} WHERE run_id = ?", (str(run_id),))
            if found is None:
                return None
            sql = f"SELECT seq, lead_id, outcome, reason FROM {RESULTS} WHERE run_id = ? AND seq > ?"
            params: list[Any] = [str(run_id), after]
            if outcome is not None:
                sql += " AND outcome = ?"
                params.append(outcome)
            rows = tx.fetchall(sql + " ORDER BY seq LIMIT ?", (*params, limit + 1))
        run = dict(zip(RUN_COLUMNS, found, strict=True))
        results = [{"seq": r[0], "lead_id": r[1], "outcome": r[2], "reason": r[3]} for r in rows[:limit]]
        return run | {"results": results, "next_after": results[-1]["seq"] if len(rows) > limit else None}


def _encode(sort_key: str, fingerprint: str) -> str:
    raw = json.dumps({"k": sort_key, "f": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, fingerprint: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        sort_key, made_for = str(data["k"]), data["f"]
        datetime.fromisoformat(sort_key.split("|", 1)[0])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidCursor("not a cursor this list returned") from None
    if made_for != fingerprint:
        raise InvalidCursor("belongs to different filters; start again without it")
    return sort_key
