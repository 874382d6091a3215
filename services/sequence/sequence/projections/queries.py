"""Questions asked of the enrolment list: a seller's work by bucket (in the seller's time zone),
a sequence's connected leads and success rates, which enrolments are still active, and which
e-mails are due to be (re)sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final
from uuid import UUID

from leadflow_shared.calendars import zone
from leadflow_shared.readstore import ReadStore

from ..domain.enrolment import MANUAL
from .enrolments import ENROLMENTS, OUTBOX, iso, parse_time

BUCKETS: Final = ("due_today", "overdue", "upcoming")
DROP_OFF = timedelta(days=30)
"""Work overdue by more than this drops off the list."""
SUCCESS_WINDOWS: Final = (30, 90, 180)
_MANUAL = ", ".join(f"'{kind}'" for kind in MANUAL)


@dataclass(frozen=True)
class OutgoingEmail:
    enrolment_id: UUID
    step_id: str
    lead_id: UUID
    subject: str
    body: str
    attempts: int


class EnrolmentList:
    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def active_in(self, sequence_id: UUID, limit: int) -> list[UUID]:
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT enrolment_id FROM {ENROLMENTS} WHERE sequence_id = ? AND status = 'active' "
                "ORDER BY enrolment_id LIMIT ?",
                (str(sequence_id), limit),
            )
        return [UUID(r[0]) for r in rows]

    def work(
        self, seller_id: str, bucket: str, time_zone: str, now: datetime, limit: int = 500
    ) -> list[dict[str, Any]]:
        """The seller's manual steps (and those that follow a running wait) in one bucket: due
        today, overdue (before today, at most 30 days) or upcoming (after today), by the seller's
        local day; oldest first."""
        tz = zone(time_zone)
        today = now.astimezone(tz).date()
        start = datetime.combine(today, time(0), tzinfo=tz)
        tomorrow = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz)
        low, high = {
            "overdue": (now - DROP_OFF, start),
            "due_today": (start, tomorrow),
            "upcoming": (tomorrow, now + timedelta(days=3650)),
        }[bucket]
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT enrolment_id, lead_id, sequence_id, sequence_version, current_step, current_type, due_at, "
                f"is_due, next_step, next_type FROM {ENROLMENTS} WHERE owner_id = ? AND status = 'active' "
                f"AND due_at >= ? AND due_at < ? AND (current_type IN ({_MANUAL}) "
                f"OR (current_type = 'wait' AND next_type IN ({_MANUAL}))) ORDER BY due_at, enrolment_id LIMIT ?",
                (seller_id, iso(low), iso(high), limit),
            )
        items = []
        for r in rows:
            waiting = r[5] == "wait"
            items.append(
                {
                    "enrolment_id": r[0],
                    "lead_id": r[1],
                    "sequence_id": r[2],
                    "sequence_version": r[3],
                    "step_id": r[8] if waiting else r[4],
                    "step_type": r[9] if waiting else r[5],
                    "due_at": _local(r[6], tz),
                    "is_due": bool(r[7]) and not waiting,
                    "after_wait": r[4] if waiting else None,
                }
            )
        return items

    def of_sequence(self, sequence_id: UUID, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """The sequence's connected leads: progress, current step, days elapsed."""
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT enrolment_id, lead_id, sequence_version, owner_id, current_step, current_type, due_at, "
                f"steps_done, enrolled_at FROM {ENROLMENTS} WHERE sequence_id = ? AND status = 'active' "
                "ORDER BY enrolled_at, enrolment_id LIMIT ?",
                (str(sequence_id), limit),
            )
        return [
            {
                "enrolment_id": r[0],
                "lead_id": r[1],
                "sequence_version": r[2],
                "owner_id": r[3],
                "current_step": r[4],
                "current_type": r[5],
                "due_at": r[6],
                "steps_done": r[7],
                "days_elapsed": (now - (parse_time(r[8]) or now)).days,
            }
            for r in rows
        ]

    def figures(self, sequence_id: UUID, now: datetime) -> dict[str, Any]:
        """Connected leads now, and over the last 30 / 90 / 180 days: how many ended, how many of
        them completed every step without an early exit, and that success rate."""
        with self.store.transaction(write=False) as tx:
            active = tx.fetchone(
                f"SELECT COUNT(*) FROM {ENROLMENTS} WHERE sequence_id = ? AND status = 'active'", (str(sequence_id),)
            )
            windows = {}
            for days in SUCCESS_WINDOWS:
                found = tx.fetchone(
                    f"SELECT COUNT(*), SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) FROM {ENROLMENTS} "
                    "WHERE sequence_id = ? AND status <> 'active' AND ended_at >= ?",
                    (str(sequence_id), iso(now - timedelta(days=days))),
                )
                ended, completed = (int(found[0] or 0), int(found[1] or 0)) if found else (0, 0)
                windows[f"{days}d"] = {
                    "ended": ended,
                    "completed": completed,
                    "success_rate": round(completed / ended, 4) if ended else None,
                }
        return {"connected": int(active[0]) if active else 0, "success": windows}

    def due_emails(self, now: datetime, limit: int) -> list[OutgoingEmail]:
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT enrolment_id, step_id, lead_id, subject, body, attempts FROM {OUTBOX} "
                "WHERE next_attempt_at <= ? ORDER BY next_attempt_at, enrolment_id LIMIT ?",
                (iso(now), limit),
            )
        return [OutgoingEmail(UUID(r[0]), r[1], UUID(r[2]), r[3], r[4], int(r[5])) for r in rows]

    def outbox_size(self) -> int:
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(f"SELECT COUNT(*) FROM {OUTBOX}")
        return int(found[0]) if found else 0


def _local(text: str | None, tz: Any) -> str | None:
    instant = parse_time(text)
    return instant.astimezone(tz).isoformat() if instant else None
