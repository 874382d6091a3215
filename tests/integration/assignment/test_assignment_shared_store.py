"""Two application instances on one store file, deterministically interleaved: a stale view of a
seller meets the seller stream's version, the retry reads the seller again, and capacity holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import pytest

from assignment.application import AssignmentApplication
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import LeadReceivedV1

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def lead(name: str) -> LeadReceivedV1:
    lead_id = uuid5(NAMESPACE_URL, f"shared-store:{name}")
    return LeadReceivedV1(
        aggregate_id=lead_id,
        version=1,
        lead_id=lead_id,
        source="web-form",
        external_id=name,
        type="customer_inquiry",
        contact={},
        company={},
        occurred_at=NOW,
        received_at=NOW,
    )


@pytest.mark.parametrize("fastforward", ["y", "n"])
def test_a_stale_view_is_caught_by_the_seller_stream_and_the_retry_decides_again(
    tmp_path: Path, fastforward: str
) -> None:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "shared.sqlite"),
        "AGGREGATE_CACHE_FASTFORWARD": fastforward,
    }
    first = AssignmentApplication(env=env, clock=FixedClock(NOW), shared_store=True)
    first.execute(
        first.add_sellers,
        [{"seller_id": "solo", "name": "Solo", "capacity": 1}, {"seller_id": "spare", "name": "Spare"}],
    )
    second = AssignmentApplication(env=env, clock=FixedClock(NOW), shared_store=True)
    assert second.execute(second.add_sellers, [{"seller_id": "solo", "name": "Solo"}]) == 0  # already there
    # Both have read the sellers.
    assert [s.open_count for s in first.sellers()] == [0, 0] == [s.open_count for s in second.sellers()]
    # The second takes solo's only slot.
    second.execute(second.assign_received_lead, lead("a"))
    assert second.get_assignment(lead("a").lead_id).seller_id == "solo"
    # The first does not look at the log before its first attempt (as if the write landed between
    # its look and its save), so it still sees solo free and picks solo …
    catch_up, calls = first.views.catch_up, {"n": 0}

    def late_catch_up(uow: object = None) -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            catch_up(uow)  # type: ignore[arg-type]

    first.views.catch_up = late_catch_up  # type: ignore[method-assign]
    first.execute(first.assign_received_lead, lead("b"))
    # … which the seller's stream refuses; the retry reads solo full and gives the lead to spare.
    assert first.conflicts_retried == 1
    assert first.get_assignment(lead("b").lead_id).seller_id == "spare"
    first.views.catch_up = catch_up  # type: ignore[method-assign]
    assert {s.seller_id: s.open_count for s in first.sellers()} == {"solo": 1, "spare": 1}
    assert {s.seller_id: s.open_count for s in second.sellers()} == {"solo": 1, "spare": 1}


def test_a_holiday_list_defined_by_one_process_applies_in_the_other(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "shared.sqlite")}
    first = AssignmentApplication(env=env, clock=FixedClock(NOW), shared_store=True)
    first.execute(first.add_sellers, [{"seller_id": "ann", "name": "Ann"}, {"seller_id": "bob", "name": "Bob"}])
    second = AssignmentApplication(env=env, clock=FixedClock(NOW), shared_store=True)
    assert [s.holidays for s in second.sellers()] == [s.holidays for s in first.sellers()]
    # The first defines the organisation's list with today in it; the second sees it before its
    # next decision, and the lead waits there too.
    first.execute(first.define_holiday_list, "organisation", "Org", [{"date": NOW.date().isoformat(), "name": "x"}])
    second.execute(second.assign_received_lead, lead("on the holiday"))
    waiting = second.get_assignment(lead("on the holiday").lead_id)
    assert waiting.seller_id is None and waiting.waiting_reason.endswith("(holiday 2)")
    # Bob opts out in the second process; the first now gives bob the next lead.
    second.execute(second.put_seller, "bob", {"holiday_list": None})
    first.execute(first.assign_received_lead, lead("bob's"))
    assert first.get_assignment(lead("bob's").lead_id).seller_id == "bob"
