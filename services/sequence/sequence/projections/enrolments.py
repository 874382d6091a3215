"""The enrolment list and the e-mail outbox: every Enrolment event projected into one row per
enrolment (its owner, status, current step and when it is due) and one row per automated e-mail
still to be delivered. Every column is derived from events alone, so a rebuilt read model equals
the live one.

Times are ISO-8601 text in UTC with microseconds (text order is time order in SQLite and
PostgreSQL alike). The outbox row of an e-mail goes when the e-mail is sent, finally fails, or its
step or enrolment is left; a failed attempt moves its next attempt later (`retry_delay`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from leadflow_shared.readstore import Tx
from leadflow_shared.views import utc_text

from ..domain import Enrolment
from ..mail import retry_delay

EnrolmentEvent: Any = Enrolment

ENROLMENTS = "sequence_rm_enrolments"
OUTBOX = "sequence_outbox"
TABLES = (ENROLMENTS, OUTBOX)
PRIMARY_KEYS = {ENROLMENTS: "enrolment_id", OUTBOX: "enrolment_id, step_id"}

COLUMNS: tuple[str, ...] = (
    "enrolment_id",
    "version",
    "lead_id",
    "sequence_id",
    "sequence_version",
    "owner_id",
    "via",
    "segment_id",
    "status",
    "exit_cause",
    "current_step",
    "current_type",
    "due_at",
    "is_due",
    "next_step",
    "next_type",
    "steps_done",
    "enrolled_at",
    "ended_at",
    "updated_at",
)

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {ENROLMENTS} (
        enrolment_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        lead_id TEXT NOT NULL,
        sequence_id TEXT NOT NULL,
        sequence_version INTEGER NOT NULL,
        owner_id TEXT,
        via TEXT NOT NULL,
        segment_id TEXT,
        status TEXT NOT NULL,
        exit_cause TEXT,
        current_step TEXT,
        current_type TEXT,
        due_at TEXT,
        is_due INTEGER NOT NULL,
        next_step TEXT,
        next_type TEXT,
        steps_done INTEGER NOT NULL,
        enrolled_at TEXT NOT NULL,
        ended_at TEXT,
        updated_at TEXT NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS {ENROLMENTS}_owner_due ON {ENROLMENTS} (owner_id, status, due_at)",
    f"CREATE INDEX IF NOT EXISTS {ENROLMENTS}_sequence ON {ENROLMENTS} (sequence_id, status, enrolled_at)",
    f"CREATE INDEX IF NOT EXISTS {ENROLMENTS}_lead ON {ENROLMENTS} (lead_id)",
    f"""CREATE TABLE IF NOT EXISTS {OUTBOX} (
        enrolment_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        lead_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        queued_at TEXT NOT NULL,
        next_attempt_at TEXT NOT NULL,
        PRIMARY KEY (enrolment_id, step_id)
    )""",
    f"CREATE INDEX IF NOT EXISTS {OUTBOX}_next ON {OUTBOX} (next_attempt_at)",
)
_SCHEMA_LOCK_KEY = 7_305_113_003

Row = dict[str, Any]
iso = utc_text


def _enrolled(row: Row, e: Any) -> None:
    row.update(
        enrolment_id=str(e.originator_id),
        lead_id=str(e.lead_id),
        sequence_id=str(e.sequence_id),
        sequence_version=e.sequence_version,
        owner_id=e.owner_id,
        via=e.via,
        segment_id=e.segment_id,
        status="active",
        exit_cause=None,
        current_step=None,
        current_type=None,
        due_at=None,
        is_due=0,
        next_step=None,
        next_type=None,
        steps_done=0,
        enrolled_at=iso(e.at),
        ended_at=None,
    )


def _reached(row: Row, e: Any) -> None:
    then = e.then or {}
    row.update(
        current_step=e.step_id,
        current_type=e.step_type,
        due_at=iso(e.due_at),
        is_due=0,
        next_step=then.get("step_id"),
        next_type=then.get("type"),
    )


def _due(row: Row, e: Any) -> None:
    row.update(is_due=1, due_at=iso(e.due_at))


def _done(row: Row, e: Any) -> None:
    row.update(steps_done=row["steps_done"] + 1, **_no_step())


def _snoozed(row: Row, e: Any) -> None:
    row.update(is_due=0, due_at=iso(e.until))


def _branched(row: Row, e: Any) -> None:
    row.update(_no_step())


def _owner_changed(row: Row, e: Any) -> None:
    row["owner_id"] = e.owner_id


def _exited(row: Row, e: Any) -> None:
    row.update(status="exited", exit_cause=e.cause, ended_at=iso(e.at), **_no_step())


def _finished(row: Row, e: Any) -> None:
    row.update(status="completed", exit_cause=None, ended_at=iso(e.at), **_no_step())


def _no_step() -> Row:
    return {
        "current_step": None,
        "current_type": None,
        "due_at": None,
        "is_due": 0,
        "next_step": None,
        "next_type": None,
    }


def _nothing_listed(row: Row, e: Any) -> None:
    """The list shows nothing of it (only the version and the time of the change move)."""


ROW_HANDLERS: dict[type[Any], Callable[[Row, Any], None]] = {
    EnrolmentEvent.Enrolled: _enrolled,
    EnrolmentEvent.StepReached: _reached,
    EnrolmentEvent.StepDue: _due,
    EnrolmentEvent.StepCompleted: _done,
    EnrolmentEvent.StepSkipped: _done,
    EnrolmentEvent.StepSnoozed: _snoozed,
    EnrolmentEvent.BranchTaken: _branched,
    EnrolmentEvent.OwnerChanged: _owner_changed,
    EnrolmentEvent.Exited: _exited,
    EnrolmentEvent.Finished: _finished,
    EnrolmentEvent.SignalReceived: _nothing_listed,
    EnrolmentEvent.EmailQueued: _nothing_listed,
    EnrolmentEvent.EmailSent: _nothing_listed,
    EnrolmentEvent.EmailFailed: _nothing_listed,
    EnrolmentEvent.SmsRequested: _nothing_listed,
}


class EnrolmentsProjection:
    """What each Enrolment event does to the list and the outbox (a Projection for the shared runner)."""

    name = "enrolments"
    event_classes: Sequence[type[Any]] = tuple(ROW_HANDLERS)

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
        wanted = list(dict.fromkeys(str(e.originator_id) for e in events if not isinstance(e, EnrolmentEvent.Enrolled)))
        if wanted:
            found = tx.fetch_in(f"SELECT {', '.join(COLUMNS)} FROM {ENROLMENTS} WHERE", "enrolment_id", wanted)
            rows.update({i: None for i in wanted})
            rows.update({r[0]: dict(zip(COLUMNS, r, strict=True)) for r in found})
        for e in events:
            enrolment_id = str(e.originator_id)
            if isinstance(e, EnrolmentEvent.Enrolled):
                row: Row | None = {}
                rows[enrolment_id] = row
            else:
                row = rows.get(enrolment_id)
            if row is None:
                continue
            self._outbox(tx, row, e)
            ROW_HANDLERS[type(e)](row, e)
            row["version"] = e.originator_version
            at = getattr(e, "at", None)
            if at is not None:
                row["updated_at"] = iso(at)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "enrolment_id")
        tx.executemany(
            f"INSERT INTO {ENROLMENTS} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
            f"ON CONFLICT (enrolment_id) DO UPDATE SET {updates}",
            [[row[c] for c in COLUMNS] for row in rows.values() if row],
        )

    @staticmethod
    def _outbox(tx: Tx, row: Row, e: Any) -> None:
        enrolment_id = str(e.originator_id)
        if isinstance(e, EnrolmentEvent.EmailQueued):
            tx.execute(
                f"INSERT INTO {OUTBOX} (enrolment_id, step_id, lead_id, subject, body, attempts, last_error, "
                "queued_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, 0, NULL, ?, ?) "
                "ON CONFLICT (enrolment_id, step_id) DO NOTHING",
                (
                    enrolment_id,
                    e.step_id,
                    row["lead_id"],
                    e.template["subject"],
                    e.template["body"],
                    iso(e.at),
                    iso(e.at),
                ),
            )
        elif isinstance(e, EnrolmentEvent.EmailFailed) and not e.final:
            tx.execute(
                f"UPDATE {OUTBOX} SET attempts = ?, last_error = ?, next_attempt_at = ? "
                "WHERE enrolment_id = ? AND step_id = ?",
                (e.attempt, e.reason[:500], iso(e.at + retry_delay(e.attempt)), enrolment_id, e.step_id),
            )
        elif isinstance(e, EnrolmentEvent.EmailSent | EnrolmentEvent.EmailFailed | EnrolmentEvent.StepSkipped):
            tx.execute(f"DELETE FROM {OUTBOX} WHERE enrolment_id = ? AND step_id = ?", (enrolment_id, e.step_id))
        elif isinstance(e, EnrolmentEvent.Exited):
            tx.execute(f"DELETE FROM {OUTBOX} WHERE enrolment_id = ?", (enrolment_id,))


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
