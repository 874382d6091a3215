"""What-if (`POST /v1/rulesets/{version}/simulate`): like with like, the default window, and
the store thread left free while it runs."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from assignment_scenario import NINE_TO_FIVE, Scenario, everyone

from assignment.application.whatif import DEFAULT_LAST, WhatIf
from assignment.domain import SellerState, choose_owner
from assignment.domain.engine import choose_owner_outcome, ranking_key

pytestmark = pytest.mark.unit

TEAM_RULES: list[dict[str, Any]] = [
    {"name": "enterprise to emea", "segment": "enterprise", "target": {"kind": "team", "team_id": "emea"},
     "method": "load_balancing"},
    {"name": "territory", "conditions": {"field": "score", "op": "gte", "value": 50},
     "target": {"kind": "sellers", "seller_conditions":
                {"field": "territories", "op": "contains", "lead_field": "country"}},
     "method": "round_robin", "available_within_hours": 1},
    everyone(name="everyone"),
]  # fmt: skip


def a_busy_period() -> tuple[Scenario, int, dict[str, set[UUID]]]:
    """Six sellers (capacities, office hours, a team), segments and one active rule set; then
    300 leads, ten minutes apart: some wait (sellers full or off work) and are placed by the
    queue's re-run, some close, some are recycled, some are moved by hand or claimed.
    Returns the scenario, the active version and the leads that were moved by hand, claimed,
    recycled."""
    s = Scenario(now=datetime(2026, 11, 2, 6, 0, tzinfo=UTC))  # a Monday, before office hours
    s.seller("ann", capacity=6, territories=["DE", "AT"], teams=["emea"])
    s.seller("bob", capacity=5, territories=["US"])
    s.seller("cy", capacity=8, time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE, teams=["emea"])
    s.seller("dee", capacity=4, territories=["DE", "US"])
    s.seller("eve", capacity=7, time_zone="America/New_York", working_hours=NINE_TO_FIVE)
    s.seller("fay", capacity=3, teams=["emea"])
    s.app.execute(s.app.define_segment, "enterprise", 10, {"field": "company_size", "op": "in", "value": ["1000+"]})
    active = s.rules(*TEAM_RULES)
    rng = random.Random(11)
    moved: dict[str, set[UUID]] = {"by_hand": set(), "claimed": set(), "recycled": set()}
    open_leads: list[UUID] = []
    for n in range(300):
        lead = s.lead(
            f"busy-{n}",
            country=rng.choice(["DE", "AT", "US", "FR"]),
            size_band=rng.choice(["1-10", "51-200", "1000+"]),
            score=rng.randint(0, 100),
        )
        open_leads.append(lead)
        s.later(minutes=10)
        if len(open_leads) > 26:  # closes keep the sellers turning over, about full
            s.status(open_leads.pop(rng.randrange(len(open_leads) - 6)), "converted")
        if n % 17 == 16:
            recycled = next(x for x in reversed(open_leads) if s.owner(x) is not None)
            s.status(recycled, "recycled", previous_owner=s.owner(recycled))
            moved["recycled"].add(recycled)
        if n % 23 == 22:
            by_hand = open_leads[-3]
            s.app.execute(s.app.assign_by_hand, by_hand, seller_id="fay", team_id=None, reason="knows them")
            moved["by_hand"].add(by_hand)
        if n % 29 == 28:
            waiting = [x for x in open_leads if s.app.get_assignment(x).status == "waiting"]
            room = [x for x in ("dee", "bob", "fay") if s.open_leads(x) < s.app.get_seller(x).profile["capacity"]]
            if waiting and room:
                s.app.execute(s.app.claim, waiting[0], seller_id=room[0])
                moved["claimed"].add(waiting[0])
        if n % 10 == 9:
            s.app.rerun_waiting()
    return s, active, moved


def automatic_decisions(s: Scenario, lead: UUID) -> list[dict[str, Any]]:
    return [
        h
        for h in s.app.get_assignment(lead).history
        if h["kind"] in ("assigned", "waiting", "queued") and "ruleset_version" in h["explanation"]
    ]


def test_the_active_rule_set_over_its_own_period_reproduces_every_first_decision() -> None:
    s, active, moved = a_busy_period()
    leads = [UUID(row["lead_id"]) for row in s.read_model.leads_in_order()]
    before = s.app.recorder.max_notification_id()

    result = s.app.simulate_ruleset(active, last=len(leads))

    assert s.app.recorder.max_notification_id() == before  # nothing was written
    assert result["leads"] == 300 and result["decided_under"] == {str(active): 300}
    assert result["different_owner"] == 0 and result["changes"] == []
    assert result["unassigned"]["simulated"] == result["unassigned"]["actual"] > 0  # some had to wait
    for seller in result["per_seller"].values():
        assert seller["simulated"] == seller["actual"]
    # What happened to the leads after their first decision is listed apart, not compared.
    manual = {UUID(x) for x in result["manual_changes"]["lead_ids"]}
    assert manual == moved["by_hand"] | moved["claimed"]
    assert result["manual_changes"]["decisions"] == {"by_hand": len(moved["by_hand"]), "claimed": len(moved["claimed"])}
    rerun = {lead for lead in leads if len(automatic_decisions(s, lead)) > 1}
    assert {UUID(x) for x in result["reruns"]["lead_ids"]} == rerun
    assert moved["recycled"] <= rerun and any(x not in moved["recycled"] for x in rerun)  # queue re-runs too
    assert result["reruns"]["decisions"]["recycled"] == len(moved["recycled"])
    assert result["reruns"]["decisions"]["queue"] > 0


def test_a_draft_that_really_differs_reports_the_leads_it_would_have_placed_elsewhere() -> None:
    s = Scenario().sellers("ann", "cy").seller("bob", capacity=2)
    s.rules({"name": "all to ann", "target": {"kind": "seller", "seller_id": "ann"}, "method": "direct"})
    draft = s.rules(
        {"name": "germany to bob", "conditions": {"field": "country", "op": "equals", "value": "DE"},
         "target": {"kind": "seller", "seller_id": "bob"}, "method": "direct"},
        {"name": "the rest to ann", "target": {"kind": "seller", "seller_id": "ann"}, "method": "direct"},
        activate=False,
    )  # fmt: skip
    d1 = s.lead("d1", country="DE")
    u1 = s.lead("u1", country="US")
    d2 = s.lead("d2", country="DE")
    s.status(d1, "converted")  # closed: in the simulation it leaves bob, who has room again
    d3 = s.lead("d3", country="DE")
    d4 = s.lead("d4", country="DE")  # bob (capacity 2) holds d2 and d3 in the simulation: it waits
    u2 = s.lead("u2", country="US")

    result = s.app.simulate_ruleset(draft, last=6)

    assert result["leads"] == 6
    assert [(c["lead_id"], c["actual"], c["simulated"]) for c in result["changes"]] == [
        (str(d1), "ann", "bob"),
        (str(d2), "ann", "bob"),
        (str(d3), "ann", "bob"),
        (str(d4), "ann", None),
    ]
    assert result["different_owner"] == 4 and str(u1) not in str(result["changes"]) and str(u2) not in str(result)
    assert result["per_seller"] == {"ann": {"simulated": 2, "actual": 6}, "bob": {"simulated": 3, "actual": 0}}
    assert result["unassigned"] == {"simulated": 1, "actual": 0}
    assert result["rules_matched"] == {"germany to bob": 4, "the rest to ann": 2}
    assert result["reruns"]["count"] == result["manual_changes"]["count"] == 0


def test_with_no_window_the_last_100_leads_are_simulated() -> None:
    s = Scenario().sellers("ann", "bob")
    leads = []
    for i in range(130):
        leads.append(s.lead(f"l{i}"))
        s.later(minutes=1)
    assert DEFAULT_LAST == 100

    result = s.app.simulate_ruleset(0)

    assert result["leads"] == 100 and result["window"] == {"last": 100, "since": None, "until": None}
    assert result["period"]["from"] == s.app.get_assignment(leads[30]).arrived_at.isoformat()
    assert s.app.simulate_ruleset(0, last=5)["leads"] == 5
    since = s.app.get_assignment(leads[120]).arrived_at
    assert s.app.simulate_ruleset(0, since=since)["leads"] == 10  # a window given: no default


async def test_over_http_the_default_is_the_last_100_and_an_unknown_version_is_404(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    s.sellers("ann", "bob")
    for i in range(120):
        s.lead(f"h{i}")
    for body in ({}, {"json": {}}):
        answer = await http.post("/v1/rulesets/0/simulate", **body)
        assert answer.status_code == 200 and answer.json()["leads"] == 100
        assert answer.json()["window"]["last"] == 100
    assert (await http.post("/v1/rulesets/0/simulate", json={"last": 7})).json()["leads"] == 7
    assert (await http.post("/v1/rulesets/9/simulate", json={})).status_code == 404


async def test_a_simulation_leaves_the_store_thread_free_and_other_calls_answer_meanwhile(
    walk: tuple[Scenario, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, http = walk
    s.sellers("ann", "bob", "cy")
    for i in range(150):
        s.lead(f"w{i}")
    threads: dict[str, set[str]] = {"reads": set(), "compare": set()}
    replaying, may_finish = threading.Event(), threading.Event()
    reads, compare = WhatIf.reads, WhatIf.compare

    def noted_reads(self: WhatIf) -> Iterator[Any]:
        for read in reads(self):
            yield lambda read=read: (threads["reads"].add(threading.current_thread().name), read())

    def held_compare(self: WhatIf) -> dict[str, Any]:
        threads["compare"].add(threading.current_thread().name)
        replaying.set()
        assert may_finish.wait(10), "the test never let the replay finish"
        return compare(self)

    monkeypatch.setattr(WhatIf, "reads", noted_reads)
    monkeypatch.setattr(WhatIf, "compare", held_compare)

    simulation = asyncio.create_task(http.post("/v1/rulesets/0/simulate", json={}))
    assert await asyncio.to_thread(replaying.wait, 10)
    # The replay is running (held): the store thread and the event loop still serve others.
    load = await asyncio.wait_for(http.get("/v1/sellers/load"), timeout=5)
    assert load.status_code == 200 and len(load.json()["sellers"]) == 3
    assert (await asyncio.wait_for(http.get("/v1/sellers/ann"), timeout=5)).status_code == 200
    assert not simulation.done()
    may_finish.set()
    answer = await asyncio.wait_for(simulation, timeout=30)
    assert answer.status_code == 200 and answer.json()["leads"] == 100 and answer.json()["different_owner"] == 0
    # Short reads on the store thread; the replay beside it.
    assert len(threads["reads"]) == 1 and next(iter(threads["reads"])).startswith("assignment-test-store")
    assert not any(name.startswith("assignment-test-store") for name in threads["compare"])


def test_the_outcome_alone_is_the_one_the_full_decision_makes() -> None:
    """`choose_owner_outcome` (the replay's fast path) against `choose_owner`, on many states."""
    rng = random.Random(3)
    now = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    rules: list[list[dict[str, Any]]] = [
        TEAM_RULES,
        [everyone("load_balancing")],
        [{"name": "one", "target": {"kind": "seller", "seller_id": "s3"}, "method": "direct"}],
        [{"name": "q", "conditions": {"field": "country", "op": "equals", "value": "FR"},
          "target": {"kind": "queue", "queue_id": "france"}, "method": "round_robin"}, everyone()],
        [{"name": "team", "target": {"kind": "team", "team_id": "emea"}, "method": "direct"}],
        [{"name": "ghost team", "target": {"kind": "team", "team_id": "nope"}, "method": "round_robin"}],
    ]  # fmt: skip
    base = Scenario(now=now)
    for i in range(12):
        base.seller(
            f"s{i}",
            capacity=rng.choice([None, 1, 2, 3]),
            territories=rng.sample(["DE", "AT", "US", "FR"], 2),
            time_zone=rng.choice(["UTC", "Asia/Tokyo"]),
            working_hours=rng.choice([{}, NINE_TO_FIVE]),
            active=rng.random() > 0.1,
            teams=["emea"] if i % 3 == 0 else [],
        )
    states, teams = base.app.sellers(), base.app.views.teams()
    compared = 0
    for _ in range(300):
        sellers = [
            dataclasses.replace(
                s,
                open_count=rng.randint(0, 3),
                last_assigned_at=rng.choice([None, now - timedelta(minutes=rng.randint(1, 5))]),
                last_turn=rng.randint(0, 4),
            )
            for s in states
        ]
        lead = {"country": rng.choice(["DE", "AT", "US", "FR"]), "score": rng.randint(0, 100)}
        segment = rng.choice([None, "enterprise"])
        exclude = frozenset(rng.sample([s.seller_id for s in sellers], rng.randint(0, 2)))
        ruleset = {"version": 1, "name": "r", "rules": rng.choice(rules)}
        full = choose_owner(
            lead=lead, segment=segment, ruleset=ruleset, sellers=sellers, teams=teams, now=now, exclude=exclude
        )
        for ranked in (None, _ranked_by(sellers)):
            fast = choose_owner_outcome(
                lead=lead,
                segment=segment,
                ruleset=ruleset,
                sellers=sellers,
                teams=teams,
                now=now,
                exclude=exclude,
                ranked=ranked,
            )
            assert _outcome(fast) == _outcome(full)
            assert fast.explanation["rule"] == full.explanation["rule"]
            compared += 1
    assert compared == 600


def _ranked_by(sellers: list[SellerState]) -> Any:
    return lambda method: sorted(sellers, key=ranking_key(method))


def _outcome(decision: Any) -> tuple[Any, ...]:
    return (decision.outcome, decision.seller_id, decision.team_id, decision.queue_id, decision.turn)
