"""An Enrolment: one lead walking one version of one sequence, step by step.

The enrolment stands on one step at a time (`current`). Entering a step:
- an activity (e-mail, SMS, call, task, automated e-mail, automated SMS) or a command (update a
  field, advance to another sequence) falls due at once: `StepDue` is recorded. A manual
  activity then waits for its seller (complete, skip, snooze); an automated e-mail is queued for
  the mailer (the step completes when it is sent, and is skipped when delivery finally fails);
  an automated SMS records a send request for the gateway and completes; the commands complete
  (`advance` ends this enrolment, the application enrols the lead in the target);
- a wait sets a durable deadline at the end of the wait (business days on the seller's calendar,
  skipping non-working days or not as the sequence says, then hours on the clock);
- a condition decides its branch: at once for call outcomes, lead fields and stages; for an
  e-mail signal at once if it has arrived (and the sequence branches as soon as signals arrive),
  else a deadline at the time limit decides it. A skipped (or undelivered) step takes No.
Every due time is recorded in the event that sets it, so replaying an enrolment never consults
a calendar again. Deadlines fire exactly once in effect (`HasDeadlines`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from leadflow_shared.calendars import BusinessCalendar
from leadflow_shared.deadlines import HasDeadlines

from .definition import EMAIL_SIGNALS, SequenceError
from .plan import Plan, Step

ACTIVE, COMPLETED, EXITED = "active", "completed", "exited"
MANUAL: Final = ("email", "sms", "call", "task")
AUTOMATED: Final = ("auto_email", "auto_sms", "update_field", "advance")
SNOOZABLE: Final = ("email", "sms", "call")
"""Manual activities a seller may snooze (not tasks)."""
STEP_DUE, WAIT_OVER, SIGNAL_LIMIT = "step-due", "wait-over", "signal-limit"
EXIT_CAUSES: Final = (
    "disconnected",
    "replied",
    "disqualified",
    "converted",
    "qualified",
    "closed_invalid",
    "voided",
    "deleted",
    "recycled",
    "sequence_deactivated",
    "sequence_deleted",
)
SYSTEM = "system"

_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:sequence:enrolment")


def enrolment_id_for(lead_id: UUID, sequence_id: UUID, round_: int) -> UUID:
    """The lead's `round_`-th enrolment in the sequence (a lead may be enrolled again after it left)."""
    return uuid5(_NAMESPACE, f"{lead_id}:{sequence_id}:{round_}")


class NotCurrent(SequenceError):
    """The action is about a step the enrolment is not on, or one that does not allow it (409)."""


class EnrolmentEnded(SequenceError):
    """The enrolment has completed or exited (409)."""


class InvalidSignal(SequenceError, ValueError):
    """A signal the enrolment cannot use (422 over HTTP; a dead letter on Kafka)."""


@dataclass(frozen=True)
class Context:
    """What walking needs besides the enrolment: its version's plan, the owner's calendar, the
    lead's fields (for field and stage conditions) and the time now."""

    plan: Plan
    calendar: BusinessCalendar
    facts: Mapping[str, Any]
    now: datetime


def wait_over(step: Step, at: datetime, calendar: BusinessCalendar, settings: Mapping[str, bool]) -> datetime:
    """When a wait reached at `at` ends: its days on the calendar (`wait_days`: whole days after
    the day it was reached, then the first working moment), then its hours on the clock."""
    days = int(step.get("days", 0))
    if days:
        at = calendar.wait_days(at, days, skip_non_working=settings["skip_non_working_days"])
    return at + timedelta(hours=int(step.get("hours", 0)))


def field_of(facts: Mapping[str, Any], name: str) -> Any:
    """A lead field by dotted name (`company.country`, `attributes.event`)."""
    value: Any = facts
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class Enrolment(HasDeadlines):
    """One lead in one sequence (one version of it), owned by a seller."""

    @staticmethod
    def create_id(lead_id: UUID, sequence_id: UUID, round_: int, **_: Any) -> UUID:
        return enrolment_id_for(lead_id, sequence_id, round_)

    @event("Enrolled")
    def __init__(
        self,
        lead_id: UUID,
        sequence_id: UUID,
        round_: int,
        sequence_version: int,
        owner_id: str | None,
        via: str,
        segment_id: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        self.lead_id = lead_id
        self.sequence_id = sequence_id
        self.round = round_
        self.sequence_version = sequence_version
        self.owner_id = owner_id
        self.via = via
        self.segment_id = segment_id
        self.enrolled_at = at
        self.status = ACTIVE
        self.ended_at: datetime | None = None
        self.exit_cause: str | None = None
        self.advanced_to: str | None = None
        self.current: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.outcomes: dict[str, str] = {}
        self.signals: dict[str, dict[str, datetime]] = {}
        self.emails: dict[str, dict[str, Any]] = {}

    @classmethod
    def start(
        cls,
        lead_id: UUID,
        round_: int,
        ctx: Context,
        *,
        owner_id: str | None,
        via: str,
        segment_id: str | None,
        actor: str,
    ) -> tuple[Enrolment, UUID | None]:
        """Enrol and enter the first step; returns the enrolment and the sequence it advanced to
        at once, if its steps led straight to an advance."""
        enrolment = cls(
            lead_id=lead_id,
            sequence_id=ctx.plan.sequence_id,
            round_=round_,
            sequence_version=ctx.plan.version,
            owner_id=owner_id,
            via=via,
            segment_id=segment_id,
            actor=actor,
            at=ctx.now,
        )
        return enrolment, enrolment._enter(ctx.plan.first(), ctx.now, ctx)

    # -- reading ---------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def done_steps(self) -> list[dict[str, Any]]:
        return [h for h in self.history if h["action"] in ("completed", "skipped")]

    def _check_active(self) -> None:
        if not self.active:
            raise EnrolmentEnded(f"the enrolment has {self.status} ({self.exit_cause or 'all steps done'})")

    def _check_current(self, step_id: str, kinds: tuple[str, ...], action: str) -> dict[str, Any]:
        self._check_active()
        current = self.current
        if current is None or current["step_id"] != step_id:
            on = current["step_id"] if current else "no step"
            raise NotCurrent(f"step {step_id} is not the current step (the enrolment is on {on})")
        if current["type"] not in kinds:
            raise NotCurrent(f"cannot {action} a {current['type']} step")
        return current

    # -- walking ---------------------------------------------------------------------------

    def _deadline_id(self, step_id: str) -> str:
        return f"{step_id}#{len(self.deadline_book()) + 1}"

    def _enter(self, step: Step | None, at: datetime, ctx: Context) -> UUID | None:
        """Walk from `step` (reached at `at`) to the next step that waits for something."""
        while True:
            if step is None:
                self._finished(advanced_to=None, at=at)
                return None
            step_id, kind = str(step["id"]), str(step["type"])
            if kind == "wait":
                due = wait_over(step, at, ctx.calendar, ctx.plan.settings)
                following = ctx.plan.after(step_id)
                self._reached(
                    step_id=step_id,
                    step_type=kind,
                    due_at=due,
                    then=None if following is None else {"step_id": following["id"], "type": following["type"]},
                    at=at,
                )
                self.set_deadline(self._deadline_id(step_id), due, WAIT_OVER)
                return None
            if kind == "condition":
                decision = self._decide(step, at, ctx)
                if decision is None:  # an e-mail signal: decided at its time limit, or when it arrives
                    limit = at + timedelta(hours=int(step["within_hours"]))
                    self._reached(step_id=step_id, step_type=kind, due_at=limit, then=None, at=at)
                    self.set_deadline(self._deadline_id(step_id), limit, SIGNAL_LIMIT)
                    return None
                branch, reason = decision
                self._branched(step_id=step_id, branch=branch, reason=reason, at=at)
                step = ctx.plan.branch_start(step_id, branch)
                continue
            self._reached(step_id=step_id, step_type=kind, due_at=at, then=None, at=at)
            self._fell_due(step_id=step_id, due_at=at, at=ctx.now)
            if kind in MANUAL:
                return None
            if kind == "auto_email":
                self._email_queued(step_id=step_id, template=dict(step["template"]), at=ctx.now)
                return None
            if kind == "auto_sms":
                self._sms_requested(step_id=step_id, text=str(step["text"]), at=ctx.now)
                self._completed(step_id=step_id, outcome="requested", note=None, actor=SYSTEM, at=at)
            elif kind == "update_field":
                self._completed(
                    step_id=step_id,
                    outcome="requested",
                    note=None,
                    actor=SYSTEM,
                    at=at,
                    command={"field": step["field"], "value": step["value"]},
                )
            elif kind == "advance":
                target = UUID(str(step["sequence_id"]))
                self._completed(step_id=step_id, outcome="advanced", note=None, actor=SYSTEM, at=at)
                self._finished(advanced_to=str(target), at=at)
                return target
            step = ctx.plan.after(step_id)

    def _decide(self, step: Step, at: datetime, ctx: Context) -> tuple[str, str] | None:
        """(branch, why) if the condition can be decided now; None: wait for a signal or the limit."""
        kind, about = step["kind"], str(step.get("step_id", ""))
        if kind in EMAIL_SIGNALS:
            if self._was_skipped(about):
                return "no", f"step {about} was skipped"
            arrived = self.signals.get(about, {}).get(kind)
            if arrived is not None and ctx.plan.settings.get("branch_on_signal_at_once", True):
                return "yes", f"{kind} on step {about} at {arrived.isoformat()}"
            return None
        if kind == "call_outcome":
            if self._was_skipped(about):
                return "no", f"step {about} was skipped"
            outcome = self.outcomes.get(about)
            branch = "yes" if outcome == step["outcome"] else "no"
            return branch, f"the call's outcome is {outcome!r}"
        if kind == "field_value":
            value = field_of(ctx.facts, str(step["field"]))
            return ("yes" if value == step["equals"] else "no"), f"{step['field']} is {value!r}"
        stage = ctx.facts.get("stage")
        return ("yes" if stage == step["stage"] else "no"), f"the lead's stage is {stage!r}"

    def _was_skipped(self, step_id: str) -> bool:
        return any(h["step_id"] == step_id and h["action"] == "skipped" for h in self.history)

    def _leave_current(self) -> None:
        """Cancel what the current step waits for (its open deadlines)."""
        for deadline_id in list(self.open_deadlines()):
            self.cancel_deadline(deadline_id)

    # -- the seller's actions --------------------------------------------------------------

    def complete(
        self, step_id: str, ctx: Context, *, actor: str, outcome: str | None = None, note: str | None = None
    ) -> UUID | None:
        current = self._check_current(step_id, MANUAL, "complete")
        if outcome is not None and current["type"] != "call":
            raise NotCurrent("an outcome is recorded for calls only")
        self._leave_current()
        self._completed(step_id=step_id, outcome=outcome, note=note, actor=actor, at=ctx.now)
        return self._enter(ctx.plan.after(step_id), ctx.now, ctx)

    def skip(self, step_id: str, ctx: Context, *, actor: str, reason: str = "skipped") -> UUID | None:
        self._check_current(step_id, (*MANUAL, *AUTOMATED), "skip")
        self._leave_current()
        self._skipped(step_id=step_id, reason=reason, actor=actor, at=ctx.now)
        return self._enter(ctx.plan.after(step_id), ctx.now, ctx)

    def skip_wait(self, step_id: str, ctx: Context, *, actor: str) -> UUID | None:
        self._check_current(step_id, ("wait",), "skip the wait of")
        self._leave_current()
        self._skipped(step_id=step_id, reason="wait skipped", actor=actor, at=ctx.now)
        return self._enter(ctx.plan.after(step_id), ctx.now, ctx)

    def snooze(self, step_id: str, until: datetime, ctx: Context, *, actor: str) -> None:
        self._check_current(step_id, SNOOZABLE, "snooze")
        if until <= ctx.now:
            raise InvalidSignal("until: must be in the future")
        if until - ctx.now > timedelta(days=30):
            raise InvalidSignal("until: at most 30 days ahead")
        self._leave_current()
        self._snoozed(step_id=step_id, until=until, actor=actor, at=ctx.now)
        self.set_deadline(self._deadline_id(step_id), until, STEP_DUE)

    # -- what arrives from outside -----------------------------------------------------------

    def signal(self, kind: str, step_id: str, occurred_at: datetime, ctx: Context, *, source: str) -> UUID | None:
        """An e-mail signal about one of this enrolment's e-mail steps. Returns the sequence the
        enrolment advanced to, if the signal led to an advance. A repeated signal changes nothing."""
        if kind not in EMAIL_SIGNALS:
            raise InvalidSignal(f"kind: one of {', '.join(EMAIL_SIGNALS)}")
        if not ctx.plan.has(step_id) or ctx.plan.step(step_id)["type"] not in ("email", "auto_email"):
            raise InvalidSignal(f"step_id: {step_id} is not an e-mail step of this sequence's version")
        if not any(h["step_id"] == step_id and h["action"] == "completed" for h in self.history):
            raise InvalidSignal(f"step_id: e-mail step {step_id} has not been sent yet")
        if kind in self.signals.get(step_id, {}):
            return None
        self._signalled(kind=kind, step_id=step_id, occurred_at=occurred_at, source=source, at=ctx.now)
        if not self.active:
            return None
        if kind == "email_replied" and ctx.plan.settings.get("exit_on_reply", True):
            self.exit("replied", actor=SYSTEM, at=ctx.now)
            return None
        current = self.current
        if current is None or current["type"] != "condition":
            return None
        condition = ctx.plan.step(current["step_id"])
        within = occurred_at <= current["due_at"]
        if (
            condition["kind"] == kind
            and str(condition.get("step_id")) == step_id
            and within
            and ctx.plan.settings.get("branch_on_signal_at_once", True)
        ):
            self._leave_current()
            self._branched(step_id=current["step_id"], branch="yes", reason=f"{kind} on step {step_id}", at=ctx.now)
            return self._enter(ctx.plan.branch_start(current["step_id"], "yes"), ctx.now, ctx)
        return None

    def deadline_fired(self, deadline_id: str, purpose: str, ctx: Context) -> UUID | None:
        """A deadline of the current step fired (the runner has recorded it)."""
        current = self.current
        if not self.active or current is None or not deadline_id.startswith(f"{current['step_id']}#"):
            return None  # nothing waits for it any more
        due_at: datetime = self.deadline_book()[deadline_id]["due_at"]
        step_id = current["step_id"]
        if purpose == WAIT_OVER:
            self._completed(step_id=step_id, outcome=None, note=None, actor=SYSTEM, at=due_at)
            return self._enter(ctx.plan.after(step_id), due_at, ctx)
        if purpose == SIGNAL_LIMIT:
            condition = ctx.plan.step(step_id)
            about, kind = str(condition.get("step_id")), condition["kind"]
            arrived = self.signals.get(about, {}).get(kind)
            if arrived is not None and arrived <= due_at:
                branch, reason = "yes", f"{kind} on step {about} at {arrived.isoformat()}"
            else:
                branch, reason = "no", f"no {kind} on step {about} within {condition['within_hours']} hours"
            self._branched(step_id=step_id, branch=branch, reason=reason, at=due_at)
            return self._enter(ctx.plan.branch_start(step_id, branch), due_at, ctx)
        if purpose == STEP_DUE:  # a snoozed step is due again
            self._fell_due(step_id=step_id, due_at=due_at, at=ctx.now)
        return None

    def email_sent(self, step_id: str, message_id: str, ctx: Context) -> UUID | None:
        """The mailer delivered the automated e-mail of `step_id`."""
        if self.emails.get(step_id, {}).get("status") == "sent":
            return None
        self._email_sent(step_id=step_id, message_id=message_id, at=ctx.now)
        current = self.current
        if not self.active or current is None or current["step_id"] != step_id:
            return None  # skipped or exited meanwhile: recorded, nothing else moves
        self._completed(step_id=step_id, outcome="sent", note=None, actor=SYSTEM, at=ctx.now)
        return self._enter(ctx.plan.after(step_id), ctx.now, ctx)

    def email_failed(self, step_id: str, reason: str, attempt: int, final: bool, ctx: Context) -> UUID | None:
        """A delivery attempt failed; `final`: no more attempts (the step is skipped: No paths)."""
        if self.emails.get(step_id, {}).get("status") in ("sent", "failed"):
            return None
        self._email_failed(step_id=step_id, reason=reason, attempt=attempt, final=final, at=ctx.now)
        current = self.current
        if not final or not self.active or current is None or current["step_id"] != step_id:
            return None
        self._skipped(step_id=step_id, reason=f"delivery failed: {reason}", actor=SYSTEM, at=ctx.now)
        return self._enter(ctx.plan.after(step_id), ctx.now, ctx)

    def reassign(self, owner_id: str | None, at: datetime) -> bool:
        """The lead has a new owner: the enrolment (and its work) follows."""
        if not self.active or owner_id == self.owner_id:
            return False
        self._owner_changed(owner_id=owner_id, previous_owner_id=self.owner_id, at=at)
        return True

    def exit(self, cause: str, *, actor: str, at: datetime) -> bool:
        """Leave the sequence early; False if the enrolment had already ended."""
        if not self.active:
            return False
        self._leave_current()
        self._exited(cause=cause, actor=actor, at=at)
        return True

    # -- events --------------------------------------------------------------------------------

    @event("StepReached")
    def _reached(
        self, step_id: str, step_type: str, due_at: datetime, then: dict[str, Any] | None, at: datetime
    ) -> None:
        self.current = {"step_id": step_id, "type": step_type, "since": at, "due_at": due_at, "due": False}
        if then is not None:
            self.current["then"] = then

    @event("StepDue")
    def _fell_due(self, step_id: str, due_at: datetime, at: datetime) -> None:
        if self.current is not None and self.current["step_id"] == step_id:
            self.current.update(due=True, due_at=due_at)

    @event("StepCompleted")
    def _completed(
        self,
        step_id: str,
        outcome: str | None,
        note: str | None,
        actor: str,
        at: datetime,
        command: dict[str, Any] | None = None,
    ) -> None:
        kind = self.current["type"] if self.current else ""
        entry: dict[str, Any] = {"step_id": step_id, "type": kind, "action": "completed", "at": at, "actor": actor}
        if outcome is not None:
            entry["outcome"] = outcome
            if kind == "call":
                self.outcomes[step_id] = outcome
        if note:
            entry["note"] = note
        if command is not None:
            entry["command"] = command
        self.history.append(entry)
        self.current = None

    @event("StepSkipped")
    def _skipped(self, step_id: str, reason: str, actor: str, at: datetime) -> None:
        kind = self.current["type"] if self.current else ""
        self.history.append(
            {"step_id": step_id, "type": kind, "action": "skipped", "reason": reason, "at": at, "actor": actor}
        )
        self.current = None

    @event("StepSnoozed")
    def _snoozed(self, step_id: str, until: datetime, actor: str, at: datetime) -> None:
        if self.current is not None:
            self.current.update(due=False, due_at=until, snoozed_until=until)
        self.history.append({"step_id": step_id, "action": "snoozed", "until": until, "at": at, "actor": actor})

    @event("BranchTaken")
    def _branched(self, step_id: str, branch: str, reason: str, at: datetime) -> None:
        self.history.append(
            {
                "step_id": step_id,
                "type": "condition",
                "action": "branched",
                "branch": branch,
                "reason": reason,
                "at": at,
            }
        )
        self.current = None

    @event("SignalReceived")
    def _signalled(self, kind: str, step_id: str, occurred_at: datetime, source: str, at: datetime) -> None:
        self.signals.setdefault(step_id, {})[kind] = occurred_at

    @event("EmailQueued")
    def _email_queued(self, step_id: str, template: dict[str, str], at: datetime) -> None:
        self.emails[step_id] = {"status": "queued", "attempts": 0, "queued_at": at}

    @event("EmailSent")
    def _email_sent(self, step_id: str, message_id: str, at: datetime) -> None:
        self.emails.setdefault(step_id, {}).update(status="sent", message_id=message_id, sent_at=at)

    @event("EmailFailed")
    def _email_failed(self, step_id: str, reason: str, attempt: int, final: bool, at: datetime) -> None:
        self.emails.setdefault(step_id, {}).update(
            status="failed" if final else "retrying", attempts=attempt, last_error=reason, failed_at=at
        )

    @event("SmsRequested")
    def _sms_requested(self, step_id: str, text: str, at: datetime) -> None:
        pass

    @event("OwnerChanged")
    def _owner_changed(self, owner_id: str | None, previous_owner_id: str | None, at: datetime) -> None:
        self.owner_id = owner_id

    @event("Exited")
    def _exited(self, cause: str, actor: str, at: datetime) -> None:
        self.status, self.exit_cause, self.ended_at, self.current = EXITED, cause, at, None

    @event("Finished")
    def _finished(self, advanced_to: str | None, at: datetime) -> None:
        self.status, self.ended_at, self.current, self.advanced_to = COMPLETED, at, None, advanced_to
