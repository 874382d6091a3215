"""Questions the lead list answers: a page of a tab, the counts per tab, the leads in a stage.

Tabs (docs/intake.md, "Read models"):
- archived:    status converted, closed_invalid or disqualified, or merged into another lead;
- marketplace: type customer_inquiry, not qualified, not archived;
- qualified:   status qualified, or type marketing_qualified or sales_qualified, not archived;
- favorites:   favorited by the requesting user, not archived;
- all:         every lead, archived ones included.
Voided leads are in no tab unless `include_voided`; deleted leads are in none, ever.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from leadflow_shared import views
from leadflow_shared.readstore import ReadStore, Tx
from leadflow_shared.views import encode_cursor

from .lead_list import iso
from .schema import FAVORITES, LEAD_COLUMNS, LEADS, TEAM_MEMBERS

Tab = Literal["all", "marketplace", "qualified", "favorites", "archived"]
TABS: tuple[Tab, ...] = ("all", "marketplace", "qualified", "favorites", "archived")
QUALIFIED_TYPES = ("marketing_qualified", "sales_qualified")
MAX_LIMIT = 200

_TAB_CONDITIONS: dict[str, str] = {
    "all": "1 = 1",
    "marketplace": "l.lead_type = 'customer_inquiry' AND l.status <> 'qualified' AND l.archived = 0",
    "qualified": f"(l.status = 'qualified' OR l.lead_type IN ({', '.join(repr(t) for t in QUALIFIED_TYPES)}))"
    " AND l.archived = 0",
    "favorites": "f.lead_id IS NOT NULL AND l.archived = 0",
    "archived": "l.archived = 1",
}


class InvalidQuery(ValueError):
    """A parameter the lead list cannot use (the API answers 422 with this reason)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class LeadFilters:
    """Filters shared by a page and its counts. Lists mean "any of"; empty means "no filter"."""

    status: tuple[str, ...] = ()
    lead_type: tuple[str, ...] = ()
    stage_id: tuple[str, ...] = ()
    owner_id: tuple[str, ...] = ()
    team_id: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    campaign_id: tuple[str, ...] = ()
    created_from: datetime | None = None
    """Inclusive lower bound on received_at."""
    created_to: datetime | None = None
    """Exclusive upper bound on received_at."""
    q: str | None = None
    """Case-insensitive substring of the contact's first/last name or the company name."""
    include_voided: bool = False
    managed_teams: tuple[str, ...] = ()
    """The caller manages these teams: only leads placed in one of them, or owned by one of their
    members (as assignment's published membership says), are listed."""

    def __post_init__(self) -> None:
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidQuery(name, "needs a timezone (e.g. 2026-11-01T00:00:00Z)")
        if self.created_from and self.created_to and self.created_from >= self.created_to:
            raise InvalidQuery("created_to", "must be after created_from")

    def where(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (
            ("status", self.status),
            ("lead_type", self.lead_type),
            ("stage_id", self.stage_id),
            ("owner_id", self.owner_id),
            ("team_id", self.team_id),
            ("source", self.source),
            ("campaign_id", self.campaign_id),
        ):
            if values:
                clauses.append(f"l.{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.created_from is not None:
            clauses.append("l.received_at >= ?")
            params.append(iso(self.created_from))
        if self.created_to is not None:
            clauses.append("l.received_at < ?")
            params.append(iso(self.created_to))
        if self.q:
            clauses.append("l.search_text LIKE ? ESCAPE '\\'")
            params.append(f"%{_escape_like(self.q.casefold())}%")
        if not self.include_voided:
            clauses.append("l.voided = 0")
        if self.managed_teams:
            marks = ", ".join("?" * len(self.managed_teams))
            clauses.append(
                f"(l.team_id IN ({marks}) OR l.owner_id IN "
                f"(SELECT m.seller_id FROM {TEAM_MEMBERS} m WHERE m.team_id IN ({marks})))"
            )
            params.extend(self.managed_teams * 2)
        return clauses, params

    def fingerprint(self, tab: str, user_id: str) -> str:
        """Ties a cursor to the query it came from."""
        canonical = json.dumps({**asdict(self), "tab": tab, "user": user_id}, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LeadPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    counts: dict[str, int]
    tab: str
    limit: int


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[str, str]:
    try:
        return views.decode_cursor(cursor, fingerprint)
    except views.InvalidCursor as exc:
        raise InvalidQuery("cursor", str(exc)) from None


_SELECT_COLUMNS = ", ".join(f"l.{c}" for c in LEAD_COLUMNS)


class LeadList:
    """Reads of the lead list. Newest first: ordered by (received_at, lead_id) descending."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def page(
        self, *, filters: LeadFilters, tab: str = "all", user_id: str, limit: int = 50, cursor: str | None = None
    ) -> LeadPage:
        if tab not in TABS:
            raise InvalidQuery("tab", f"unknown tab {tab!r}; one of {', '.join(TABS)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_LIMIT}")
        fingerprint = filters.fingerprint(tab, user_id)
        clauses, params = filters.where()
        page_clauses, page_params = [*clauses, _TAB_CONDITIONS[tab]], list(params)
        if cursor:
            received_at, lead_id = decode_cursor(cursor, fingerprint)
            page_clauses.append("(l.received_at < ? OR (l.received_at = ? AND l.lead_id < ?))")
            page_params += [received_at, received_at, lead_id]
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT {_SELECT_COLUMNS}, f.lead_id FROM {LEADS} l "
                f"LEFT JOIN {FAVORITES} f ON f.lead_id = l.lead_id AND f.user_id = ? "
                f"WHERE {' AND '.join(page_clauses)} "
                "ORDER BY l.received_at DESC, l.lead_id DESC LIMIT ?",
                [user_id, *page_params, limit + 1],
            )
            counts = self._counts(tx, clauses, params, user_id)
        items = [_item(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(last["received_at"], last["lead_id"], fingerprint)
        return LeadPage(items=items, next_cursor=next_cursor, counts=counts, tab=tab, limit=limit)

    def counts(self, *, filters: LeadFilters, user_id: str) -> dict[str, int]:
        clauses, params = filters.where()
        with self.store.transaction(write=False) as tx:
            return self._counts(tx, clauses, params, user_id)

    def _counts(self, tx: Tx, clauses: list[str], params: list[Any], user_id: str) -> dict[str, int]:
        sums = ", ".join(f"SUM(CASE WHEN {_TAB_CONDITIONS[t]} THEN 1 ELSE 0 END)" for t in TABS)
        found = tx.fetchone(
            f"SELECT {sums} FROM {LEADS} l "
            f"LEFT JOIN {FAVORITES} f ON f.lead_id = l.lead_id AND f.user_id = ? "
            f"WHERE {' AND '.join(clauses) or '1 = 1'}",
            [user_id, *params],
        )
        return {tab: int(n or 0) for tab, n in zip(TABS, found or (), strict=True)}

    def leads_in_stage(self, stage_id: str) -> list[UUID]:
        """Every lead (voided and archived too) whose stage is `stage_id`."""
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(f"SELECT lead_id FROM {LEADS} WHERE stage_id = ? ORDER BY lead_id", (stage_id,))
        return [UUID(r[0]) for r in rows]

    def teams_of(self, seller_id: str) -> frozenset[str]:
        """The teams a seller is in, as assignment last published."""
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(f"SELECT team_id FROM {TEAM_MEMBERS} WHERE seller_id = ?", (seller_id,))
        return frozenset(r[0] for r in rows)

    def favorites_of(self, user_id: str) -> list[UUID]:
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT lead_id FROM {FAVORITES} WHERE user_id = ? ORDER BY favorited_at, lead_id", (user_id,)
            )
        return [UUID(r[0]) for r in rows]


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    """One lead as the list shows it."""
    data = dict(zip(LEAD_COLUMNS, row[:-1], strict=True))
    data.pop("search_text")
    for name in ("contact", "company", "possible_duplicates", "absorbed"):
        data[name] = json.loads(data[name])
    data["voided"] = bool(data["voided"])
    data["archived"] = bool(data["archived"])
    data["type"] = data.pop("lead_type")
    data["favorite"] = row[-1] is not None
    return data
