"""The lead list: a projection of every Lead event into the read store's lead rows and favorites.

The shared ProjectionRunner feeds it batches (filtered to Lead events in the database) and
moves its position in the same transaction; this module only says what each event does to
a lead's row. Every column is derived from events alone, so a rebuilt list equals the live one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from leadflow_shared.readstore import Tx
from leadflow_shared.views import utc_text

from ..domain import ASSIGNED, CLOSED_INVALID, CONVERTED, DISQUALIFIED, QUALIFIED, UNASSIGNED, Lead, TeamMembers
from . import schema
from .schema import FAVORITES, LEAD_COLUMNS, LEADS, TEAM_MEMBERS

log = logging.getLogger(__name__)

LeadEvent: Any = Lead  # the @event decorator makes Lead.Received etc. at runtime; mypy cannot see them
ARCHIVED_STATUSES = (CONVERTED, CLOSED_INVALID, DISQUALIFIED)

Row = dict[str, Any]


iso = utc_text
"""UTC, microseconds, always the same shape: text order is time order."""


def search_text(first_name: str | None, last_name: str | None, company_name: str | None) -> str:
    name = " ".join(p for p in (first_name, last_name) if p)
    return "\n".join((name, company_name or "")).casefold()


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# -- one handler per Lead event: the visible map of what changes the lead list -------------


def _received(row: Row, e: Any) -> None:
    row.update(
        lead_id=str(e.originator_id),
        source=e.source,
        external_id=e.external_id,
        status=ASSIGNED if getattr(e, "owner_id", None) else UNASSIGNED,
        voided=0,
        merged_into=None,
        stage_id=e.stage_id,
        owner_id=getattr(e, "owner_id", None),
        team_id=None,
        received_at=iso(e.received_at),
        received_via=e.received_via,
        qualification=None,
        customer_id=None,
        follow_ups=0,
        last_follow_up_at=None,
        last_follower=None,
        documents=0,
        associations=0,
        possible_duplicates="[]",
        absorbed="[]",
        lifecycle_stage=e.details.get("lifecycle_stage"),
    )
    _set_upstream(row, e.__dict__)
    row["occurred_at"] = iso(e.occurred_at)


def _set_upstream(row: Row, values: dict[str, Any]) -> None:
    if "lead_type" in values:
        row["lead_type"] = values["lead_type"]
    if "contact" in values:
        contact = values["contact"] or {}
        row.update(contact=_json(contact), first_name=contact.get("first_name"), last_name=contact.get("last_name"))
    if "company" in values:
        company = values["company"] or {}
        row.update(company=_json(company), company_name=company.get("name"))
    if "score" in values:
        row["score"] = values["score"]
    if "campaign_id" in values:
        row["campaign_id"] = values["campaign_id"]


def _upstream_updated(row: Row, e: Any) -> None:
    _set_upstream(row, e.changes)
    if "details" in e.changes:
        row["lifecycle_stage"] = e.changes["details"].get("lifecycle_stage", row["lifecycle_stage"])
    row["occurred_at"] = iso(e.occurred_at)


def _assigned(row: Row, e: Any) -> None:
    row.update(owner_id=e.owner_id, team_id=e.team_id, status=ASSIGNED)


def _converted(row: Row, e: Any) -> None:
    row.update(customer_id=str(e.customer_id), status=CONVERTED)


def _recycled(row: Row, e: Any) -> None:
    row.update(owner_id=None, team_id=None, status=UNASSIGNED)


def _closed_invalid(row: Row, e: Any) -> None:
    row["status"] = CLOSED_INVALID


def _voided(row: Row, e: Any) -> None:
    row["voided"] = 1


def _unvoided(row: Row, e: Any) -> None:
    row["voided"] = 0


def _stage_moved(row: Row, e: Any) -> None:
    row["stage_id"] = e.to_stage


def _unassigned(row: Row, e: Any) -> None:
    row.update(owner_id=None, team_id=None, status=UNASSIGNED)


def _qualified(row: Row, e: Any) -> None:
    row["qualification"] = "qualified"
    if e.status_before is not None:  # version 1 (before qualifying moved the lead) kept the status
        row["status"] = QUALIFIED


def _disqualified(row: Row, e: Any) -> None:
    row["qualification"] = "disqualified"
    if e.status_before is not None:
        row["status"] = DISQUALIFIED


def _reopened(row: Row, e: Any) -> None:
    row.update(status=e.restored_status, qualification=None)


def _followed_up(row: Row, e: Any) -> None:
    row.update(follow_ups=row["follow_ups"] + 1, last_follow_up_at=iso(e.at), last_follower=e.actor)


def _document_linked(row: Row, e: Any) -> None:
    row["documents"] += 1


def _document_unlinked(row: Row, e: Any) -> None:
    row["documents"] -= 1  # each DocumentUnlinked undoes one DocumentLinked


def _marked_possible_duplicate(row: Row, e: Any) -> None:
    known = set(json.loads(row["possible_duplicates"]))
    row["possible_duplicates"] = _json(sorted(known | set(e.lead_ids) | set(e.customer_ids)))


def _associated(row: Row, e: Any) -> None:
    row["associations"] += 1
    if e.lifecycle_stage is not None:
        row["lifecycle_stage"] = e.lifecycle_stage


def _merged_into(row: Row, e: Any) -> None:
    row["merged_into"] = str(e.survivor_id)


def _unmerged(row: Row, e: Any) -> None:
    row["merged_into"] = None


def _absorbed(row: Row, e: Any) -> None:
    row["absorbed"] = _json([*json.loads(row["absorbed"]), str(e.merged_id)])


def _released(row: Row, e: Any) -> None:
    absorbed = json.loads(row["absorbed"])
    if str(e.merged_id) in absorbed:
        absorbed.remove(str(e.merged_id))
    row["absorbed"] = _json(absorbed)


def _erased(row: Row, e: Any) -> None:
    """The lead's personal data was erased: the row keeps only what is not personal."""
    company = {k: v for k, v in json.loads(row["company"] or "{}").items() if k != "name"}
    row.update(contact="{}", first_name=None, last_name=None, company=_json(company), company_name=None)


def _nothing_listed(row: Row, e: Any) -> None:
    """An event the list shows nothing of (only the version moves)."""


ROW_HANDLERS: dict[type[Any], Callable[[Row, Any], None]] = {
    LeadEvent.Received: _received,
    LeadEvent.UpstreamUpdated: _upstream_updated,
    LeadEvent.UpstreamUpdateIgnored: _nothing_listed,
    LeadEvent.Assigned: _assigned,
    LeadEvent.Unassigned: _unassigned,
    LeadEvent.Converted: _converted,
    LeadEvent.Recycled: _recycled,
    LeadEvent.ClosedInvalid: _closed_invalid,
    LeadEvent.Voided: _voided,
    LeadEvent.Unvoided: _unvoided,
    LeadEvent.StageMoved: _stage_moved,
    LeadEvent.Qualified: _qualified,
    LeadEvent.Disqualified: _disqualified,
    LeadEvent.Reopened: _reopened,
    LeadEvent.FollowedUp: _followed_up,
    LeadEvent.DocumentLinked: _document_linked,
    LeadEvent.DocumentUnlinked: _document_unlinked,
    LeadEvent.MarkedPossibleDuplicate: _marked_possible_duplicate,
    LeadEvent.Associated: _associated,
    LeadEvent.MergedInto: _merged_into,
    LeadEvent.Unmerged: _unmerged,
    LeadEvent.Absorbed: _absorbed,
    LeadEvent.Released: _released,
    LeadEvent.Erased: _erased,
}
"""Lead events that change the lead's row. Deleted and FavoriteToggled are handled apart."""


class _Batch:
    """The rows one batch touches, loaded once and written once at the end."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.rows: dict[str, Row | None] = {}  # None = deleted in this batch

    def load(self, lead_ids: Sequence[str]) -> None:
        """Read the rows of these leads in one statement (one round trip on PostgreSQL)."""
        wanted = [i for i in dict.fromkeys(lead_ids) if i not in self.rows]
        if not wanted:
            return
        found = self.tx.fetch_in(f"SELECT {', '.join(LEAD_COLUMNS)} FROM {LEADS} WHERE", "lead_id", wanted)
        self.rows.update({i: None for i in wanted})
        self.rows.update({row[0]: dict(zip(LEAD_COLUMNS, row, strict=True)) for row in found})

    def get(self, lead_id: str) -> Row | None:
        if lead_id not in self.rows:
            found = self.tx.fetchone(f"SELECT {', '.join(LEAD_COLUMNS)} FROM {LEADS} WHERE lead_id = ?", (lead_id,))
            self.rows[lead_id] = dict(zip(LEAD_COLUMNS, found, strict=True)) if found else None
        return self.rows[lead_id]

    def flush(self) -> None:
        gone = [(lead_id,) for lead_id, row in self.rows.items() if row is None]
        self.tx.executemany(f"DELETE FROM {LEADS} WHERE lead_id = ?", gone)
        updates = ", ".join(f"{c} = excluded.{c}" for c in LEAD_COLUMNS if c != "lead_id")
        self.tx.executemany(
            f"INSERT INTO {LEADS} ({', '.join(LEAD_COLUMNS)}) VALUES ({', '.join('?' * len(LEAD_COLUMNS))}) "
            f"ON CONFLICT (lead_id) DO UPDATE SET {updates}",
            [[row[c] for c in LEAD_COLUMNS] for row in self.rows.values() if row is not None],
        )


class LeadListProjection:
    """What every Lead event does to the lead list (a Projection for the shared runner)."""

    name = "intake-lead-list"
    event_classes: Sequence[type[Any]] = (
        *ROW_HANDLERS,
        LeadEvent.Deleted,
        LeadEvent.FavoriteToggled,
        TeamMembers.Changed,
    )

    def create(self, tx: Tx) -> None:
        schema.create(tx)

    def drop(self, tx: Tx) -> None:
        schema.drop(tx)

    def counts(self, tx: Tx) -> dict[str, int]:
        return schema.counts(tx)

    def apply(self, tx: Tx, events: Sequence[Any]) -> None:
        batch = _Batch(tx)
        received = {str(e.originator_id) for e in events if isinstance(e, LeadEvent.Received)}
        batch.load(
            [
                str(e.originator_id)
                for e in events
                if str(e.originator_id) not in received and not isinstance(e, TeamMembers.Changed)
            ]
        )
        for event in events:
            self._apply_event(batch, event)
        batch.flush()
        tx.scrubbed = tx.scrubbed or any(isinstance(e, LeadEvent.Erased) for e in events)

    def _apply_event(self, batch: _Batch, e: Any) -> None:
        if isinstance(e, TeamMembers.Changed):
            self._members_changed(batch.tx, e)
            return
        lead_id = str(e.originator_id)
        if isinstance(e, LeadEvent.FavoriteToggled):
            self._favorite_toggled(batch.tx, e)
        elif isinstance(e, LeadEvent.Deleted):
            batch.rows[lead_id] = None
            batch.tx.execute(f"DELETE FROM {FAVORITES} WHERE lead_id = ?", (lead_id,))
            return
        if isinstance(e, LeadEvent.Received):
            row: Row | None = {}
            batch.rows[lead_id] = row
        else:
            row = batch.get(lead_id)
        if row is None:
            # Only after a Deleted (e.g. an upstream re-send of a deleted lead): nothing to show.
            log.debug("lead %s has no row; %s not listed", lead_id, type(e).__name__)
            return
        handler = ROW_HANDLERS.get(type(e), _nothing_listed)
        handler(row, e)
        row["version"] = e.originator_version
        row["updated_at"] = iso(e.timestamp)
        row["archived"] = int(row["status"] in ARCHIVED_STATUSES or row["merged_into"] is not None)
        row["search_text"] = search_text(row["first_name"], row["last_name"], row["company_name"])

    def _favorite_toggled(self, tx: Tx, e: Any) -> None:
        lead_id = str(e.originator_id)
        if e.on:
            tx.execute(
                f"INSERT INTO {FAVORITES} (user_id, lead_id, favorited_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, lead_id) DO NOTHING",
                (e.user_id, lead_id, iso(e.at)),
            )
        else:
            tx.execute(f"DELETE FROM {FAVORITES} WHERE user_id = ? AND lead_id = ?", (e.user_id, lead_id))

    def _members_changed(self, tx: Tx, e: Any) -> None:
        tx.executemany(
            f"DELETE FROM {TEAM_MEMBERS} WHERE team_id = ? AND seller_id = ?", [(e.team_id, m) for m in e.left]
        )
        tx.executemany(
            f"INSERT INTO {TEAM_MEMBERS} (team_id, seller_id) VALUES (?, ?) "
            "ON CONFLICT (team_id, seller_id) DO NOTHING",
            [(e.team_id, m) for m in e.joined],
        )
