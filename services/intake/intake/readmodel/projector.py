"""The lead-list projector: follows intake's notification log into the read store.

Each batch of notifications is applied in one read-store transaction that also moves the
stored position, so a crash either keeps the whole batch or none of it: nothing is applied
twice and nothing is skipped. Two projectors (the store-thread listener and the safety-net
poll, or two processes on one PostgreSQL) serialise on the position row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from ..application import IntakeApplication
from ..domain import ASSIGNED, CLOSED_INVALID, CONVERTED, UNASSIGNED, Lead
from . import schema
from .schema import FAVORITES, LEAD_COLUMNS, LEADS, POSITION, POSITION_NAME
from .store import ReadStore, Tx

log = logging.getLogger(__name__)

LEAD_TOPIC_PREFIX = get_topic(Lead) + "."
LeadEvent: Any = Lead  # the @event decorator makes Lead.Received etc. at runtime; mypy cannot see them
ARCHIVED_STATUSES = (CONVERTED, CLOSED_INVALID)

Row = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    """UTC, microseconds, always the same shape: text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


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
        status=UNASSIGNED,
        voided=0,
        merged_into=None,
        stage_id=e.stage_id,
        owner_id=None,
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


def _qualified(row: Row, e: Any) -> None:
    row["qualification"] = "qualified"


def _disqualified(row: Row, e: Any) -> None:
    row["qualification"] = "disqualified"


def _followed_up(row: Row, e: Any) -> None:
    row.update(follow_ups=row["follow_ups"] + 1, last_follow_up_at=iso(e.at), last_follower=e.actor)


def _document_linked(row: Row, e: Any) -> None:
    row["documents"] += 1


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


def _nothing_listed(row: Row, e: Any) -> None:
    """An event the list shows nothing of (only the version moves)."""


ROW_HANDLERS: dict[type[Any], Callable[[Row, Any], None]] = {
    LeadEvent.Received: _received,
    LeadEvent.UpstreamUpdated: _upstream_updated,
    LeadEvent.UpstreamUpdateIgnored: _nothing_listed,
    LeadEvent.Assigned: _assigned,
    LeadEvent.Converted: _converted,
    LeadEvent.Recycled: _recycled,
    LeadEvent.ClosedInvalid: _closed_invalid,
    LeadEvent.Voided: _voided,
    LeadEvent.Unvoided: _unvoided,
    LeadEvent.StageMoved: _stage_moved,
    LeadEvent.Qualified: _qualified,
    LeadEvent.Disqualified: _disqualified,
    LeadEvent.FollowedUp: _followed_up,
    LeadEvent.DocumentLinked: _document_linked,
    LeadEvent.MarkedPossibleDuplicate: _marked_possible_duplicate,
    LeadEvent.Associated: _associated,
    LeadEvent.MergedInto: _merged_into,
    LeadEvent.Unmerged: _unmerged,
    LeadEvent.Absorbed: _absorbed,
    LeadEvent.Released: _released,
}
"""Lead events that change the lead's row. Deleted and FavoriteToggled are handled apart."""


class _Batch:
    """The rows one batch touches, loaded once and written once at the end."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.rows: dict[str, Row | None] = {}  # None = deleted in this batch

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


class LeadListProjector:
    """Keeps the lead list (and favorites) up to date with intake's event store."""

    name = "intake-lead-list"

    def __init__(
        self,
        app: IntakeApplication,
        store: ReadStore,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        listener_lock_timeout: float = 2.0,
    ) -> None:
        self.app = app
        self.store = store
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.listener_lock_timeout = listener_lock_timeout
        self._stopping = asyncio.Event()
        with store.transaction(write=True) as tx:
            schema.create(tx)

    # -- following the log ---------------------------------------------------------------

    def position(self) -> int:
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(f"SELECT position FROM {POSITION} WHERE name = ?", (POSITION_NAME,))
        return int(found[0]) if found else 0

    def catch_up(self, *, lock_timeout: float = 10.0) -> int:
        """Apply everything stored after the position; returns how many notifications were read."""
        total = 0
        while True:
            with self.store.transaction(write=True, lock_timeout=lock_timeout) as tx:
                found = tx.fetchone(f"SELECT position FROM {POSITION} WHERE name = ?{tx.for_update}", (POSITION_NAME,))
                position = int(found[0]) if found else 0
                notifications = self.app.recorder.select_notifications(position + 1, self.batch_size)
                if not notifications:
                    return total
                self._apply(tx, notifications)
                self._set_position(tx, notifications[-1].id)
            total += len(notifications)

    def is_behind(self) -> bool:
        return (self.app.recorder.max_notification_id() or 0) > self.position()

    def on_recorded(self) -> None:
        """`app.on_recorded` listener (store thread): reads see a command's effect when it returns.

        Never raises: the command that stored the events has succeeded; a failure here is
        logged and the next catch-up (the next save, or the poll) retries.
        """
        try:
            self.catch_up(lock_timeout=self.listener_lock_timeout)
        except Exception:
            log.exception("lead-list projection failed to catch up after a save; will retry")

    def attach(self) -> None:
        self.app.on_recorded.append(self.on_recorded)

    # -- rebuilding ----------------------------------------------------------------------

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Drop and recreate the tables, replay the whole log; one transaction, so readers
        see the old model until the new one is complete. Returns the row counts."""
        target = self.app.recorder.max_notification_id() or 0
        with self.store.transaction(write=True, lock_timeout=60.0) as tx:
            schema.drop(tx)
            schema.create(tx)
            position = 0
            while True:
                notifications = self.app.recorder.select_notifications(position + 1, self.batch_size)
                if not notifications:
                    break
                self._apply(tx, notifications)
                position = notifications[-1].id
                if progress is not None:
                    progress(position, max(target, position))
            self._set_position(tx, position)
            return schema.counts(tx)

    # -- BackgroundJob: catch up at start, then poll as a safety net -----------------------

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    if await asyncio.to_thread(self.is_behind):
                        started = time.monotonic()
                        applied = await asyncio.to_thread(self.catch_up)
                        log.info("lead list caught up: %d notifications in %.2fs", applied, time.monotonic() - started)
                except Exception:
                    log.exception("lead-list projection failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.catch_up)
            self.store.close()

    def stop(self) -> None:
        self._stopping.set()

    # -- applying ------------------------------------------------------------------------

    def _set_position(self, tx: Tx, position: int) -> None:
        tx.execute(f"UPDATE {POSITION} SET position = ? WHERE name = ?", (position, POSITION_NAME))

    def _apply(self, tx: Tx, notifications: Sequence[Notification]) -> None:
        batch = _Batch(tx)
        for notification in notifications:
            if notification.topic.startswith(LEAD_TOPIC_PREFIX):
                self._apply_event(batch, self.app.mapper.to_domain_event(notification))
        batch.flush()

    def _apply_event(self, batch: _Batch, e: Any) -> None:
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
