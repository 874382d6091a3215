"""The Success Path Analyzer on generated histories: for every stage and period, end balance =
start balance + in flow - out flow, each period starts where the one before ended, the balances
and flows equal what the leads' own streams say, and a gate never holds anybody."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from assignment_scenario import MONDAY_10_UTC
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from revenue_world import RevenueWorld

from assignment.domain.revenue import default_definition

pytestmark = pytest.mark.unit

STAGES = ["new", "triage", "prospect", "lead", "opportunity", "customer", "disqualified"]


def definition() -> dict[str, Any]:
    d = default_definition()
    d["stages"].insert(
        1,
        {"id": "triage", "name": "Triage", "type": "gate", "path": "success", "active": True, "default_to": "prospect"},
    )
    d["transitions"].append({"id": "t", "from": "new", "to": "triage", "triggers": ["voided"], "filter": None})
    d["stages"] = [s for s in d["stages"] if s["id"] != "recycled"]
    d["transitions"] = [t for t in d["transitions"] if "recycled" not in (t["from"], t["to"])]
    return d


steps = st.lists(
    # lead, target, hours later: in steps of 6 from midnight, so changes fall on period boundaries too
    st.tuples(st.integers(0, 5), st.sampled_from(STAGES), st.sampled_from([0, 6, 12, 18, 24, 30, 48])),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, period=st.sampled_from(["day", "week", "month"]), start_offset=st.integers(-3, 10))
def test_the_analyzer_identity_holds_on_any_history(
    steps: list[tuple[int, str, int]], period: str, start_offset: int
) -> None:
    w = RevenueWorld()
    model = w.model(definition=definition())
    w.approve_stages(model)
    w.later(hours=14)  # Tuesday 00:00
    leads = [w.receive(f"p{i}", score=1) for i in range(6)]  # the assignment rules place them in New
    for index, target, hours in steps:
        w.later(hours=hours)
        w.move(model, leads[index], target)
    now = w.clock.now()
    stages = w.revenue.get_model(model).definition["stages"]
    start = MONDAY_10_UTC.date() + timedelta(days=start_offset)
    end = max(now.date(), start) + timedelta(days=2)
    found = w.revenue_reads.analyze(model, 1, stages, period, start, end, now)

    changes = [e for lead in leads for e in w.stream_of(model, lead) if type(e).__name__ == "StageChanged"]

    def balance_at(moment: datetime) -> Counter[str]:
        where: dict[Any, str | None] = {}
        for e in sorted(changes, key=lambda e: (e.at, e.originator_version)):
            if e.at < moment:
                where[e.originator_id] = e.to_stage
        return Counter(s for s in where.values() if s is not None)

    previous_end: dict[str, int] | None = None
    for row in found["periods"]:
        ps, pe = datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"])
        at_start, at_end = balance_at(ps), balance_at(pe)
        for sid, f in row["stages"].items():
            assert f["end_balance"] == f["start_balance"] + f["in_flow"] - f["out_flow"], (sid, row)
            assert f["start_balance"] == at_start[sid], (sid, row["start"])
            assert f["end_balance"] == at_end[sid], (sid, row["end"])
            assert f["in_flow"] == sum(1 for e in changes if e.to_stage == sid and ps <= e.at < pe)
            assert f["out_flow"] == sum(1 for e in changes if e.from_stage == sid and ps <= e.at < pe)
            if previous_end is not None:
                assert f["start_balance"] == previous_end[sid]
        assert row["stages"]["triage"]["end_balance"] == 0
        previous_end = {sid: f["end_balance"] for sid, f in row["stages"].items()}
    totals = found["totals"]
    for f in totals.values():
        assert f["end_balance"] == f["start_balance"] + f["in_flow"] - f["out_flow"]


def test_sla_due_and_past_due_per_period() -> None:
    w = RevenueWorld()
    model = w.model()  # Lead: SLA of 72 hours
    w.approve_stages(model)
    late, quick, still = (w.receive(x, score=1) for x in ("late", "quick", "still"))
    for lead in (late, quick, still):
        w.move(model, lead, "lead")  # Monday 10:00
    w.later(hours=24)
    w.move(model, quick, "opportunity")  # in time
    w.later(hours=60)  # Thursday 22:00: the limit passed on Thursday 10:00
    w.move(model, late, "opportunity")
    w.later(hours=48)
    stages = w.revenue.get_model(model).definition["stages"]
    monday = MONDAY_10_UTC.date()
    days = w.revenue_reads.analyze(model, 1, stages, "day", monday, monday + timedelta(days=6), w.clock.now())
    lead = [
        (r["start"][:10], r["stages"]["lead"]["sla_due"], r["stages"]["lead"]["sla_past_due"]) for r in days["periods"]
    ]
    assert lead == [
        ("2026-11-02", 0, 0),
        ("2026-11-03", 0, 0),
        ("2026-11-04", 0, 0),
        ("2026-11-05", 2, 1),  # late and still missed on Thursday; late left that evening
        ("2026-11-06", 0, 1),
        ("2026-11-07", 0, 1),
    ]
    assert days["totals"]["lead"]["sla_due"] == 2
    assert days["totals"]["opportunity"]["sla_due"] is None


def test_conversion_counts_moves_to_a_later_success_stage_and_average_time() -> None:
    w = RevenueWorld()
    model = w.model()
    w.approve_stages(model)
    a, b = w.receive("a", score=1), w.receive("b", score=1)
    w.later(hours=10)
    w.move(model, a, "lead")  # a later success stage: converted
    w.later(hours=10)
    w.move(model, b, "disqualified")  # a detour: not converted
    stages = w.revenue.get_model(model).definition["stages"]
    monday = MONDAY_10_UTC.date()
    new = w.revenue_reads.analyze(model, 1, stages, "week", monday, monday + timedelta(days=7), w.clock.now())[
        "totals"
    ]["new"]
    assert (new["out_flow"], new["converted"], new["conversion_pct"], new["avg_hours_in_stage"]) == (2, 1, 50.0, 15.0)


def test_a_window_is_cut_into_calendar_periods() -> None:
    from assignment.projections.analysis import periods

    assert periods("week", date(2026, 11, 4), date(2026, 11, 17)) == [
        (date(2026, 11, 4), date(2026, 11, 9)),
        (date(2026, 11, 9), date(2026, 11, 16)),
        (date(2026, 11, 16), date(2026, 11, 17)),
    ]
    assert periods("month", date(2026, 11, 20), date(2027, 1, 2)) == [
        (date(2026, 11, 20), date(2026, 12, 1)),
        (date(2026, 12, 1), date(2027, 1, 1)),
        (date(2027, 1, 1), date(2027, 1, 2)),
    ]
