"""When each step of a sequence falls due for a lead enrolled at a given moment, with a seller's
calendar (`GET /v1/sequences/{id}/preview`): for admins to check their waits.

The preview assumes every activity is done the moment it falls due, and at each condition takes
the branch that reaches its end soonest (the shortest path): a Yes on an e-mail signal arrives at
once when the sequence branches as soon as a signal arrives, else at the time limit; a No on a
signal comes at the limit; every other condition is decided when it is reached. Waits use the
business calendar (`wait_days`: skipping non-working days or not, as the sequence's setting says);
their hours are added on the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from leadflow_shared.calendars import BusinessCalendar

from .definition import EMAIL_SIGNALS
from .enrolment import wait_over

Timeline = list[dict[str, Any]]


def preview(
    steps: Sequence[Mapping[str, Any]],
    settings: Mapping[str, bool],
    *,
    start: datetime,
    calendar: BusinessCalendar,
) -> Timeline:
    """[{step_id, type, due_at, branch?}] along the shortest path, in order."""
    timeline, _ = _run(steps, start, settings, calendar)
    return timeline


def _run(
    steps: Sequence[Mapping[str, Any]], at: datetime, settings: Mapping[str, bool], calendar: BusinessCalendar
) -> tuple[Timeline, datetime]:
    timeline: Timeline = []
    for step in steps:
        kind = step.get("type")
        if kind == "wait":
            at = wait_over(step, at, calendar, settings)
            timeline.append({"step_id": step["id"], "type": kind, "due_at": at})
            continue
        if kind != "condition":
            timeline.append({"step_id": step["id"], "type": kind, "due_at": at})
            continue
        decided_yes, decided_no = at, at
        if step.get("kind") in EMAIL_SIGNALS:
            limit = at + timedelta(hours=int(step.get("within_hours") or 0))
            decided_no = limit
            decided_yes = at if settings.get("branch_on_signal_at_once", True) else limit
        yes, yes_end = _run(step.get("yes") or [], decided_yes, settings, calendar)
        no, no_end = _run(step.get("no") or [], decided_no, settings, calendar)
        if (yes_end, len(yes)) <= (no_end, len(no)):
            timeline.append({"step_id": step["id"], "type": kind, "due_at": decided_yes, "branch": "yes"})
            return timeline + yes, yes_end
        timeline.append({"step_id": step["id"], "type": kind, "due_at": decided_no, "branch": "no"})
        return timeline + no, no_end
    return timeline, at
