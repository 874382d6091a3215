"""Every lead transition and every guard, on in-memory persistence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from intake.application import IntakeApplication, LeadNotFound
from intake.domain import DuplicateCustomerPhone, IllegalTransition, SettingConflict, SettingRequirement
from intake.entrypoints.stream import to_integration_event
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import (
    ContactLifecycleChangedV1,
    InboundLeadV1,
    LeadAssignedV1,
    LeadChangedV1,
    LeadDeletedV1,
    LeadStatusChangedV1,
    LeadUpdatedV1,
)

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def app() -> IntakeApplication:
    return IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=FixedClock(NOW))


def inbound(external_id: str, **overrides: Any) -> InboundLeadV1:
    data: dict[str, Any] = {
        "source": "web-form",
        "external_id": external_id,
        "contact": {"first_name": "Ada", "email": f"ada{external_id}@example.com"},
        "company": {"name": "Engines", "country": "GB"},
        "occurred_at": "2026-11-01T10:00:00Z",
    }
    data.update(overrides)
    return InboundLeadV1.model_validate(data)


def new_lead(app: IntakeApplication, external_id: str = "1", **overrides: Any) -> UUID:
    return app.execute(app.receive_lead, inbound(external_id, **overrides), via="http").lead_id


def assign(app: IntakeApplication, lead_id: UUID, seller: str = "s1", version: int = 2) -> None:
    app.execute(
        app.on_assignment_decided,
        LeadAssignedV1(
            aggregate_id=lead_id,
            version=version,
            lead_id=lead_id,
            seller_id=seller,
            team_id="store-7",
            method="round_robin",
            decided_at=NOW,
        ),
    )


def published(app: IntakeApplication) -> list[Any]:
    events = [to_integration_event(app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(1, 10**6)]
    return [e for e in events if e is not None]


def refused(action: Any, expected_status: str) -> IllegalTransition:
    with pytest.raises(IllegalTransition) as caught:
        action()
    assert caught.value.status == expected_status
    return caught.value


# -- assignment, conversion, recycling ---------------------------------------------------


def test_an_assignment_decision_makes_an_unassigned_lead_assigned(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    assign(app, lead_id)
    lead = app.get_lead(lead_id)
    assert (lead.status, lead.owner_id, lead.team_id) == ("assigned", "s1", "store-7")
    status = [e for e in published(app) if isinstance(e, LeadStatusChangedV1)]
    assert [(e.action, e.status_before, e.status_after, e.owner_id) for e in status] == [
        ("assigned", "unassigned", "assigned", "s1")
    ]


def test_a_re_sent_or_older_assignment_decision_changes_nothing(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    assign(app, lead_id, "s1", version=3)
    assign(app, lead_id, "s2", version=2)  # older decision arriving late
    assign(app, lead_id, "s1", version=3)  # the same one again
    assert app.get_lead(lead_id).owner_id == "s1"
    assert app.get_lead(lead_id).version == 2


def test_convert_only_from_assigned(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    error = refused(lambda: app.execute(app.convert, lead_id, actor="u1"), "unassigned")
    assert "convert" not in error.allowed
    assign(app, lead_id)
    customer_id = app.execute(app.convert, lead_id, actor="u1")
    lead = app.get_lead(lead_id)
    assert (lead.status, lead.customer_id) == ("converted", customer_id)
    refused(lambda: app.execute(app.convert, lead_id, actor="u1"), "converted")
    refused(lambda: app.execute(app.recycle, lead_id, actor="u1"), "converted")
    refused(lambda: app.execute(app.close_invalid, lead_id, actor="u1", reason="x"), "converted")
    refused(lambda: app.execute(app.delete, lead_id, actor="u1"), "converted")
    refused(lambda: app.execute(app.void, lead_id, actor="u1"), "converted")


def test_conversion_is_refused_when_a_customer_has_the_same_phone_and_may_link_instead(
    app: IntakeApplication,
) -> None:
    first = new_lead(app, "1", contact={"first_name": "A", "phone": "020 7946 0958"})
    second = new_lead(app, "2", contact={"first_name": "B", "phone": "+44 20 7946 0958"})
    assert app.get_lead(second).possible_duplicates == [str(first)]  # same normalised phone
    assign(app, first)
    assign(app, second)
    customer_id = app.execute(app.convert, first, actor="u1")
    with pytest.raises(DuplicateCustomerPhone) as caught:
        app.execute(app.convert, second, actor="u1")
    assert caught.value.customer_id == customer_id
    assert app.get_lead(second).status == "assigned"
    assert app.execute(app.convert, second, actor="u1", link_to_customer=customer_id) == customer_id
    assert app.get_lead(second).customer_id == customer_id
    # a later lead with that phone is flagged as matching the customer too
    third = new_lead(app, "3", contact={"phone": "+442079460958"})
    assert str(customer_id) in app.get_lead(third).possible_duplicates


def test_recycle_clears_owner_and_team_and_returns_to_unassigned(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    refused(lambda: app.execute(app.recycle, lead_id, actor="u1"), "unassigned")
    assign(app, lead_id)
    app.execute(app.recycle, lead_id, actor="u1", reason="no answer")
    lead = app.get_lead(lead_id)
    assert (lead.status, lead.owner_id, lead.team_id) == ("unassigned", None, None)
    recycled = [e for e in published(app) if isinstance(e, LeadStatusChangedV1) and e.action == "recycled"]
    assert recycled[0].previous_owner_id == "s1" and recycled[0].previous_team_id == "store-7"
    assign(app, lead_id, "s2", version=4)  # assignment runs again
    assert app.get_lead(lead_id).owner_id == "s2"


# -- closing, voiding, deleting ----------------------------------------------------------


def test_closed_invalid_is_irreversible_and_then_allows_only_void_or_delete(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    assign(app, lead_id)
    app.execute(app.close_invalid, lead_id, actor="u1", reason="spam")
    assert app.get_lead(lead_id).allowed_actions() == ["void", "delete"]
    for action in (
        lambda: app.execute(app.convert, lead_id, actor="u"),
        lambda: app.execute(app.recycle, lead_id, actor="u"),
        lambda: app.execute(app.follow_up, lead_id, actor="u", note="n"),
        lambda: app.execute(app.link_document, lead_id, actor="u", kind="quote", number="Q1"),
        lambda: app.execute(app.move_stage, lead_id, actor="u", stage_id="attempting"),
        lambda: app.execute(app.close_invalid, lead_id, actor="u", reason="again"),
    ):
        refused(action, "closed_invalid")
    assign(app, lead_id, "s9", version=9)  # a late decision cannot reopen it
    assert app.get_lead(lead_id).status == "closed_invalid"


def test_void_hides_and_unvoid_restores_the_previous_status(app: IntakeApplication) -> None:
    unassigned = new_lead(app, "u")
    closed = new_lead(app, "c")
    app.execute(app.close_invalid, closed, actor="u", reason="junk")
    assigned = new_lead(app, "a")
    assign(app, assigned)
    converted = new_lead(app, "v")
    assign(app, converted)
    app.execute(app.convert, converted, actor="u")
    refused(lambda: app.execute(app.void, converted, actor="u"), "converted")
    # Junk is voided from any open status, assigned included (the owner's capacity is released).
    for lead_id, status in ((unassigned, "unassigned"), (assigned, "assigned"), (closed, "closed_invalid")):
        app.execute(app.void, lead_id, actor="u", reason="test data")
        assert app.get_lead(lead_id).allowed_actions() == ["unvoid"]
        for action in (
            lambda lid=lead_id: app.execute(app.follow_up, lid, actor="u", note="n"),
            lambda lid=lead_id: app.execute(app.delete, lid, actor="u"),
            lambda lid=lead_id: app.execute(app.void, lid, actor="u"),
        ):
            refused(action, "voided")
        app.execute(app.unvoid, lead_id, actor="u")
        assert (app.get_lead(lead_id).status, app.get_lead(lead_id).voided) == (status, False)
    refused(lambda: app.execute(app.unvoid, unassigned, actor="u"), "unassigned")


def test_delete_only_when_unassigned_or_closed_and_never_with_documents(app: IntakeApplication) -> None:
    plain = new_lead(app, "p")
    app.execute(app.delete, plain, actor="u", reason="gdpr")
    with pytest.raises(LeadNotFound):
        app.get_lead(plain)
    assert isinstance(published(app)[-1], LeadDeletedV1)
    assigned = new_lead(app, "a")
    assign(app, assigned)
    refused(lambda: app.execute(app.delete, assigned, actor="u"), "assigned")
    app.execute(app.link_document, assigned, actor="u", kind="order", number="SO-1")
    app.execute(app.recycle, assigned, actor="u")
    error = refused(lambda: app.execute(app.delete, assigned, actor="u"), "unassigned")
    assert "delete" not in error.allowed  # linked to an order


def test_a_deleted_lead_re_sent_by_upstream_stays_deleted(app: IntakeApplication) -> None:
    lead_id = new_lead(app, "gone")
    app.execute(app.delete, lead_id, actor="u", reason="gdpr")
    receipt = app.execute(app.receive_lead, inbound("gone", occurred_at="2026-11-05T10:00:00Z"), via="kafka")
    assert receipt.outcome == "duplicate"
    with pytest.raises(LeadNotFound):
        app.get_lead(lead_id)
    assert [type(e).__name__ for e in app.lead_history(lead_id)][-1] == "UpstreamUpdateIgnored"


def test_documents_only_while_assigned_or_converted(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    refused(lambda: app.execute(app.link_document, lead_id, actor="u", kind="quote", number="Q-1"), "unassigned")
    assign(app, lead_id)
    app.execute(app.link_document, lead_id, actor="u", kind="quote", number="Q-1")
    app.execute(app.convert, lead_id, actor="u")
    app.execute(app.link_document, lead_id, actor="u", kind="order", number="SO-1")
    assert app.get_lead(lead_id).documents == [{"kind": "quote", "number": "Q-1"}, {"kind": "order", "number": "SO-1"}]


def test_a_follow_up_records_the_last_follower_and_time(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    app.execute(app.follow_up, lead_id, actor="maria", note="Left a voicemail")
    lead = app.get_lead(lead_id)
    assert (lead.follow_ups, lead.last_follower, lead.last_follow_up_at) == (1, "maria", NOW)
    changed = [e for e in published(app) if isinstance(e, LeadChangedV1)]
    assert changed[-1].change == "followed_up" and changed[-1].actor == "maria"


# -- upstream updates --------------------------------------------------------------------


def test_a_newer_upstream_version_is_applied_and_an_older_one_is_recorded_as_ignored(app: IntakeApplication) -> None:
    lead_id = new_lead(app, "1", score=10)
    newer = app.execute(app.receive_lead, inbound("1", score=80, occurred_at="2026-11-01T11:00:00Z"), via="kafka")
    older = app.execute(app.receive_lead, inbound("1", score=5, occurred_at="2026-11-01T09:00:00Z"), via="kafka")
    same = app.execute(app.receive_lead, inbound("1", score=80, occurred_at="2026-11-01T11:00:00Z"), via="http")
    assert (newer.outcome, older.outcome, same.outcome) == ("updated", "duplicate", "duplicate")
    lead = app.get_lead(lead_id)
    assert (lead.score, lead.ignored_updates) == (80, 2)
    history = [type(e).__name__ for e in app.lead_history(lead_id)]
    assert history == ["Received", "UpstreamUpdated", "UpstreamUpdateIgnored", "UpstreamUpdateIgnored"]
    (updated,) = [e for e in published(app) if isinstance(e, LeadUpdatedV1)]
    assert updated.changed_fields == ["score"] and updated.score == 80 and updated.source == "web-form"


# -- stages, qualification, reasons -------------------------------------------------------


def test_stages_can_be_added_renamed_reordered_and_a_lead_moved(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    assert app.get_lead(lead_id).stage_id == "new"
    app.execute(app.change_settings, lambda s: s.add_stage("meeting", "Meeting booked"))
    app.execute(app.change_settings, lambda s: s.rename_stage("meeting", "Meeting set"))
    app.execute(app.change_settings, lambda s: s.reorder_stages(["meeting", "new", "attempting", "connected"]))
    assert [s["name"] for s in app.settings().stages][:2] == ["Meeting set", "New"]
    app.execute(app.move_stage, lead_id, actor="u", stage_id="meeting")
    assert app.get_lead(lead_id).stage_id == "meeting"
    with pytest.raises(SettingRequirement):
        app.execute(app.move_stage, lead_id, actor="u", stage_id="nowhere")
    with pytest.raises(SettingRequirement):
        app.execute(app.change_settings, lambda s: s.reorder_stages(["new"]))
    with pytest.raises(SettingConflict):
        app.execute(app.change_settings, lambda s: s.add_stage("new", "Again"))


def test_a_stage_holding_leads_is_deleted_only_by_naming_where_they_move(app: IntakeApplication) -> None:
    holding = [new_lead(app, str(i)) for i in range(3)]
    app.execute(app.move_stage, holding[0], actor="u", stage_id="attempting")
    with pytest.raises(SettingConflict):
        app.execute(app.delete_stage, "new", move_to=None, actor="admin")
    assert app.execute(app.delete_stage, "connected", move_to=None, actor="admin") == 0  # empty: no target needed
    assert app.execute(app.delete_stage, "new", move_to="attempting", actor="admin") == 2
    assert {app.get_lead(i).stage_id for i in holding} == {"attempting"}
    assert [s["id"] for s in app.settings().stages] == ["attempting"]
    with pytest.raises(SettingConflict):
        app.execute(app.delete_stage, "attempting", move_to=None, actor="admin")  # the last stage stays


def test_qualify_may_require_a_deal(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    assert app.execute(app.qualify, lead_id, actor="u") is None  # not required by default: no deal
    app.execute(app.reopen, lead_id, actor="u")
    app.execute(app.change_settings, lambda s: s.set_qualification_rules(True, False))
    with pytest.raises(SettingRequirement) as caught:
        app.execute(app.qualify, lead_id, actor="u")
    assert caught.value.field == "deal"
    deal_id = app.execute(app.qualify, lead_id, actor="u", deal={"name": "Pilot", "amount": 1200.0})
    lead = app.get_lead(lead_id)
    assert lead.status == "qualified"
    assert lead.qualification == {
        "outcome": "qualified",
        "deal": {"name": "Pilot", "amount": 1200.0},
        "deal_id": str(deal_id),
        "by": "u",
        "at": NOW.isoformat(),
    }
    deal = app.get_deal(deal_id)
    assert (deal.name, deal.amount, deal.currency, deal.lead_id, deal.owner_id, deal.created_by) == (
        "Pilot",
        1200.0,
        "USD",
        lead_id,
        "u",  # nobody owned the lead: the one who qualified it owns the deal
        "u",
    )


def test_disqualify_may_require_a_reason_from_the_editable_list(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    app.execute(app.change_settings, lambda s: s.set_qualification_rules(False, True))
    with pytest.raises(SettingRequirement):
        app.execute(app.disqualify, lead_id, actor="u")
    with pytest.raises(SettingRequirement):
        app.execute(app.disqualify, lead_id, actor="u", reason_id="made_up")
    app.execute(app.change_settings, lambda s: s.add_reason("timing", "Bad timing"))
    app.execute(app.change_settings, lambda s: s.rename_reason("timing", "Not now"))
    app.execute(
        app.change_settings,
        lambda s: s.reorder_reasons(["timing", "no_budget", "no_need", "bad_contact", "competitor"]),
    )
    assert app.settings().reasons[0] == {"id": "timing", "label": "Not now"}
    app.execute(app.disqualify, lead_id, actor="u", reason_id="timing", note="call in Q3")
    assert app.get_lead(lead_id).qualification["reason"] == "Not now"
    app.execute(app.change_settings, lambda s: s.remove_reason("timing"))
    with pytest.raises(SettingRequirement):
        app.execute(app.disqualify, lead_id, actor="u", reason_id="timing")


# -- automation, duplicates, merges -------------------------------------------------------


def test_a_lead_is_auto_created_once_when_a_contact_reaches_the_configured_stage(app: IntakeApplication) -> None:
    app.execute(app.change_settings, lambda s: s.set_lifecycle_automation("sales_qualified_lead", "opportunity"))

    def change(stage: str, minutes: int) -> ContactLifecycleChangedV1:
        return ContactLifecycleChangedV1(
            source="crm",
            contact_id="c-1",
            lifecycle_stage=stage,
            contact={"email": "c1@example.com", "phone": "020 7946 0958"},
            company={"country": "GB"},
            occurred_at=NOW + timedelta(minutes=minutes),
        )

    assert app.execute(app.on_contact_lifecycle_changed, change("lead", 1)) is None
    first = app.execute(app.on_contact_lifecycle_changed, change("sales_qualified_lead", 2))
    again = app.execute(app.on_contact_lifecycle_changed, change("sales_qualified_lead", 3))
    assert first is not None and first == again
    lead = app.get_lead(first)
    assert lead.version == 1 and lead.lifecycle_stage == "sales_qualified_lead"
    assert lead.contact["phone"] == "+442079460958"  # normalised like any lead's, though built in code
    app.execute(app.associate, first, actor="u", kind="company", target_id="acme")
    assert app.get_lead(first).lifecycle_stage == "opportunity"


def test_possible_duplicates_are_marked_not_rejected(app: IntakeApplication) -> None:
    first = new_lead(app, "1", contact={"email": "Same@Example.com"})
    second = new_lead(app, "2", contact={"email": "same@example.com"})
    assert app.get_lead(second).possible_duplicates == [str(first)]
    assert app.get_lead(first).possible_duplicates == []


def test_a_value_many_leads_share_costs_each_new_lead_the_same(app: IntakeApplication) -> None:
    """The contact index entry stops growing after KEPT leads: the 200th lead with a shared phone
    loads an entry as small as the 21st's, and its duplicate mark names only the first KEPT."""
    from intake.domain.contact_index import KEPT, index_id

    shared = {"first_name": "Switchboard", "email": None, "phone": "+44 20 7946 0000"}
    leads = [new_lead(app, f"sw{i}", contact=shared) for i in range(200)]
    entry_events = list(app.events.get(index_id("phone", "+442079460000")))
    assert len(entry_events) == KEPT  # Opened (with the first lead) + KEPT - 1 LeadAdded
    first_ones = sorted(str(lead) for lead in leads[:KEPT])
    last = app.get_lead(leads[-1])
    assert last.possible_duplicates == first_ones
    assert app.get_lead(leads[KEPT]).possible_duplicates == first_ones
    assert app.get_lead(leads[1]).possible_duplicates == [str(leads[0])]


def test_merge_keeps_both_leads_and_unmerge_restores_both(app: IntakeApplication) -> None:
    survivor, merged = new_lead(app, "s"), new_lead(app, "m")
    app.execute(app.merge, survivor, merged, actor="u")
    assert app.get_lead(merged).merged_into == survivor
    assert app.get_lead(survivor).absorbed == [str(merged)]
    assert "unmerge" in app.get_lead(merged).allowed_actions()
    with pytest.raises(IllegalTransition):
        app.execute(app.merge, merged, survivor, actor="u")  # already merged away
    with pytest.raises(SettingRequirement):
        app.execute(app.merge, survivor, survivor, actor="u")
    assert app.execute(app.unmerge, merged, actor="u") == survivor
    assert app.get_lead(merged).merged_into is None and app.get_lead(survivor).absorbed == []
    actions = [(e.action, e.related_lead_id) for e in published(app) if isinstance(e, LeadStatusChangedV1)]
    assert actions == [("merged", survivor), ("unmerged", survivor)]


def test_favorites_are_per_user_and_idempotent(app: IntakeApplication) -> None:
    lead_id = new_lead(app)
    assert app.execute(app.set_favorite, lead_id, user_id="ana", on=True) is True
    assert app.execute(app.set_favorite, lead_id, user_id="ana", on=True) is False  # no second event
    assert app.execute(app.set_favorite, lead_id, user_id="ben", on=True) is True
    assert app.execute(app.set_favorite, lead_id, user_id="ana", on=False) is True
    assert app.execute(app.set_favorite, lead_id, user_id="ana", on=False) is False
    lead = app.get_lead(lead_id)
    assert (lead.is_favorite_of("ana"), lead.is_favorite_of("ben")) == (False, True)
    assert [e.on for e in app.lead_history(lead_id) if type(e).__name__ == "FavoriteToggled"] == [True, True, False]


def test_100_000_leads_sharing_one_company_phone_load_as_cheaply_as_the_first_thousand() -> None:
    """Hot aggregates stay bounded: the contact-index entry of a switchboard number shared by
    100,000 leads holds as many events (KEPT) and as much state after the 100,000th lead as after
    the 1,000th, and the 100,000th lead's stream is as short as the 1,000th's."""
    from intake.domain.contact_index import KEPT, index_id

    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo", "AGGREGATE_CACHE_MAXSIZE": "100"})
    switchboard = {"phone": "+44 20 7946 0000"}
    entry = index_id("phone", "+442079460000")
    loads = []
    for i in range(100_000):
        lead_id = new_lead(app, f"sw-{i}", contact=switchboard, company={"name": "Switch Ltd"})
        if i + 1 in (1_000, 100_000):
            entry_events = len(list(app.events.get(entry)))
            entry_state = len(str(vars(app.repository.get(entry))))
            loads.append((entry_events, entry_state, len(list(app.events.get(lead_id)))))
    assert loads[0] == loads[1]
    assert loads[0][0] == KEPT
    assert len(app.get_lead(lead_id).possible_duplicates) == KEPT
