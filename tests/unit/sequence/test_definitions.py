"""Sequence definitions (issue 11, first step): every rule that stops a draft from being activated,
listed all at once with the step and the reason; drafts, activation and versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sequence.domain import (
    ACTIVE,
    DRAFT,
    INACTIVE,
    SUPERSEDED,
    CannotActivate,
    NotADraft,
    SequenceDefinition,
    problems,
)

pytestmark = pytest.mark.unit
AT = datetime(2026, 11, 4, 9, tzinfo=UTC)

EMAIL = {"id": "e1", "type": "email"}
WAIT = {"id": "w1", "type": "wait", "days": 3}
CALL = {"id": "c1", "type": "call"}
TRADE_SHOW = [EMAIL, WAIT, CALL]
"""Dynamics 365's example: send an email, wait 3 business days, call."""


def reasons(steps: list[dict[str, Any]]) -> dict[str | None, list[str]]:
    found: dict[str | None, list[str]] = {}
    for p in problems(steps):
        found.setdefault(p.step_id, []).append(p.reason)
    return found


def test_a_plain_sequence_and_every_step_type_have_no_problems() -> None:
    assert problems(TRADE_SHOW) == []
    every = [
        EMAIL,
        {"id": "a1", "type": "auto_email", "template": {"subject": "Hi {{ first_name }}", "body": "…"}},
        {"id": "s1", "type": "sms"},
        {"id": "s2", "type": "auto_sms", "text": "See you"},
        {"id": "t1", "type": "task"},
        {"id": "w1", "type": "wait", "days": 30},
        CALL,
        {"id": "u1", "type": "update_field", "field": "rating", "value": "warm"},
        {"id": "x1", "type": "advance", "sequence_id": "nurture"},
    ]
    assert problems(every) == []


def test_waits() -> None:
    assert reasons([EMAIL, {"id": "w", "type": "wait", "days": 30, "hours": 1}, CALL]) == {
        "w": ["a wait is at most 30 days"]
    }
    assert reasons([EMAIL, {"id": "w", "type": "wait"}, CALL]) == {"w": ["a wait must wait: give days or hours"]}
    assert reasons([EMAIL, {"id": "w", "type": "wait", "hours": 24}, CALL])["w"][0].startswith("a wait is whole")
    assert reasons([EMAIL, {"id": "w", "type": "wait", "hours": 4}]) == {
        "w": ["a wait cannot be the last step of a path"]
    }


def test_advance_to_another_sequence_is_never_first_and_nothing_follows_it() -> None:
    first = reasons([{"id": "x", "type": "advance", "sequence_id": "s2"}, CALL])
    assert first == {
        "x": ["advance to another sequence cannot be the first step", "nothing may follow advance to another sequence"]
    }
    assert reasons([EMAIL, {"id": "x", "type": "advance"}]) == {
        "x": ["advance needs the sequence to advance to (sequence_id)"]
    }


def test_conditions_branch_on_an_earlier_step_of_their_path_within_a_limit() -> None:
    opened = {"id": "k", "type": "condition", "kind": "email_opened", "step_id": "e1", "within_hours": 48}
    good = [EMAIL, {**opened, "yes": [CALL], "no": [{"id": "e2", "type": "email"}]}]
    assert problems(good) == []
    assert reasons([EMAIL, {**opened, "within_hours": None}]) == {
        "k": ["a time limit is needed: within_hours, 1 to 720"]
    }
    assert reasons([CALL, {**opened, "step_id": "c1"}]) == {
        "k": ["email_opened is about an email step before it on the same path (step_id)"]
    }
    # an email in the other branch is not on this path
    other_branch = [
        CALL,
        {
            "id": "k0",
            "type": "condition",
            "kind": "lead_stage",
            "stage": "qualified",
            "yes": [EMAIL],
            "no": [{**opened, "id": "k1", "yes": [], "no": []}],
        },
    ]
    assert list(reasons(other_branch)) == ["k1"]
    assert reasons([CALL, {"id": "k", "type": "condition", "kind": "call_outcome", "step_id": "c1"}]) == {
        "k": ["call_outcome needs the outcome that takes the Yes path"]
    }
    assert reasons([CALL, {"id": "k", "type": "condition", "kind": "field_value", "field": "rating"}]) == {
        "k": ["field_value needs a field and the value (equals) that takes the Yes path"]
    }
    assert reasons([CALL, {"id": "k", "type": "condition", "kind": "mood"}])["k"][0].startswith("unknown condition")
    after = reasons([EMAIL, {**opened, "yes": [], "no": []}, CALL])
    assert after == {"k": ["a condition ends its path: put the steps after it in its branches"]}


def test_every_problem_is_listed_at_once() -> None:
    steps = [
        {"id": "x", "type": "advance", "sequence_id": "s2"},
        {"id": "a", "type": "auto_email"},
        {"id": "a", "type": "fax"},
        {"id": "w", "type": "wait", "days": 40},
    ]
    found = [(p.step_id, p.reason) for p in problems(steps)]
    assert ("a", "the id is used by another step") in found
    assert ("x", "advance to another sequence cannot be the first step") in found
    assert ("a", "an automated email needs a template with a subject and a body") in found
    assert any(step == "a" and reason.startswith("unknown type 'fax'") for step, reason in found)
    assert ("w", "a wait is at most 30 days") in found and ("w", "a wait cannot be the last step of a path") in found
    assert problems([]) and problems([])[0].reason == "a sequence needs at least one step"


def test_drafts_activation_and_versions() -> None:
    seq = SequenceDefinition("Trade show UK", "email, wait, call", [EMAIL, CALL], {}, "ada", AT)
    assert seq.status == DRAFT and seq.numbered(1)["settings"]["skip_non_working_days"] is True
    seq.edit({"steps": [EMAIL, {"id": "w1", "type": "wait"}]}, "ada", AT)
    with pytest.raises(CannotActivate) as refused:
        seq.activate("ada", AT)
    assert [p.as_dict() for p in refused.value.problems] == [
        {"step_id": "w1", "reason": "a wait must wait: give days or hours"},
        {"step_id": "w1", "reason": "a wait cannot be the last step of a path"},
    ]
    seq.edit({"steps": TRADE_SHOW}, "ada", AT)
    assert seq.activate("ada", AT) == 1 and seq.status == ACTIVE
    with pytest.raises(NotADraft):
        seq.edit({"name": "renamed"}, "ada", AT)  # an active version is never edited
    assert seq.new_version("ada", AT) == 2 and seq.new_version("ada", AT) == 2  # one draft at a time
    seq.edit({"steps": [EMAIL, {**WAIT, "days": 5}, CALL], "settings": {"exit_on_reply": False}}, "ada", AT)
    assert seq.numbered(1)["steps"] == TRADE_SHOW  # the running version is untouched
    assert seq.activate("ada", AT) == 2
    assert [v["status"] for v in seq.versions] == [SUPERSEDED, ACTIVE]  # leads on 1 stay on 1
    assert seq.numbered(2)["settings"] == {
        "skip_non_working_days": True,
        "exit_on_reply": False,
        "branch_on_signal_at_once": True,
    }
    assert seq.deactivate("ada", AT) and seq.status == INACTIVE and not seq.deactivate("ada", AT)
    with pytest.raises(NotADraft):
        seq.activate("ada", AT)
    # stored and read back: the versions replay to the same state
    replayed = None
    for e in seq.collect_events():
        replayed = e.mutate(replayed)
    assert replayed is not None and replayed.versions == seq.versions


def test_a_sequence_cannot_advance_to_itself() -> None:
    seq = SequenceDefinition("Loop", "", [EMAIL], {}, "ada", AT)
    seq.edit({"steps": [EMAIL, {"id": "x", "type": "advance", "sequence_id": str(seq.id)}]}, "ada", AT)
    with pytest.raises(CannotActivate) as refused:
        seq.activate("ada", AT)
    assert refused.value.problems[0].reason == "a sequence cannot advance to itself"
