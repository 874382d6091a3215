"""Questions the referral list answers: a page of a tab, the counts per tab, the response-time
figures per partner organisation.

Tabs (docs/referral.md, "Tabs"):
- marketplace: customer inquiries (qualification `direct`) not closed;
- qualified:   marketing or sales qualified referrals not closed;
- favorites:   the requesting user's favorites, whatever their status;
- archived:    closed (won, lost, declined, expired);
- all:         every referral.
A partner's user only ever reads their own organisation's rows (`org`).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from leadflow_shared import views
from leadflow_shared.readstore import ReadStore, Tx
from leadflow_shared.views import encode_cursor

from .referral_list import COLUMNS, FAVORITES, REFERRALS, email_hash, iso

Tab = Literal["all", "marketplace", "qualified", "favorites", "archived"]
TABS: tuple[Tab, ...] = ("all", "marketplace", "qualified", "favorites", "archived")
MAX_LIMIT = 200

_TAB_CONDITIONS: dict[str, str] = {
    "all": "1 = 1",
    "marketplace": "r.qualification = 'direct' AND r.status <> 'closed'",
    "qualified": "r.qualification IN ('marketing_qualified', 'sales_qualified') AND r.status <> 'closed'",
    "favorites": "f.referral_id IS NOT NULL",
    "archived": "r.status = 'closed'",
}


class InvalidQuery(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class ReferralFilters:
    """Filters shared by a page and its counts. Lists mean "any of"; empty means "no filter"."""

    org: str | None = None
    """The partner organisation (always set for a partner's user; an admin may leave it out)."""
    status: tuple[str, ...] = ()
    substatus: tuple[str, ...] = ()
    qualification: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    updated_since: datetime | None = None
    contact_email: str | None = None
    contact_requested: bool | None = None

    def __post_init__(self) -> None:
        if self.updated_since is not None and self.updated_since.tzinfo is None:
            raise InvalidQuery("updated_since", "needs a timezone (e.g. 2026-11-01T00:00:00Z)")

    def where(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.org is not None:
            clauses.append("r.target_org = ?")
            params.append(self.org)
        for column, values in (
            ("status", self.status),
            ("substatus", self.substatus),
            ("qualification", self.qualification),
            ("country", self.country),
        ):
            if values:
                clauses.append(f"r.{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.updated_since is not None:
            clauses.append("r.updated_at >= ?")
            params.append(iso(self.updated_since))
        if self.contact_email:
            clauses.append("r.contact_emails LIKE ?")
            params.append(f"%|{email_hash(self.contact_email)}|%")
        if self.contact_requested is not None:
            clauses.append("r.contact_requested = ?")
            params.append(int(self.contact_requested))
        return clauses, params

    def fingerprint(self, tab: str, user_key: str) -> str:
        canonical = json.dumps({**asdict(self), "tab": tab, "user": user_key}, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ReferralPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    counts: dict[str, int]
    tab: str
    limit: int


def decode_cursor(cursor: str, fingerprint: str) -> tuple[str, str]:
    try:
        return views.decode_cursor(cursor, fingerprint)
    except views.InvalidCursor as exc:
        raise InvalidQuery("cursor", str(exc)) from None


_SELECT = ", ".join(f"r.{c}" for c in COLUMNS)


class ReferralList:
    """Reads of the referral list, newest first: ordered by (created_at, referral_id) descending."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def page(
        self,
        *,
        filters: ReferralFilters,
        tab: str = "all",
        user_key: str,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ReferralPage:
        """`user_key`: the requesting user's favorites key (their favorites are theirs alone)."""
        if tab not in TABS:
            raise InvalidQuery("tab", f"unknown tab {tab!r}; one of {', '.join(TABS)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_LIMIT}")
        fingerprint = filters.fingerprint(tab, user_key)
        clauses, params = filters.where()
        page_clauses, page_params = [*clauses, _TAB_CONDITIONS[tab]], list(params)
        if cursor:
            created_at, referral_id = decode_cursor(cursor, fingerprint)
            page_clauses.append("(r.created_at < ? OR (r.created_at = ? AND r.referral_id < ?))")
            page_params += [created_at, created_at, referral_id]
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT {_SELECT}, f.referral_id FROM {REFERRALS} r "
                f"LEFT JOIN {FAVORITES} f ON f.referral_id = r.referral_id AND f.user_id = ? "
                f"WHERE {' AND '.join(page_clauses)} ORDER BY r.created_at DESC, r.referral_id DESC LIMIT ?",
                [user_key, *page_params, limit + 1],
            )
            counts = self._counts(tx, clauses, params, user_key)
        items = [_item(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(items[-1]["created_at"], items[-1]["referral_id"], fingerprint)
        return ReferralPage(items=items, next_cursor=next_cursor, counts=counts, tab=tab, limit=limit)

    def _counts(self, tx: Tx, clauses: list[str], params: list[Any], user_key: str) -> dict[str, int]:
        sums = ", ".join(f"SUM(CASE WHEN {_TAB_CONDITIONS[t]} THEN 1 ELSE 0 END)" for t in TABS)
        found = tx.fetchone(
            f"SELECT {sums} FROM {REFERRALS} r "
            f"LEFT JOIN {FAVORITES} f ON f.referral_id = r.referral_id AND f.user_id = ? "
            f"WHERE {' AND '.join(clauses) or '1 = 1'}",
            [user_key, *params],
        )
        return {tab: int(n or 0) for tab, n in zip(TABS, found or (), strict=True)}

    def metrics(self, *, org: str | None, now: datetime) -> list[dict[str, Any]]:
        """Response-time figures per partner organisation (one, or every one for an admin)."""
        where, params = ("WHERE target_org = ?", [org]) if org is not None else ("", [])
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT target_org, status, substatus, created_at, answered_at FROM {REFERRALS} {where} "
                "ORDER BY target_org",
                params,
            )
        by_org: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_org.setdefault(row[0], []).append(row)
        if org is not None and org not in by_org:
            by_org[org] = []
        return [_figures(name, org_rows, now) for name, org_rows in sorted(by_org.items())]


def _figures(org: str, rows: list[tuple[Any, ...]], now: datetime) -> dict[str, Any]:
    """- median time to answer: accepted or declined, from arrival to the answer;
    - answered within 24 hours: the share of referrals whose first 24 hours are over (or that
      were answered sooner) that were answered within them;
    - win rate: won / (won + lost)."""
    day = timedelta(hours=24)
    answer_seconds: list[float] = []
    due = within = 0
    substatus_counts: dict[str, int] = {}
    for _, _status, substatus, created_at, answered_at in rows:
        substatus_counts[substatus] = substatus_counts.get(substatus, 0) + 1
        created = datetime.fromisoformat(created_at)
        if answered_at is not None:
            took = datetime.fromisoformat(answered_at) - created
            answer_seconds.append(took.total_seconds())
            due += 1
            within += took <= day
        elif now - created >= day:
            due += 1
    won, lost = substatus_counts.get("won", 0), substatus_counts.get("lost", 0)
    return {
        "org": org,
        "received": len(rows),
        "open": substatus_counts.get("received", 0),
        "accepted": sum(substatus_counts.get(s, 0) for s in ("accepted", "won", "lost")),
        "declined": substatus_counts.get("declined", 0),
        "expired": substatus_counts.get("expired", 0),
        "won": won,
        "lost": lost,
        "median_seconds_to_answer": statistics.median(answer_seconds) if answer_seconds else None,
        "answered_within_24h_share": round(within / due, 4) if due else None,
        "win_rate": round(won / (won + lost), 4) if won + lost else None,
    }


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    data = dict(zip(COLUMNS, row[:-1], strict=True))
    data.pop("contact_emails")
    data["contact_requested"] = bool(data["contact_requested"])
    data["contact_urgent"] = bool(data["contact_urgent"])
    amount, currency = data.pop("deal_amount"), data.pop("deal_currency")
    data["deal_value"] = {"amount": amount, "currency": currency} if amount is not None else None
    data["favorite"] = row[-1] is not None
    return data
