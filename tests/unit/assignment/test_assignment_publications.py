"""What assignment publishes for the sequence service: every seller's whole calendar on
sellers.events.v1 after each registration or profile change (as the relay sends it), and the
segment each lead was in when it was assigned."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
from assignment_scenario import NINE_TO_FIVE, Scenario, everyone

from assignment.domain import Roster, seller_uuid
from assignment.entrypoints.stream import publications
from leadflow_shared import envelope
from leadflow_shared.contracts import (
    INTEGRATION_EVENTS,
    IntegrationEvent,
    SellerProfileChangedV1,
    TeamMembershipChangedV1,
)
from leadflow_shared.health import Health
from leadflow_shared.relay import OutboxRelay
from leadflow_shared.store import StoreWorker
from leadflow_shared.topics import SELLERS_EVENTS

pytestmark = pytest.mark.unit

MORNINGS = {"mon": [["08:00", "12:00"]], "tue": [["08:00", "12:00"]]}
LEAVE = {"start": "2026-11-09T00:00:00+01:00", "end": "2026-11-14T00:00:00+01:00", "note": "parental leave"}


async def relayed(s: Scenario) -> list[tuple[str, IntegrationEvent]]:
    """Every message the relay sends on sellers.events.v1 so far: its key, and its event as a
    consumer reads it back."""
    sent: list[tuple[str, IntegrationEvent]] = []

    async def send(value: bytes, *, key: bytes, headers: dict[str, str], no_confirm: bool) -> Awaitable[None]:
        message = envelope.read(value, [(name, v.encode()) for name, v in headers.items()])
        assert message.type is not None
        event = INTEGRATION_EVENTS[message.type].model_validate(message.data)
        sent.append((key.decode(), event.model_copy(update={"previous_version": message.previous_version})))
        return asyncio.sleep(0)

    worker = StoreWorker("relay")
    relay = OutboxRelay(
        app=s.app,
        worker=worker,
        publication=publications(s.app)[1],
        topic=SELLERS_EVENTS,
        send=send,
        source="/assignment",
        health=Health(),
    )
    try:
        await relay.drain()
    finally:
        worker.shutdown()
    return sent


def calendar(event: SellerProfileChangedV1) -> dict[str, Any]:
    return event.model_dump(include={"time_zone", "working_hours", "out_of_office", "holiday_list", "active"})


async def test_each_change_to_a_sellers_profile_goes_out_with_their_whole_calendar_as_it_then_stood() -> None:
    # Given ann, registered in Berlin working nine to five,
    s = Scenario().seller("ann", time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE)
    registered = {
        "time_zone": "Europe/Berlin",
        "working_hours": NINE_TO_FIVE,
        "out_of_office": [],
        "holiday_list": "organisation",
        "active": True,
    }
    # who takes a lead (her stream grows, but not the topic),
    s.rules(everyone())
    assert s.owner(s.lead("first")) == "ann"
    # when she moves to mornings, then to New York, then takes leave, and a change that changes
    # nothing (her name again) is made,
    s.seller("ann", working_hours=MORNINGS)
    s.seller("ann", time_zone="America/New_York")
    s.seller("ann", out_of_office=[LEAVE])
    s.seller("ann")
    # and bob is registered with the defaults, then team membership changes,
    s.seller("bob", teams=["emea"])
    sent = await relayed(s)
    # then every calendar message is keyed by its seller, in order per seller,
    calendars = [(key, e) for key, e in sent if isinstance(e, SellerProfileChangedV1)]
    ann, bob = str(seller_uuid("ann")), str(seller_uuid("bob"))
    assert [key for key, _ in calendars] == [ann, ann, ann, ann, bob]
    assert all(str(e.aggregate_id) == key for key, e in calendars)
    anns = [e for key, e in calendars if key == ann]
    assert [e.version for e in anns] == [1, 3, 4, 5]  # version 2: the lead she took
    assert [e.previous_version for e in anns] == [0, 1, 3, 4]
    # and each carries her whole calendar after that change, not just what changed,
    assert [calendar(e) for e in anns] == [
        registered,
        {**registered, "working_hours": MORNINGS},
        {**registered, "working_hours": MORNINGS, "time_zone": "America/New_York"},
        {
            **registered,
            "working_hours": MORNINGS,
            "time_zone": "America/New_York",
            "out_of_office": [{"start": LEAVE["start"], "end": LEAVE["end"]}],  # the note stays inside
        },
    ]
    assert all((e.seller_id, e.name) == ("ann", "Ann") for e in anns)
    assert [e.changed_at for e in anns] == sorted(e.changed_at for e in anns)
    # bob's, with every default (no working hours: always working),
    only_bob = calendars[-1][1]
    assert isinstance(only_bob, SellerProfileChangedV1)
    assert (only_bob.seller_id, only_bob.version, only_bob.previous_version) == ("bob", 1, 0)
    assert calendar(only_bob) == {**registered, "time_zone": "UTC", "working_hours": {}}
    # while team membership still goes out as it did, keyed by the roster.
    memberships = [(key, e.team_id, e.added) for key, e in sent if isinstance(e, TeamMembershipChangedV1)]
    assert memberships == [(str(s.app.roster().id), "emea", ["bob"])]
    assert len(sent) == len(calendars) + len(memberships)


def test_the_calendar_enrichment_leaves_team_membership_changes_as_they_are() -> None:
    s = Scenario().seller("ann", teams=["emea"])
    sellers = publications(s.app)[1]
    assert sellers.enrich is not None
    events = [s.app.mapper.to_domain_event(n) for n in s.app.recorder.select_notifications(1, 1000)]
    memberships = [sellers.mappers[type(e)](e) for e in events if type(e) is Roster.MembersAdded]
    assert len(memberships) == 1 and sellers.enrich(memberships[0]) is memberships[0]


def test_an_assigned_lead_names_the_segment_it_was_in_and_none_when_it_was_in_none() -> None:
    s = Scenario().sellers("ann")
    s.app.execute(s.app.define_segment, "hot", 10, {"field": "score", "op": "gte", "value": 80})
    hot, cold = s.lead("hot", score=90), s.lead("cold", score=10)
    by_lead = {e.lead_id: e for e in s.assigned()}
    assert (by_lead[hot].seller_id, by_lead[hot].segment_id) == ("ann", "hot")
    assert (by_lead[cold].seller_id, by_lead[cold].segment_id) == ("ann", None)
    # and a person's reassignment names none (its decision has no segment).
    s.seller("bob")
    s.app.execute(s.app.assign_by_hand, hot, seller_id="bob", team_id=None, reason="vip")
    manual = s.assigned()[-1]
    assert (manual.lead_id, manual.method, manual.segment_id) == (hot, "manual", None)
