"""A sequence's definition, after Dynamics 365 Sales sequences: its steps, its settings, its versions.

Steps are a tree: a list of steps in order, where a condition step ends its list and carries on in
its Yes and No branches (each a list of steps again). A step is a JSON object with an `id` unique in
the sequence and a `type`:

- activities: `email` (manual), `auto_email` (needs `template` {subject, body}), `sms`, `auto_sms`
  (needs `text`), `call`, `task`;
- `wait` {days, hours}: at most 30 days, more than nothing, never the last step of a path;
- commands: `update_field` {field, value}; `advance` {sequence_id}: not the first step, nothing
  after it;
- `condition` {kind, yes: [...], no: [...]}: `email_opened` / `email_replied` / `link_clicked` /
  `attachment_downloaded` (about an earlier email step on the same path, `step_id`, within
  `within_hours`), `call_outcome` (an earlier call step's `outcome`), `field_value` {field,
  equals}, `lead_stage` {stage}. A skipped step takes the No path.

Versions: a sequence is created as draft version 1. Only a draft is edited. Activating a draft makes
it the active version (the one before it stays for the leads enrolled on it); `new_version` starts
a draft from the active one; deactivating makes the sequence inactive. `problems(...)` lists
everything that stops a draft from being activated (step id + reason), all at once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import event

from leadflow_shared.deadlines import HasDeadlines

DRAFT, ACTIVE, INACTIVE, SUPERSEDED = "draft", "active", "inactive", "superseded"
ACTIVITIES: Final = ("email", "auto_email", "sms", "auto_sms", "call", "task")
COMMANDS: Final = ("update_field", "advance")
STEP_TYPES: Final = (*ACTIVITIES, "wait", *COMMANDS, "condition")
EMAIL_SIGNALS: Final = ("email_opened", "email_replied", "link_clicked", "attachment_downloaded")
CONDITIONS: Final = (*EMAIL_SIGNALS, "call_outcome", "field_value", "lead_stage")
MAX_WAIT_DAYS = 30
MAX_SIGNAL_HOURS = 30 * 24
MAX_STEPS = 100
MAX_ACTIVE_SEQUENCES = 250
SETTINGS_DEFAULTS: Final[Mapping[str, bool]] = {
    "skip_non_working_days": True,
    "exit_on_reply": True,
    "branch_on_signal_at_once": True,
}


@dataclass(frozen=True)
class Problem:
    """One reason a draft cannot be activated (`step_id` None: the sequence as a whole)."""

    step_id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"step_id": self.step_id, "reason": self.reason}


class SequenceError(Exception):
    """Base of sequence's domain errors."""


class NotADraft(SequenceError):
    """Only a draft is edited or activated (HTTP 409)."""


class NotActive(SequenceError):
    """Leads are enrolled in active sequences only (HTTP 409)."""


class CannotActivate(SequenceError):
    """The draft has problems (HTTP 422 listing each)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(
            f"{len(problems)} problem(s): " + "; ".join(f"{p.step_id or '-'}: {p.reason}" for p in problems)
        )
        self.problems = list(problems)


def walk(steps: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every step of the tree, depth first, in order."""
    for step in steps:
        if not isinstance(step, Mapping):
            continue
        yield step
        if step.get("type") == "condition":
            for branch in ("yes", "no"):
                if isinstance(step.get(branch), list):
                    yield from walk(step[branch])


def problems(steps: Sequence[Mapping[str, Any]], *, sequence_id: UUID | None = None) -> list[Problem]:
    """Everything that stops these steps from being activated."""
    found: list[Problem] = []
    if not steps:
        return [Problem(None, "a sequence needs at least one step")]
    all_steps = list(walk(steps))
    if len(all_steps) > MAX_STEPS:
        found.append(Problem(None, f"at most {MAX_STEPS} steps"))
    seen: set[str] = set()
    for step in all_steps:
        step_id = step.get("id")
        if not isinstance(step_id, str) or not step_id:
            found.append(Problem(None, "every step needs an id"))
        elif step_id in seen:
            found.append(Problem(step_id, "the id is used by another step"))
        else:
            seen.add(step_id)
    _check_path(steps, [], found, first=True, sequence_id=sequence_id)
    return found


def _check_path(
    steps: Sequence[Mapping[str, Any]],
    before: list[Mapping[str, Any]],
    found: list[Problem],
    *,
    first: bool,
    sequence_id: UUID | None,
) -> None:
    """Check one list of steps; `before`: the steps on the path before it."""
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            found.append(Problem(None, "every step is a JSON object"))
            continue
        step_id = str(step.get("id") or "")
        kind = step.get("type")
        last = index == len(steps) - 1
        if kind not in STEP_TYPES:
            found.append(Problem(step_id, f"unknown type {kind!r}; one of {', '.join(STEP_TYPES)}"))
            continue
        if kind == "wait":
            _check_wait(step, step_id, found, last=last)
        elif kind == "auto_email":
            template = step.get("template") or {}
            if not isinstance(template, Mapping) or not template.get("subject") or not template.get("body"):
                found.append(Problem(step_id, "an automated email needs a template with a subject and a body"))
        elif kind == "auto_sms" and not step.get("text"):
            found.append(Problem(step_id, "an automated SMS needs its text"))
        elif kind == "update_field" and (not step.get("field") or "value" not in step):
            found.append(Problem(step_id, "an update-field command needs a field and a value"))
        elif kind == "advance":
            if first and index == 0:
                found.append(Problem(step_id, "advance to another sequence cannot be the first step"))
            if not last:
                found.append(Problem(step_id, "nothing may follow advance to another sequence"))
            target = step.get("sequence_id")
            if not target:
                found.append(Problem(step_id, "advance needs the sequence to advance to (sequence_id)"))
            elif sequence_id is not None and str(target) == str(sequence_id):
                found.append(Problem(step_id, "a sequence cannot advance to itself"))
        elif kind == "condition":
            if not last:
                found.append(Problem(step_id, "a condition ends its path: put the steps after it in its branches"))
            _check_condition(step, step_id, [*before, *steps[:index]], found)
            for branch in ("yes", "no"):
                branch_steps = step.get(branch) or []
                if not isinstance(branch_steps, list):
                    found.append(Problem(step_id, f"{branch} is a list of steps"))
                    continue
                _check_path(branch_steps, [*before, *steps[: index + 1]], found, first=False, sequence_id=sequence_id)


def _check_wait(step: Mapping[str, Any], step_id: str, found: list[Problem], *, last: bool) -> None:
    days, hours = step.get("days", 0), step.get("hours", 0)
    if not isinstance(days, int) or not isinstance(hours, int) or days < 0 or not 0 <= hours < 24:
        found.append(Problem(step_id, "a wait is whole days (0 or more) and hours (0 to 23)"))
        return
    if days == 0 and hours == 0:
        found.append(Problem(step_id, "a wait must wait: give days or hours"))
    if days * 24 + hours > MAX_WAIT_DAYS * 24:
        found.append(Problem(step_id, f"a wait is at most {MAX_WAIT_DAYS} days"))
    if last:
        found.append(Problem(step_id, "a wait cannot be the last step of a path"))


def _check_condition(
    step: Mapping[str, Any], step_id: str, path: list[Mapping[str, Any]], found: list[Problem]
) -> None:
    kind = step.get("kind")
    if kind not in CONDITIONS:
        found.append(Problem(step_id, f"unknown condition {kind!r}; one of {', '.join(CONDITIONS)}"))
        return
    earlier = {str(s.get("id")): s.get("type") for s in path}
    if kind in EMAIL_SIGNALS:
        about = step.get("step_id")
        if earlier.get(str(about)) not in ("email", "auto_email"):
            found.append(Problem(step_id, f"{kind} is about an email step before it on the same path (step_id)"))
        within = step.get("within_hours")
        if not isinstance(within, int) or not 1 <= within <= MAX_SIGNAL_HOURS:
            found.append(Problem(step_id, f"a time limit is needed: within_hours, 1 to {MAX_SIGNAL_HOURS}"))
    elif kind == "call_outcome":
        if earlier.get(str(step.get("step_id"))) != "call":
            found.append(Problem(step_id, "call_outcome is about a call step before it on the same path (step_id)"))
        if not step.get("outcome"):
            found.append(Problem(step_id, "call_outcome needs the outcome that takes the Yes path"))
    elif kind == "field_value" and (not step.get("field") or "equals" not in step):
        found.append(Problem(step_id, "field_value needs a field and the value (equals) that takes the Yes path"))
    elif kind == "lead_stage" and not step.get("stage"):
        found.append(Problem(step_id, "lead_stage needs the stage that takes the Yes path"))


DISCONNECT = "disconnect-leads"
"""The deadline (due at once) that disconnects an inactive or deleted sequence's leads: durable, so
a restart in the middle still disconnects every one."""


class SequenceDefinition(HasDeadlines):
    """One sequence: its versions (each a name, description, steps and settings) and their states."""

    @event("Created")
    def __init__(
        self,
        name: str,
        description: str,
        steps: list[dict[str, Any]],
        settings: dict[str, bool],
        actor: str,
        at: datetime,
    ) -> None:
        self.versions: list[dict[str, Any]] = []
        self._add_version(name, description, steps, settings)
        self.created_by = actor
        self.deleted = False

    def _add_version(self, name: str, description: str, steps: list[dict[str, Any]], settings: dict[str, bool]) -> None:
        self.versions.append(
            {
                "number": len(self.versions) + 1,
                "status": DRAFT,
                "name": name,
                "description": description,
                "steps": copy.deepcopy(steps),
                "settings": {**SETTINGS_DEFAULTS, **settings},
            }
        )

    # -- reading ---------------------------------------------------------------------------

    @property
    def draft(self) -> dict[str, Any] | None:
        return next((v for v in self.versions if v["status"] == DRAFT), None)

    @property
    def active(self) -> dict[str, Any] | None:
        return next((v for v in self.versions if v["status"] == ACTIVE), None)

    @property
    def status(self) -> str:
        """deleted; active if a version is; else draft if one is being written; else inactive."""
        if self.deleted:
            return "deleted"
        if self.active is not None:
            return ACTIVE
        if self.draft is not None and all(v["status"] == DRAFT for v in self.versions):
            return DRAFT
        return INACTIVE

    def numbered(self, number: int) -> dict[str, Any]:
        return self.versions[number - 1]

    # -- changing --------------------------------------------------------------------------

    def edit(self, changes: dict[str, Any], actor: str, at: datetime) -> None:
        """Change the draft (name, description, steps, settings); only a draft is edited."""
        draft = self.draft
        if draft is None:
            raise NotADraft("only a draft is edited: start a new version (POST /v1/sequences/{id}/versions)")
        allowed = {"name", "description", "steps", "settings"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"{unknown[0]}: cannot be changed; one of {', '.join(sorted(allowed))}")
        changed = {k: v for k, v in changes.items() if draft.get(k) != v}
        if changed:
            self._edited(version=draft["number"], changes=changed, actor=actor, at=at)

    @event("Edited")
    def _edited(self, version: int, changes: dict[str, Any], actor: str, at: datetime) -> None:
        target = self.numbered(version)
        if "settings" in changes:
            changes = {**changes, "settings": {**SETTINGS_DEFAULTS, **changes["settings"]}}
        target.update(copy.deepcopy(changes))

    def check_enrols(self) -> dict[str, Any]:
        """The active version, which new enrolments start on (NotActive if there is none)."""
        if self.deleted or self.active is None:
            raise NotActive(f"sequence {self.id} is not active: leads are enrolled in active sequences only")
        return self.active

    def activate(self, actor: str, at: datetime, more_problems: Sequence[Problem] = ()) -> int:
        """Make the draft the active version; returns its number. Raises CannotActivate listing
        every problem (with `more_problems`, found outside the domain: templates), or NotADraft."""
        if self.deleted:
            raise NotADraft("the sequence was deleted")
        draft = self.draft
        if draft is None:
            raise NotADraft("there is no draft to activate")
        found = problems(draft["steps"], sequence_id=self.id) + list(more_problems)
        if found:
            raise CannotActivate(found)
        for deadline_id in list(self.open_deadlines()):  # active again: its leads stay connected
            self.cancel_deadline(deadline_id)
        self._activated(version=draft["number"], actor=actor, at=at)
        return int(draft["number"])

    @event("Activated")
    def _activated(self, version: int, actor: str, at: datetime) -> None:
        for v in self.versions:
            if v["status"] == ACTIVE:
                v["status"] = SUPERSEDED  # its enrolled leads stay on it
        self.numbered(version)["status"] = ACTIVE

    def new_version(self, actor: str, at: datetime) -> int:
        """A draft copied from the active (or else the latest) version; the existing draft if any."""
        if self.draft is not None:
            return int(self.draft["number"])
        source = self.active or self.versions[-1]
        self._version_drafted(from_version=source["number"], actor=actor, at=at)
        return len(self.versions)

    @event("VersionDrafted")
    def _version_drafted(self, from_version: int, actor: str, at: datetime) -> None:
        source = self.numbered(from_version)
        self._add_version(source["name"], source["description"], source["steps"], source["settings"])

    def deactivate(self, actor: str, at: datetime) -> bool:
        """No version active any more; its enrolled leads are disconnected (the deadline)."""
        if self.active is None:
            return False
        self._deactivated(actor=actor, at=at)
        self.set_deadline(f"{DISCONNECT}#{len(self.deadline_book()) + 1}", at, DISCONNECT)
        return True

    def delete(self, actor: str, at: datetime) -> bool:
        """Gone from the catalog for good; its enrolled leads are disconnected (the deadline)."""
        if self.deleted:
            return False
        self._deleted(actor=actor, at=at)
        self.set_deadline(f"{DISCONNECT}#{len(self.deadline_book()) + 1}", at, DISCONNECT)
        return True

    @event("Deleted")
    def _deleted(self, actor: str, at: datetime) -> None:
        self.deleted = True
        for v in self.versions:
            if v["status"] in (ACTIVE, DRAFT):
                v["status"] = INACTIVE

    def disconnect_again_at(self, at: datetime) -> None:
        """Some leads were still connected after a disconnecting pass (the read model lagged)."""
        self.set_deadline(f"{DISCONNECT}#{len(self.deadline_book()) + 1}", at, DISCONNECT)

    @event("Deactivated")
    def _deactivated(self, actor: str, at: datetime) -> None:
        for v in self.versions:
            if v["status"] == ACTIVE:
                v["status"] = INACTIVE
