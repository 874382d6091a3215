"""A decision stays small whatever the roster's size: with 10,000 sellers in scope no event, stored
or published, is over 64 KiB, and the full candidate list comes back on demand."""

from __future__ import annotations

import json
import time

import pytest
from assignment_scenario import Scenario, everyone

from assignment.domain import Roster

pytestmark = pytest.mark.unit
LIMIT = 64 * 1024
SELLERS = 10_000


def largest_stored_event(s: Scenario) -> tuple[int, str]:
    notifications = s.app.recorder.select_notifications(1, 10**7)
    return max((len(n.state), n.topic) for n in notifications)


def test_no_event_is_over_64_kib_with_10_000_sellers_in_scope() -> None:
    s = Scenario()
    entries = [{"seller_id": f"s{i:05}", "name": f"Seller {i}", "teams": ["everyone"]} for i in range(SELLERS)]
    started = time.perf_counter()
    assert s.app.execute(s.app.add_sellers, entries) == SELLERS
    s.app.execute(s.app.define_team, "big", "Big", [f"s{i:05}" for i in range(SELLERS)])
    s.rules(everyone(name="all"), activate=True)
    leads = [s.lead(f"l{i}") for i in range(3)]
    s.rules({"name": "the big team", "target": {"kind": "team", "team_id": "big"}, "method": "load_balancing"})
    leads += [s.lead(f"t{i}") for i in range(3)]
    s.app.execute(s.app.put_seller, "s00000", {"active": False})  # one excluded, the rest eligible
    leads.append(s.lead("after"))
    # Nobody eligible: 10,000 exclusions, still one small event.
    for i in range(SELLERS):
        s.seller(f"s{i:05}", accepts_assignments=False) if i % 1000 == 0 else None
    s.rules({"name": "nobody", "target": {"kind": "sellers", "seller_conditions":
            {"field": "tags", "op": "contains", "value": "unicorn"}}, "method": "round_robin"})  # fmt: skip
    waiting = s.lead("waits")
    elapsed = time.perf_counter() - started

    size, topic = largest_stored_event(s)
    assert size < LIMIT, (size, topic)
    for published in s.published():
        assert len(published.model_dump_json()) < LIMIT
    explanation = s.explanation(leads[-1])
    assert explanation["considered"] == SELLERS
    assert explanation["exclusions"] == {"inactive": 1}
    assert explanation["eligible_count"] == SELLERS - 1 and len(explanation["eligible"]) == 100
    assert len(explanation["tie_break"]["top"]) == 10
    assert s.explanation(waiting)["exclusions"]["attribute_mismatch"] == SELLERS
    assert len(json.dumps(s.explanation(waiting))) < 4096
    # The full list is recomputed from the log when asked for (GET ...?full=true).
    (full,) = s.app.explain_in_full(leads[-1])
    assert full["same_outcome"] and len(full["candidates"]) == SELLERS
    assert sum(1 for c in full["candidates"] if c["eligible"]) == SELLERS - 1
    roster: Roster = s.app.roster()
    assert len(roster.team_members("big")) == SELLERS and roster.teams_of("s00042") == ("everyone", "big")
    print(f"10,000 sellers: largest stored event {size} bytes ({topic}); scenario {elapsed:.1f}s")
