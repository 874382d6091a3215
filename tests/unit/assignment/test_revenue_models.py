"""Revenue models: Marketo's logging rules, the lifecycle guards, one approved model, merges,
unapproving without losing history, assignment rules, transitions, gates, SLA misses, bulk runs
and time travel — driven through the service's own lead-event routes with a fixed clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from revenue_world import RevenueWorld

from assignment.domain.revenue import (
    AnotherModelApproved,
    CannotApprove,
    LifecycleConflict,
    default_definition,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def w() -> RevenueWorld:
    return RevenueWorld()


# -- Marketo's logging rules -------------------------------------------------------------


def test_while_only_the_stages_are_approved_leads_move_but_no_activity_is_logged(w: RevenueWorld) -> None:
    model = w.model()
    w.approve_stages(model)
    lead = w.receive("a", score=50)
    assert w.stage(model, lead) == "lead"  # the assignment rule placed it
    w.move(model, lead, "opportunity")
    assert w.stage(model, lead) == "opportunity"
    assert w.activity(model_id=model) == []
    assert [e.logged for e in w.stream_of(model, lead) if type(e).__name__ == "StageChanged"] == [False, False]


def test_once_approved_every_change_is_logged_with_old_and_new_stage_reason_actor_campaign_and_time(
    w: RevenueWorld,
) -> None:
    model = w.model()
    lead = w.receive("a", score=10, campaign="spring-webinar")
    w.live(model, (lead, "new"))
    w.later(hours=1)
    w.change_data(lead, score=25)
    w.later(hours=1)
    w.move(model, lead, "opportunity", actor="maria")
    newest, older = w.activity(lead_id=lead)[:2]
    assert newest | {"entry_id": None} == {
        "entry_id": None,
        "model_id": str(model),
        "generation": 1,
        "lead_id": str(lead),
        "at": (w.clock.now()).isoformat(timespec="microseconds"),
        "from_stage": "prospect",
        "to_stage": "opportunity",
        "reason": "manual",
        "detail": None,
        "actor": "maria",
        "campaign": "spring-webinar",
        "manual": True,
    }
    assert (older["from_stage"], older["to_stage"], older["reason"], older["detail"]) == (
        "new",
        "prospect",
        "transition",
        "engaged",
    )
    assert older["manual"] is False and older["actor"] == "system"


def test_in_an_approved_model_a_move_to_the_stage_the_lead_is_in_is_skipped(w: RevenueWorld) -> None:
    model = w.model()
    lead = w.receive("a", score=10)
    w.live(model, (lead, "new"))
    before = len(w.stream_of(model, lead))
    assert w.move(model, lead, "new") == "skipped"
    assert len(w.stream_of(model, lead)) == before  # no event
    assert len(w.activity(lead_id=lead)) == 0  # the placement was before approval; no entry now either


def test_a_draft_moves_nobody(w: RevenueWorld) -> None:
    model = w.model()
    lead = w.receive("a", score=50)
    assert w.stage(model, lead) is None  # lead events do not touch a draft
    with pytest.raises(LifecycleConflict, match="draft"):
        w.move(model, lead, "new")
    with pytest.raises(LifecycleConflict, match="draft"):
        w.bulk(model, "new")


# -- the lifecycle --------------------------------------------------------------------------


def test_lifecycle_guards(w: RevenueWorld) -> None:
    model = w.model()
    with pytest.raises(LifecycleConflict, match="approve its stages first"):
        w.approve(model)
    with pytest.raises(LifecycleConflict, match="draft already"):
        w.unapprove(model)
    w.approve_stages(model)
    with pytest.raises(LifecycleConflict, match="not a draft"):
        w.approve_stages(model)
    with pytest.raises(LifecycleConflict, match="no leads in the model"):
        w.approve(model)
    changed = default_definition()
    changed["stages"] = changed["stages"][:-1]
    changed["transitions"] = [t for t in changed["transitions"] if "recycled" not in (t["to"], t["from"])]
    with pytest.raises(LifecycleConflict, match="stages are approved"):
        w.app.execute(w.revenue.redefine, model, "Funnel", "", changed, "admin")
    w.move(model, w.receive("a"), "new")
    w.approve(model)
    with pytest.raises(LifecycleConflict, match="through its draft"):
        w.app.execute(w.revenue.redefine, model, "Funnel", "", default_definition(), "admin")
    with pytest.raises(LifecycleConflict, match="merge recycled"):
        w.app.execute(w.revenue.save_draft, model, changed, "admin")


def test_approving_stages_refuses_a_model_with_problems_and_lists_them_all(w: RevenueWorld) -> None:
    broken = default_definition()
    broken["stages"].append({"id": "triage", "name": "Triage", "type": "gate", "path": "success", "active": True})
    broken["stages"].append({"id": "orphan", "name": "Orphan", "type": "inventory", "path": "detour"})
    broken["transitions"].append({"id": "lost", "from": "*", "to": "nowhere", "triggers": ["voided"], "filter": None})
    model = w.model(definition=broken)
    reasons = {(p.where, p.reason) for p in w.revenue.validate(model)}
    assert ("stage triage", "a gate needs a default transition (default_to)") in reasons
    assert ("transition lost", "to stage 'nowhere' does not exist") in reasons
    assert any(where == "stage orphan" and "unreachable" in why for where, why in reasons)
    with pytest.raises(CannotApprove) as refused:
        w.approve_stages(model)
    assert len(refused.value.problems) == len(reasons)


def test_only_one_model_is_approved_at_a_time(w: RevenueWorld) -> None:
    first, second = w.model("First"), w.model("Second")
    lead = w.receive("a")
    w.live(first, (lead, "new"))
    w.approve_stages(second)
    w.move(second, lead, "new")
    with pytest.raises(AnotherModelApproved, match=f"'First' \\({first}\\) is approved"):
        w.approve(second)
    w.unapprove(first)
    w.approve(second)


def test_an_approved_models_draft_is_approved_as_its_next_definition(w: RevenueWorld) -> None:
    model = w.model()
    w.live(model, (w.receive("a"), "new"))
    draft = default_definition()
    draft["assignment_rules"]["choices"].insert(
        0, {"condition": {"field": "score", "op": "lte", "value": 2}, "stage": "prospect"}
    )
    w.app.execute(w.revenue.save_draft, model, draft, "admin")
    assert w.stage(model, w.receive("early", score=1)) == "new"  # not yet
    w.app.execute(w.revenue.approve_draft, model, "admin")
    assert w.stage(model, w.receive("b", score=1)) == "prospect"


def test_renaming_a_stage_of_an_approved_model_keeps_its_leads(w: RevenueWorld) -> None:
    model = w.model()
    lead = w.receive("a")
    w.live(model, (lead, "new"))
    w.app.execute(w.revenue.rename_stage, model, "new", "Inquiry", "admin")
    assert w.revenue.position(model, lead)["stage_name"] == "Inquiry"


# -- merges --------------------------------------------------------------------------------


def test_merging_a_stage_into_another_moves_its_leads_and_logs_why(w: RevenueWorld) -> None:
    model = w.model()
    a, b, c = w.receive("a"), w.receive("b"), w.receive("c")
    w.live(model, (a, "new"), (b, "prospect"), (c, "prospect"))
    run = w.app.execute(w.revenue.merge_stage, model, "prospect", "new", "admin")
    done = w.revenue.run_to_end(run.id)
    assert done.counts == {"moved": 2, "skipped": 0, "refused": 0}
    assert [w.stage(model, x) for x in (a, b, c)] == ["new", "new", "new"]
    assert "prospect" not in {s["id"] for s in w.revenue.get_model(model).definition["stages"]}
    entry = w.activity(lead_id=b)[0]
    assert (entry["from_stage"], entry["to_stage"], entry["reason"], entry["detail"]) == (
        "prospect",
        "new",
        "merge",
        str(run.id),
    )


def test_merging_a_stage_into_none_takes_its_leads_out_of_the_model(w: RevenueWorld) -> None:
    model = w.model()
    a, b = w.receive("a"), w.receive("b")
    w.live(model, (a, "new"), (b, "recycled"))
    w.revenue.run_to_end(w.app.execute(w.revenue.merge_stage, model, "recycled", None, "admin").id)
    assert (w.stage(model, a), w.stage(model, b)) == ("new", None)
    assert w.activity(lead_id=b)[0]["to_stage"] is None
    assert w.revenue_reads.leads_in_model(model, 1) == 1


def test_a_lead_the_merge_run_has_not_reached_yet_is_where_the_merge_sent_it(w: RevenueWorld) -> None:
    model = w.model()
    lead = w.receive("a", score=10)
    w.live(model, (lead, "new"))
    w.app.execute(w.revenue.merge_stage, model, "new", "prospect", "admin")  # its run not carried yet
    w.change_data(lead, score=45)
    assert w.stage(model, lead) == "lead"
    assert [(x["from_stage"], x["to_stage"]) for x in reversed(w.activity(lead_id=lead))] == [
        ("new", "prospect"),
        ("prospect", "lead"),
    ]


# -- unapproving keeps history ---------------------------------------------------------------


def test_unapproving_keeps_every_change_and_the_next_approval_starts_afresh(w: RevenueWorld) -> None:
    model = w.model()
    lead = w.receive("a", score=10)
    w.live(model, (lead, "new"))
    w.move(model, lead, "prospect")
    w.unapprove(model)
    assert len(w.activity(model_id=model, generation=1)) == 1  # still readable
    assert w.stage(model, lead) == "prospect"  # the stream is untouched
    w.approve_stages(model)  # generation 2: the lead starts outside
    assert w.revenue.get_model(model).generation == 2
    assert w.revenue.position(model, lead)["stage"] == "prospect"  # its last recorded place (history)
    w.move(model, lead, "opportunity")
    w.approve(model)
    assert w.activity(model_id=model, generation=2) == []
    w.move(model, lead, "customer")
    assert [x["to_stage"] for x in w.activity(lead_id=lead)] == ["customer", "prospect"]
    assert w.revenue_reads.leads_in_model(model, 2) == 1


# -- assignment rules, transitions, gates ---------------------------------------------------------


def test_assignment_rules_first_match_wins_then_the_default(w: RevenueWorld) -> None:
    definition = default_definition()
    definition["assignment_rules"] = {
        "choices": [
            {"condition": {"field": "score", "op": "gte", "value": 40}, "stage": "lead"},  # Marketo's example
            {"condition": {"field": "score", "op": "gte", "value": 20}, "stage": "prospect"},
        ],
        "default": "new",
    }
    model = w.model(definition=definition)
    w.approve_stages(model)
    leads = {score: w.receive(f"s{score}", score=score) for score in (40, 39, 20, 5)}
    assert {s: w.stage(model, x) for s, x in leads.items()} == {40: "lead", 39: "prospect", 20: "prospect", 5: "new"}
    first = w.stream_of(model, leads[40])[1]
    assert (first.reason, first.detail) == ("assignment_rule", "choice 1")


def test_a_lead_outside_the_model_is_placed_when_its_data_changes(w: RevenueWorld) -> None:
    definition = default_definition()
    definition["assignment_rules"] = {
        "choices": [
            {"condition": {"field": "score", "op": "gte", "value": 40}, "stage": "lead"},
            {"condition": {"field": "score", "op": "lte", "value": 0}, "stage": "new"},
        ],
        "default": None,
    }
    model = w.model(definition=definition)
    w.approve_stages(model)
    lead = w.receive("a", score=5)
    assert w.stage(model, lead) is None
    w.change_data(lead, score=41)
    assert w.stage(model, lead) == "lead"


def test_transitions_fire_from_lead_events(w: RevenueWorld) -> None:
    model = w.model()
    lead = w.receive("a", score=5)
    w.live(model, (lead, "new"))
    w.lifecycle(lead, "recycled", actor="bob")
    assert w.stage(model, lead) == "recycled"
    w.change_data(lead, score=21)
    assert w.stage(model, lead) == "prospect"
    w.intake_change(lead, "qualified")
    assert w.stage(model, lead) == "opportunity"
    w.lifecycle(lead, "converted")
    assert w.stage(model, lead) == "customer"
    assert [(x["detail"], x["actor"]) for x in reversed(w.activity(lead_id=lead))] == [
        ("recycled", "bob"),
        ("back-in-play", "system"),
        ("qualified", "maria"),
        ("won", "system"),
    ]


def _with_gate() -> dict[str, Any]:
    definition = default_definition()
    definition["stages"].insert(
        1,
        {"id": "triage", "name": "Triage", "type": "gate", "path": "success", "active": True, "default_to": "prospect"},
    )
    definition["transitions"] = [
        {"id": "to-triage", "from": "new", "to": "triage", "triggers": ["updated"], "filter": None},
        {
            "id": "hot",
            "from": "triage",
            "to": "opportunity",
            "triggers": [],
            "filter": {"field": "score", "op": "gte", "value": 80},
        },
        *definition["transitions"],
    ]
    return definition


def test_a_gate_routes_by_its_transitions_else_by_its_default_and_holds_nobody(w: RevenueWorld) -> None:
    model = w.model(definition=_with_gate())
    cold, hot = w.receive("cold", score=1), w.receive("hot", score=1)
    w.live(model, (cold, "new"), (hot, "new"))
    w.change_data(cold, score=10)
    w.change_data(hot, score=90)
    assert (w.stage(model, cold), w.stage(model, hot)) == ("prospect", "opportunity")
    gate = [x for x in w.activity(lead_id=cold) if x["reason"] == "gate"]
    assert [(x["from_stage"], x["to_stage"], x["detail"]) for x in gate] == [("triage", "prospect", "triage: default")]
    day = w.clock.now().date()
    totals = w.revenue_reads.analyze(
        model, 1, w.revenue.get_model(model).definition["stages"], "day", day, day + timedelta(days=1), w.clock.now()
    )["totals"]
    assert totals["triage"]["in_flow"] == 2 and totals["triage"]["out_flow"] == 2
    assert totals["triage"]["end_balance"] == 0


def test_an_inactive_stage_takes_no_leads(w: RevenueWorld) -> None:
    definition = default_definition()
    definition["stages"][1]["active"] = False  # prospect
    model = w.model(definition=definition)
    lead = w.receive("a", score=5)
    w.live(model, (lead, "new"))
    w.change_data(lead, score=25)
    assert w.stage(model, lead) == "new"
    with pytest.raises(LifecycleConflict, match="inactive"):
        w.move(model, lead, "prospect")


# -- SLA ------------------------------------------------------------------------------------


def test_an_sla_miss_is_recorded_at_exactly_the_limit_and_the_lead_stays(w: RevenueWorld) -> None:
    model = w.model()  # Lead is an SLA stage of 72 hours
    lead = w.receive("a", score=1)
    w.live(model, (lead, "new"))
    w.move(model, lead, "lead")
    entered = w.clock.now()
    w.clock.advance(timedelta(hours=72) - timedelta(microseconds=1))
    assert w.deadlines.fire_due() == 0
    w.clock.advance(timedelta(microseconds=1))
    assert w.deadlines.fire_due() == 1
    missed = [e for e in w.stream_of(model, lead) if type(e).__name__ == "SlaMissed"]
    assert [(m.stage, m.entered_at, m.at) for m in missed] == [("lead", entered, entered + timedelta(hours=72))]
    assert w.stage(model, lead) == "lead"
    assert w.deadlines.fire_due() == 0  # once


def test_leaving_an_sla_stage_in_time_cancels_its_deadline(w: RevenueWorld) -> None:
    model = w.model()
    lead = w.receive("a", score=1)
    w.live(model, (lead, "new"))
    w.move(model, lead, "lead")
    w.later(hours=71)
    w.move(model, lead, "opportunity")
    w.later(hours=2)
    assert w.deadlines.fire_due() == 0


# -- Change Revenue Stage over many leads ------------------------------------------------------


def test_a_bulk_run_over_10000_leads_reports_progress_and_a_result_for_each_lead(w: RevenueWorld) -> None:
    model = w.model()
    w.approve_stages(model)
    route = w.routes["lead.received.v1"].use_case
    from assignment_scenario import lead_id_of

    from leadflow_shared.contracts import LeadReceivedV1

    def received(n: int) -> LeadReceivedV1:
        lead_id = lead_id_of(f"bulk-{n}")
        w.versions[lead_id] = 1
        snapshot = w._snapshot(lead_id, f"bulk-{n}", {"score": n % 50, "country": "DE" if n % 2 else "FR"})
        return LeadReceivedV1(**snapshot, received_at=w.clock.now())

    for start in range(0, 10_000, 1000):  # as Kafka batches do: many messages, one unit of work
        messages = [received(n) for n in range(start, start + 1000)]
        w.app.execute(lambda uow, batch=messages: [route(uow, m) for m in batch])
    w.later(hours=1)
    run = w.app.execute(
        w.revenue.start_run,
        model,
        "new",
        lead_ids=None,
        lead_filter={"field": "country", "op": "equals", "value": "DE"},
        actor="maria",
    )
    assert run.total == 10_000
    assert w.app.execute(w.revenue.run_page, run.id, 2000) is True
    progress = w.revenue_reads.run(run.id)
    assert progress is not None and (progress["scanned"], progress["finished_at"]) == (2000, None)
    done = w.revenue.run_to_end(run.id, 2000)
    assert done.scanned == 10_000 and done.finished
    # Odd n are DE; the assignment rules placed those scoring under 40 in New already, the rest in Lead
    already = sum(1 for n in range(1, 10_000, 2) if n % 50 < 40)
    assert done.counts == {"moved": 5000 - already, "skipped": already, "refused": 0}
    skipped, after = [], 0
    while after is not None:
        page = w.revenue_reads.run(run.id, limit=1000, outcome="skipped", after=after)
        assert page is not None
        skipped += page["results"]
        after = page["next_after"]
    assert len(skipped) == already == len({r["lead_id"] for r in skipped})
    assert all(r["reason"] == "already in that stage" for r in skipped)
    assert w.revenue_reads.leads_in_model(model, 1) == 10_000


def test_a_run_over_named_leads_refuses_ones_it_does_not_know(w: RevenueWorld) -> None:
    from uuid import uuid4

    model = w.model()
    lead = w.receive("a")
    w.approve_stages(model)
    stranger = uuid4()
    done = w.bulk(model, "prospect", lead_ids=[lead, stranger])
    assert done.counts == {"moved": 1, "skipped": 0, "refused": 1}
    results = w.revenue_reads.run(done.id)["results"]  # type: ignore[index]
    assert [(r["lead_id"], r["outcome"], r["reason"]) for r in results] == [
        (str(lead), "moved", None),
        (str(stranger), "refused", "no such lead"),
    ]


def test_a_deleted_lead_leaves_the_model_and_no_run_moves_it(w: RevenueWorld) -> None:
    from assignment.application import LeadNotKnown

    model = w.model()
    kept, gone = w.receive("kept", score=5), w.receive("gone", score=5)
    w.live(model, (kept, "new"), (gone, "new"))
    w.delete(gone, actor="ada")
    assert w.stage(model, gone) is None
    entry = w.activity(lead_id=gone)[0]
    assert (entry["from_stage"], entry["to_stage"], entry["reason"], entry["actor"]) == ("new", None, "deleted", "ada")
    assert w.revenue_reads.leads_in_model(model, 1) == 1
    with pytest.raises(LeadNotKnown):
        w.move(model, gone, "prospect")
    by_filter = w.bulk(model, "prospect", lead_filter=None)
    assert by_filter.counts == {"moved": 1, "skipped": 0, "refused": 0}
    by_ids = w.bulk(model, "lead", lead_ids=[kept, gone])
    assert by_ids.counts == {"moved": 1, "skipped": 0, "refused": 1}
    assert w.revenue_reads.run(by_ids.id)["results"][1]["reason"] == "the lead was deleted"  # type: ignore[index]


# -- time travel ------------------------------------------------------------------------------------


def test_a_leads_stage_and_times_in_stages_at_any_past_moment(w: RevenueWorld) -> None:
    model = w.model()
    lead = w.receive("a", score=1)
    w.live(model, (lead, "new"))
    t1 = w.clock.now()
    w.later(hours=5)
    w.move(model, lead, "prospect")
    w.later(hours=3)
    w.move(model, lead, "new")
    w.later(hours=2)
    then = w.revenue.position(model, lead, t1 + timedelta(hours=6))
    assert then["stage"] == "prospect"
    assert then["stages"]["new"]["cumulative_seconds"] == 5 * 3600
    assert then["stages"]["prospect"]["latest_seconds"] == 1 * 3600
    now = w.revenue.position(model, lead)
    assert now["stage"] == "new"
    assert now["stages"]["new"]["visits"] == 2
    assert now["stages"]["new"]["cumulative_seconds"] == 7 * 3600
    assert now["stages"]["new"]["latest_seconds"] == 2 * 3600
    assert now["stages"]["prospect"]["last_exited_at"] == t1 + timedelta(hours=8)


def test_the_revenue_read_model_rebuilt_from_the_events_equals_the_live_one(w: RevenueWorld) -> None:
    from assignment.projections.revenue import TABLES

    model = w.model(definition=_with_gate())
    leads = [w.receive(f"r{i}", score=i * 10) for i in range(6)]
    w.live(model, *((lead, "new") for lead in leads[:2]))
    for i, lead in enumerate(leads):
        w.later(hours=7 * i)
        w.change_data(lead, score=90 - i)
        w.move(model, lead, "lead")
    w.revenue.run_to_end(w.app.execute(w.revenue.merge_stage, model, "prospect", "new", "admin").id)
    w.later(hours=80)
    w.deadlines.fire_due()
    runner = w.revenue_reads.runner

    def contents() -> dict[str, list[tuple[object, ...]]]:
        runner.catch_up()
        with runner.store.transaction(write=False) as tx:
            return {t: sorted(tx.fetchall(f"SELECT * FROM {t}"), key=repr) for t in TABLES}

    live = contents()
    assert all(live[t] for t in ("revenue_activity", "revenue_intervals", "revenue_daily_out", "revenue_daily_sla"))
    runner.rebuild()
    assert contents() == live
