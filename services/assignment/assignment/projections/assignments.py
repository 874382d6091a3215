"""assignment's read model: leads in arrival order with segment, status and owner; decision
counts per rule and seller; recent assignments per seller. In the read store (SQLite beside
the event store, or the service's PostgreSQL database), filled by the shared ProjectionRunner
and rebuildable from the log at any time — nothing is held in memory.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from leadflow_shared.readstore import ReadStore, Tx

from ..domain import Assignment, Seller

AssignmentEvent: Any = Assignment
SellerEvent: Any = Seller

LEADS = "assignment_rm_leads"
RULE_STATS = "assignment_rm_rule_stats"
TAKEN = "assignment_rm_taken"
TABLES = (LEADS, RULE_STATS, TAKEN)
RECENT = timedelta(days=8)
"""Assignments older than this (by event time) leave TAKEN: the load report looks back 7 days."""

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {LEADS} (
        lead_id TEXT PRIMARY KEY,
        arrival BIGINT NOT NULL,
        lead TEXT NOT NULL,
        segment TEXT,
        status TEXT NOT NULL,
        seller_id TEXT,
        team_id TEXT,
        queue_id TEXT,
        waiting_reason TEXT,
        arrived_at TEXT NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_arrival ON {LEADS} (arrival)",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_waiting ON {LEADS} (status, arrival)",
    f"""CREATE TABLE IF NOT EXISTS {RULE_STATS} (
        ruleset_version INTEGER NOT NULL,
        rule TEXT NOT NULL,
        seller_id TEXT NOT NULL,
        assigned INTEGER NOT NULL,
        eligible INTEGER NOT NULL,
        PRIMARY KEY (ruleset_version, rule, seller_id)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {TAKEN} (
        seller_id TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS {TAKEN}_seller ON {TAKEN} (seller_id, at)",
    # Pruning what is older than RECENT after every batch must not scan the table.
    f"CREATE INDEX IF NOT EXISTS {TAKEN}_at ON {TAKEN} (at)",
)

_LEAD_COLUMNS: tuple[str, ...] = ("lead_id", "arrival", "lead", "segment", "status", "seller_id", "team_id")
_LEAD_COLUMNS += ("queue_id", "waiting_reason", "arrived_at")


def _iso(value: datetime) -> str:
    """UTC, microseconds, always the same shape: text order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class AssignmentsProjection:
    """What assignment's events do to its read model (a Projection for the shared runner)."""

    name = "assignment-leads"
    event_classes: Sequence[type[Any]] = (
        AssignmentEvent.Opened,
        AssignmentEvent.LeadChanged,
        AssignmentEvent.SegmentChanged,
        AssignmentEvent.Decided,
        AssignmentEvent.Waited,
        AssignmentEvent.Released,
        SellerEvent.LeadTaken,
    )

    def create(self, tx: Tx) -> None:
        for statement in _DDL:
            tx.execute(statement)

    def drop(self, tx: Tx) -> None:
        for table in TABLES:
            tx.execute(f"DROP TABLE IF EXISTS {table}")

    def counts(self, tx: Tx) -> dict[str, int]:
        return {table: int(tx.fetchone(f"SELECT COUNT(*) FROM {table}")[0]) for table in TABLES}  # type: ignore[index]

    def apply(self, tx: Tx, events: Sequence[Any]) -> None:
        rows: dict[str, dict[str, Any] | None] = {}
        stats: Counter[tuple[int, str, str, str]] = Counter()
        taken: list[tuple[str, str]] = []
        found = tx.fetchone(f"SELECT MAX(arrival) FROM {LEADS}")
        arrival = int(found[0]) if found and found[0] is not None else 0
        newest: datetime | None = None

        def row(lead_id: str) -> dict[str, Any] | None:
            if lead_id not in rows:
                hit = tx.fetchone(f"SELECT {', '.join(_LEAD_COLUMNS)} FROM {LEADS} WHERE lead_id = ?", (lead_id,))
                rows[lead_id] = dict(zip(_LEAD_COLUMNS, hit, strict=True)) if hit else None
            return rows[lead_id]

        opened = {str(e.originator_id) for e in events if isinstance(e, AssignmentEvent.Opened)}
        wanted = [str(e.originator_id) for e in events if not isinstance(e, SellerEvent.LeadTaken)]
        wanted = [i for i in dict.fromkeys(wanted) if i not in opened]
        if wanted:
            existing = tx.fetch_in(f"SELECT {', '.join(_LEAD_COLUMNS)} FROM {LEADS} WHERE", "lead_id", wanted)
            rows.update(dict.fromkeys(wanted))
            rows.update({r[0]: dict(zip(_LEAD_COLUMNS, r, strict=True)) for r in existing})
        for e in events:
            if isinstance(e, SellerEvent.LeadTaken):
                taken.append((str(e.originator_id), _iso(e.at)))
                newest = e.at if newest is None or e.at > newest else newest
                continue
            lead_id = str(e.originator_id)
            if isinstance(e, AssignmentEvent.Opened):
                arrival += 1
                rows[lead_id] = {
                    "lead_id": lead_id,
                    "arrival": arrival,
                    "lead": json.dumps(e.lead, sort_keys=True),
                    "segment": e.segment,
                    "status": "new",
                    "seller_id": None,
                    "team_id": None,
                    "queue_id": None,
                    "waiting_reason": None,
                    "arrived_at": _iso(e.arrived_at),
                }
                continue
            current = row(lead_id)
            if current is None:
                continue
            if isinstance(e, AssignmentEvent.LeadChanged):
                current["lead"] = json.dumps(e.lead, sort_keys=True)
            elif isinstance(e, AssignmentEvent.SegmentChanged):
                current["segment"] = e.segment
            elif isinstance(e, AssignmentEvent.Decided):
                current.update(status="assigned", seller_id=e.seller_id, team_id=e.team_id, queue_id=None)
                current["waiting_reason"] = None
                _count(stats, e.explanation, e.seller_id)
            elif isinstance(e, AssignmentEvent.Waited):
                current.update(status="waiting", seller_id=None, team_id=None, queue_id=e.queue_id)
                current["waiting_reason"] = e.reason
                _count(stats, e.explanation, None)
            elif isinstance(e, AssignmentEvent.Released):
                status = "closed" if e.closed else "released"
                current.update(status=status, seller_id=None, team_id=None, queue_id=None, waiting_reason=None)

        updates = ", ".join(f"{c} = excluded.{c}" for c in _LEAD_COLUMNS if c != "lead_id")
        tx.executemany(
            f"INSERT INTO {LEADS} ({', '.join(_LEAD_COLUMNS)}) VALUES ({', '.join('?' * len(_LEAD_COLUMNS))}) "
            f"ON CONFLICT (lead_id) DO UPDATE SET {updates}",
            [[r[c] for c in _LEAD_COLUMNS] for r in rows.values() if r is not None],
        )
        tx.executemany(
            f"INSERT INTO {RULE_STATS} (ruleset_version, rule, seller_id, assigned, eligible) VALUES (?, ?, ?, ?, ?) "
            f"ON CONFLICT (ruleset_version, rule, seller_id) DO UPDATE SET "
            f"assigned = {RULE_STATS}.assigned + excluded.assigned, "
            f"eligible = {RULE_STATS}.eligible + excluded.eligible",
            _stat_rows(stats),
        )
        if taken:
            tx.executemany(f"INSERT INTO {TAKEN} (seller_id, at) VALUES (?, ?)", taken)
            if newest is not None:
                tx.execute(f"DELETE FROM {TAKEN} WHERE at < ?", (_iso(newest - RECENT),))


def _count(stats: Counter[tuple[int, str, str, str]], explanation: dict[str, Any], seller_id: str | None) -> None:
    rule = explanation.get("rule")
    if rule is None:
        return
    key = (explanation["ruleset_version"], rule["name"])
    for eligible in explanation.get("eligible") or [
        c["seller_id"] for c in explanation.get("candidates", []) if c["eligible"]
    ]:
        stats[(*key, eligible, "eligible")] += 1
    if seller_id is not None:
        stats[(*key, seller_id, "assigned")] += 1


def _stat_rows(stats: Counter[tuple[int, str, str, str]]) -> list[tuple[int, str, str, int, int]]:
    merged: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (version, rule, seller_id, kind), n in stats.items():
        merged[(version, rule, seller_id)][0 if kind == "assigned" else 1] += n
    return [(v, r, s, assigned, eligible) for (v, r, s), (assigned, eligible) in merged.items()]


class AssignmentQueries:
    """What the API, the use cases and the reports read."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def waiting_in_arrival_order(self) -> list[UUID]:
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT lead_id FROM {LEADS} WHERE status = 'waiting' AND queue_id IS NULL ORDER BY arrival"
            )
        return [UUID(r[0]) for r in rows]

    def queue(self) -> list[dict[str, Any]]:
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT lead_id, segment, arrived_at, queue_id, waiting_reason FROM {LEADS} "
                "WHERE status = 'waiting' ORDER BY arrival"
            )
        keys = ("lead_id", "segment", "arrived_at", "queue_id", "waiting_reason")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def waiting_in_queue(self, queue_id: str) -> int:
        """Leads waiting in a named queue."""
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(f"SELECT COUNT(*) FROM {LEADS} WHERE status = 'waiting' AND queue_id = ?", (queue_id,))
        return int(found[0]) if found else 0

    def unowned_in_team(self, team_id: str) -> int:
        """Open leads placed with the team that no seller owns (a team pool)."""
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(
                f"SELECT COUNT(*) FROM {LEADS} WHERE team_id = ? AND seller_id IS NULL AND status = 'assigned'",
                (team_id,),
            )
        return int(found[0]) if found else 0

    def leads_in_order(self, page: int = 1000) -> Iterator[dict[str, Any]]:
        """Every lead with its facts, oldest first, read page by page."""
        after = 0
        while True:
            with self.store.transaction(write=False) as tx:
                rows = tx.fetchall(
                    f"SELECT {', '.join(_LEAD_COLUMNS)} FROM {LEADS} WHERE arrival > ? ORDER BY arrival LIMIT ?",
                    (after, page),
                )
            for r in rows:
                item = dict(zip(_LEAD_COLUMNS, r, strict=True))
                item["lead"] = json.loads(item["lead"])
                yield item
            if len(rows) < page:
                return
            after = rows[-1][1]

    def last_arrival(self) -> int:
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(f"SELECT MAX(arrival) FROM {LEADS}")
        return int(found[0]) if found and found[0] is not None else 0

    def count_up_to(self, up_to: int) -> int:
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(f"SELECT COUNT(*) FROM {LEADS} WHERE arrival <= ?", (up_to,))
        return int(found[0]) if found else 0

    def lead_page(self, after: int, up_to: int, limit: int) -> list[dict[str, Any]]:
        """Leads that arrived after `after` and no later than `up_to`, oldest first, with facts."""
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT lead_id, arrival, lead FROM {LEADS} WHERE arrival > ? AND arrival <= ? "
                "ORDER BY arrival LIMIT ?",
                (after, up_to, limit),
            )
        return [{"lead_id": r[0], "arrival": int(r[1]), "lead": json.loads(r[2])} for r in rows]

    def arrivals(
        self, *, last: int | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[UUID]:
        """Leads that arrived in [since, until) (either end open), the last `last` of them, oldest first."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("arrived_at >= ?")
            params.append(_iso(since))
        if until is not None:
            where.append("arrived_at < ?")
            params.append(_iso(until))
        sql = f"SELECT lead_id FROM {LEADS}{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY arrival DESC"
        if last is not None:
            sql += " LIMIT ?"
            params.append(last)
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(sql, params)
        return [UUID(r[0]) for r in reversed(rows)]

    def rule_stats(self) -> dict[tuple[int, str], dict[str, Counter[str]]]:
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(f"SELECT ruleset_version, rule, seller_id, assigned, eligible FROM {RULE_STATS}")
        stats: dict[tuple[int, str], dict[str, Counter[str]]] = defaultdict(
            lambda: {"assigned": Counter(), "eligible": Counter()}
        )
        for version, rule, seller_id, assigned, eligible in rows:
            if assigned:
                stats[(version, rule)]["assigned"][seller_id] = assigned
            if eligible:
                stats[(version, rule)]["eligible"][seller_id] = eligible
        return stats

    def assigned_since(self, since: datetime) -> Counter[str]:
        """Assignments per seller aggregate id (as text) at or after `since`."""
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT seller_id, COUNT(*) FROM {TAKEN} WHERE at > ? GROUP BY seller_id", (_iso(since),)
            )
        return Counter({r[0]: int(r[1]) for r in rows})


class AssignmentReadModel:
    """The read model as the use cases and the API read it: caught up first, so a read sees
    every decision committed before it (the runner keeps it current in between)."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.queries = AssignmentQueries(runner.store)

    def waiting_in_arrival_order(self) -> list[UUID]:
        self.runner.catch_up()
        return self.queries.waiting_in_arrival_order()

    def leads_in_order(self) -> Iterator[dict[str, Any]]:
        self.runner.catch_up()
        return self.queries.leads_in_order()

    def unowned_in_team(self, team_id: str) -> int:
        self.runner.catch_up()
        return self.queries.unowned_in_team(team_id)

    def waiting_in_queue(self, queue_id: str) -> int:
        self.runner.catch_up()
        return self.queries.waiting_in_queue(queue_id)

    def last_arrival(self) -> int:
        self.runner.catch_up()
        return self.queries.last_arrival()

    def arrivals(
        self, *, last: int | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[UUID]:
        self.runner.catch_up()
        return self.queries.arrivals(last=last, since=since, until=until)

    def count_up_to(self, up_to: int) -> int:
        return self.queries.count_up_to(up_to)

    def lead_page(self, after: int, up_to: int, limit: int) -> list[dict[str, Any]]:
        return self.queries.lead_page(after, up_to, limit)

    def queue(self) -> list[dict[str, Any]]:
        self.runner.catch_up()
        return self.queries.queue()

    def load_report_queries(self) -> AssignmentQueries:
        self.runner.catch_up()
        return self.queries
