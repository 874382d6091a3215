"""The referral list: every Referral event projected into one row per referral, and each user's
favorites. Every column is derived from events alone, so a rebuilt list equals the live one.

Timestamps are ISO-8601 text in UTC with microseconds (text order is time order in SQLite and
PostgreSQL alike); booleans are 0/1. Contact e-mail addresses are kept only as hashes (the list
filters by them; it never shows them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from leadflow_shared.readstore import Tx
from leadflow_shared.views import utc_text

from ..domain import Favorites, Referral

ReferralEvent: Any = Referral
FavoritesEvent: Any = Favorites

REFERRALS = "referral_rm_referrals"
FAVORITES = "referral_rm_favorites"
TABLES = (REFERRALS, FAVORITES)
PRIMARY_KEYS = {REFERRALS: "referral_id", FAVORITES: "user_id, referral_id"}

COLUMNS: tuple[str, ...] = (
    "referral_id",
    "version",
    "target_org",
    "sender",
    "external_reference_id",
    "engagement_id",
    "name",
    "customer_name",
    "country",
    "qualification",
    "referral_type",
    "status",
    "substatus",
    "status_reason",
    "contact_requested",
    "contact_urgent",
    "contact_emails",
    "deal_name",
    "deal_amount",
    "deal_currency",
    "lead_id",
    "created_at",
    "updated_at",
    "expires_at",
    "answered_at",
    "accepted_at",
    "closed_at",
)

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {REFERRALS} (
        referral_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        target_org TEXT NOT NULL,
        sender TEXT NOT NULL,
        external_reference_id TEXT NOT NULL,
        engagement_id TEXT,
        name TEXT NOT NULL,
        customer_name TEXT,
        country TEXT,
        qualification TEXT NOT NULL,
        referral_type TEXT NOT NULL,
        status TEXT NOT NULL,
        substatus TEXT NOT NULL,
        status_reason TEXT,
        contact_requested INTEGER NOT NULL,
        contact_urgent INTEGER NOT NULL,
        contact_emails TEXT NOT NULL,
        deal_name TEXT,
        deal_amount TEXT,
        deal_currency TEXT,
        lead_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        answered_at TEXT,
        accepted_at TEXT,
        closed_at TEXT
    )""",
    f"CREATE INDEX IF NOT EXISTS {REFERRALS}_org_created ON {REFERRALS} (target_org, created_at, referral_id)",
    f"CREATE INDEX IF NOT EXISTS {REFERRALS}_created ON {REFERRALS} (created_at, referral_id)",
    f"""CREATE TABLE IF NOT EXISTS {FAVORITES} (
        user_id TEXT NOT NULL,
        referral_id TEXT NOT NULL,
        favorited_at TEXT NOT NULL,
        PRIMARY KEY (user_id, referral_id)
    )""",
)
_SCHEMA_LOCK_KEY = 7_305_113_004

Row = dict[str, Any]


iso = utc_text


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:32]


def _received(row: Row, e: Any) -> None:
    details = e.details
    customer = details.get("customer") or {}
    emails = sorted({email_hash(c["email"]) for c in customer.get("contacts") or [] if c.get("email")})
    row.update(
        referral_id=str(e.originator_id),
        target_org=e.target_org,
        sender=e.sender,
        external_reference_id=e.external_reference_id,
        engagement_id=details.get("engagement_id"),
        name=details.get("name") or "",
        customer_name=customer.get("name"),
        country=(customer.get("address") or {}).get("country"),
        qualification=details.get("qualification") or "direct",
        referral_type=details.get("type") or "independent",
        status="new",
        substatus="received",
        status_reason=None,
        contact_requested=int(e.contact_requested),
        contact_urgent=int(e.contact_requested),
        contact_emails="|" + "|".join(emails) + "|" if emails else "",
        deal_name=None,
        deal_amount=None,
        deal_currency=None,
        lead_id=None,
        created_at=iso(e.at),
        expires_at=iso(e.expires_at),
        answered_at=None,
        accepted_at=None,
        closed_at=None,
    )


def _deal(row: Row, deal: dict[str, Any]) -> None:
    if "deal_name" in deal:
        row["deal_name"] = deal["deal_name"]
    value = deal.get("deal_value")
    if isinstance(value, dict):
        row.update(deal_amount=str(value.get("amount")), deal_currency=value.get("currency"))


def _accepted(row: Row, e: Any) -> None:
    row.update(status="active", substatus="accepted", answered_at=iso(e.at), accepted_at=iso(e.at))
    _deal(row, e.deal)


def _closed(row: Row, e: Any) -> None:
    if row["status"] == "new" and e.substatus != "expired":
        row["answered_at"] = iso(e.at)
    row.update(status="closed", substatus=e.substatus, status_reason=e.reason, closed_at=iso(e.at), contact_urgent=0)


def _updated(row: Row, e: Any) -> None:
    _deal(row, e.changes)


def _contact_flag_changed(row: Row, e: Any) -> None:
    row["contact_urgent"] = int(e.urgent)


def _lead_linked(row: Row, e: Any) -> None:
    row["lead_id"] = str(e.lead_id)


def _nothing_listed(row: Row, e: Any) -> None:
    """The list shows nothing of it (only the version and the time of the change move)."""


ROW_HANDLERS: dict[type[Any], Callable[[Row, Any], None]] = {
    ReferralEvent.Received: _received,
    ReferralEvent.Accepted: _accepted,
    ReferralEvent.Closed: _closed,
    ReferralEvent.Updated: _updated,
    ReferralEvent.TeamMemberAdded: _nothing_listed,
    ReferralEvent.ContactFlagChanged: _contact_flag_changed,
    ReferralEvent.LeadLinked: _lead_linked,
    ReferralEvent.DeadlineSet: _nothing_listed,
    ReferralEvent.DeadlineCancelled: _nothing_listed,
    ReferralEvent.DeadlineFired: _nothing_listed,
}


class ReferralListProjection:
    """What each Referral and Favorites event does to the list (a Projection for the shared runner)."""

    name = "referral-list"
    event_classes: Sequence[type[Any]] = (*ROW_HANDLERS, FavoritesEvent.Marked, FavoritesEvent.Unmarked)

    def create(self, tx: Tx) -> None:
        if tx.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK_KEY,))
        for statement in _DDL:
            tx.execute(statement)

    def drop(self, tx: Tx) -> None:
        if tx.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK_KEY,))
        for table in TABLES:
            tx.execute(f"DROP TABLE IF EXISTS {table}")

    def counts(self, tx: Tx) -> dict[str, int]:
        return {table: int(tx.fetchone(f"SELECT COUNT(*) FROM {table}")[0]) for table in TABLES}  # type: ignore[index]

    def apply(self, tx: Tx, events: Sequence[Any]) -> None:
        rows: dict[str, Row | None] = {}
        wanted = [
            str(e.originator_id)
            for e in events
            if type(e) in ROW_HANDLERS and not isinstance(e, ReferralEvent.Received)
        ]
        wanted = list(dict.fromkeys(wanted))
        if wanted:
            found = tx.fetch_in(f"SELECT {', '.join(COLUMNS)} FROM {REFERRALS} WHERE", "referral_id", wanted)
            rows.update({i: None for i in wanted})
            rows.update({r[0]: dict(zip(COLUMNS, r, strict=True)) for r in found})
        for e in events:
            if isinstance(e, FavoritesEvent.Marked):
                tx.execute(
                    f"INSERT INTO {FAVORITES} (user_id, referral_id, favorited_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id, referral_id) DO NOTHING",
                    (e.originator_id.hex, str(e.referral_id), iso(e.at)),
                )
                continue
            if isinstance(e, FavoritesEvent.Unmarked):
                tx.execute(
                    f"DELETE FROM {FAVORITES} WHERE user_id = ? AND referral_id = ?",
                    (e.originator_id.hex, str(e.referral_id)),
                )
                continue
            referral_id = str(e.originator_id)
            if isinstance(e, ReferralEvent.Received):
                row: Row | None = {}
                rows[referral_id] = row
            else:
                row = rows.get(referral_id)
            if row is None:
                continue
            ROW_HANDLERS[type(e)](row, e)
            row["version"] = e.originator_version
            at = getattr(e, "at", None)
            if at is not None:
                row["updated_at"] = iso(at)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "referral_id")
        tx.executemany(
            f"INSERT INTO {REFERRALS} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
            f"ON CONFLICT (referral_id) DO UPDATE SET {updates}",
            [[row[c] for c in COLUMNS] for row in rows.values() if row],
        )
