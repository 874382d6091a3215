"""The Referral's lifecycle: the whole table of status by action, what accepting and losing require,
expiry at exactly the answer deadline (never after an answer), the contact flag at 72 hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from referral.application import ReferralApplication
from referral.domain.referral import (
    ACTIONS,
    ALLOWED,
    ActionNotAllowed,
    MissingDetails,
    Referral,
    referral_id_for,
)

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DEAL = {
    "deal_name": "Contoso rollout",
    "deal_value": {"amount": "12000", "currency": "EUR"},
    "closing_date": "2027-03-31",
}


def received(contact_requested: bool = False, external_id: str = "r-1") -> Referral:
    return Referral.receive(
        "msft", external_id, "fabrikam", {"name": "Contoso"}, contact_requested=contact_requested, at=T0
    )


def accepted() -> Referral:
    r = received()
    r.accept(DEAL, "ana", T0 + timedelta(hours=1))
    return r


def in_state(state: tuple[str, str]) -> Referral:
    make: dict[tuple[str, str], Callable[[], Referral]] = {
        ("new", "received"): received,
        ("active", "accepted"): accepted,
    }
    if state in make:
        return make[state]()
    r = received() if state[1] in ("declined", "expired") else accepted()
    at = T0 + timedelta(days=20)
    close = {
        "won": lambda: r.win("ana", at),
        "lost": lambda: r.lose("budget", "ana", at),
        "declined": lambda: r.decline("no_capacity", None, "ana", at),
        "expired": lambda: r.expire(at),
    }
    close[state[1]]()
    return r


def attempt(r: Referral, action: str) -> None:
    at = T0 + timedelta(days=2)
    {
        "accept": lambda: r.accept(DEAL, "ana", at),
        "decline": lambda: r.decline("no_capacity", "busy", "ana", at),
        "update": lambda: r.update({"notes": "call Friday"}, "ana", at),
        "add_team_member": lambda: r.add_team_member({"first_name": "Bo", "email": "bo@example.com"}, "ana", at),
        "won": lambda: r.win("ana", at),
        "lost": lambda: r.lose("price", "ana", at),
    }[action]()


@pytest.mark.parametrize("state", list(ALLOWED), ids="/".join)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_status_allows_exactly_its_actions_and_refuses_the_rest_naming_them(
    state: tuple[str, str], action: str
) -> None:
    r = in_state(state)
    assert (r.status, r.substatus) == state
    if action in ALLOWED[state]:
        attempt(r, action)
        return
    before = r.version
    with pytest.raises(ActionNotAllowed) as refused:
        attempt(r, action)
    assert f"is {state[0]}/{state[1]}" in str(refused.value)
    assert refused.value.allowed == ALLOWED[state] and r.version == before


def test_accepting_needs_the_deal_name_value_and_closing_date() -> None:
    for missing in ("deal_name", "deal_value", "closing_date"):
        r = received()
        with pytest.raises(MissingDetails) as refused:
            r.accept({k: v for k, v in DEAL.items() if k != missing}, "ana", T0)
        assert refused.value.field == missing and r.status == "new"
    r = received()
    r.accept({**DEAL, "notes": "intro call booked", "crm_id": "CRM-9"}, "ana", T0 + timedelta(hours=3))
    assert (r.status, r.substatus, r.accepted_at, r.deal["crm_id"]) == (
        "active",
        "accepted",
        T0 + timedelta(hours=3),
        "CRM-9",
    )


def test_only_the_deal_fields_are_edited_and_an_edit_that_changes_nothing_records_nothing() -> None:
    r = accepted()
    assert r.update({"notes": "budget approved", "closing_date": "2027-04-30"}, "ana", T0 + timedelta(days=1))
    version = r.version
    assert not r.update({"notes": "budget approved"}, "ana", T0 + timedelta(days=2))
    assert r.version == version
    with pytest.raises(MissingDetails) as refused:
        r.update({"target_org": "elsewhere"}, "ana", T0)
    assert refused.value.field == "target_org"


def test_lost_needs_a_reason_and_closed_is_final() -> None:
    r = accepted()
    with pytest.raises(MissingDetails):
        r.lose("", "ana", T0 + timedelta(days=3))
    r.lose("chose a competitor", "ana", T0 + timedelta(days=3))
    assert (r.status, r.substatus, r.status_reason) == ("closed", "lost", "chose a competitor")


def test_expiry_fires_at_exactly_the_deadline_and_never_after_an_answer() -> None:
    r = received()
    assert r.expires_at == T0 + timedelta(days=14)
    assert not r.expire(T0 + timedelta(days=14) - timedelta(seconds=1)) and r.status == "new"
    assert r.expire(T0 + timedelta(days=14))
    assert (r.status, r.substatus) == ("closed", "expired")
    assert not r.expire(T0 + timedelta(days=15))  # fires once
    answered = accepted()
    assert not answered.expire(T0 + timedelta(days=30)) and answered.substatus == "accepted"
    declined = received()
    declined.decline("no_capacity", None, "ana", T0 + timedelta(days=1))
    assert not declined.expire(T0 + timedelta(days=30)) and declined.substatus == "declined"


def test_the_contact_flag_is_urgent_for_72_hours_then_still_active() -> None:
    r = received(contact_requested=True)
    assert r.contact_urgent
    assert not r.end_contact_urgency(T0 + timedelta(hours=72) - timedelta(seconds=1)) and r.contact_urgent
    assert r.end_contact_urgency(T0 + timedelta(hours=72))
    assert not r.contact_urgent and r.contact_requested
    assert not r.end_contact_urgency(T0 + timedelta(hours=80))  # once
    assert not received().contact_urgent


def test_one_referral_per_sender_and_external_reference() -> None:
    assert received().id == referral_id_for("msft", "r-1") == Referral.create_id("msft", "r-1")
    assert referral_id_for("msft", "r-2") != referral_id_for("other", "r-1")


def test_a_referral_replays_from_its_events() -> None:
    r = accepted()
    r.add_team_member({"first_name": "Bo"}, "ana", T0 + timedelta(days=1))
    events: list[Any] = r.collect_events()
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert copy is not None and copy.__dict__ == r.__dict__


def test_every_referral_event_is_stored_and_read_back_by_the_referral_service() -> None:
    app = ReferralApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    urgent, declined, expired = received(True, "r-1"), received(external_id="r-2"), received(external_id="r-3")
    urgent.accept(DEAL, "ana", T0 + timedelta(hours=1))
    urgent.update({"notes": "budget approved"}, "ana", T0 + timedelta(hours=2))
    urgent.add_team_member({"first_name": "Bo"}, "ana", T0 + timedelta(hours=3))
    urgent.end_contact_urgency(T0 + timedelta(hours=72))
    urgent.win("ana", T0 + timedelta(days=5))
    declined.decline("no_capacity", "not this quarter", "ana", T0 + timedelta(days=1))
    expired.expire(T0 + timedelta(days=14))
    app.execute(lambda uow: uow.add(urgent, declined, expired))
    for referral in (urgent, declined, expired):
        copy = app.repository.get(referral.id)
        assert (copy.status, copy.substatus, copy.deal, copy.team_members) == (
            referral.status,
            referral.substatus,
            referral.deal,
            referral.team_members,
        )
