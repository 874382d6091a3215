"""A bad admin record can neither be stored nor stop assignment: null where a list is required is
refused at the door (422); one stored before profiles were checked leaves that seller out of
decisions and is named by /readyz, leads keep being assigned, and correcting it clears /readyz."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth_helpers import bearer
from harness import eventually, new_prefix, produce, settings_for, started
from test_assignment_on_kafka import binary, received

from assignment.bootstrap import bootstrap as assignment_service
from assignment.domain import seller_uuid
from assignment.settings import AssignmentSettings

pytestmark = pytest.mark.integration


async def test_a_null_list_is_refused_and_an_old_unreadable_profile_is_reported_not_fatal(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps([{"seller_id": "ann", "name": "Ann"}, {"seller_id": "bob", "name": "Bob"}]))
    settings = settings_for(
        AssignmentSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix, roster_file=roster
    )
    # Given a store where bob's profile was changed to product_lines = null before profiles were checked,
    first = assignment_service(settings)
    bob = first.app.repository.get(seller_uuid("bob"))
    bob._profile_changed({"product_lines": None})
    first.app.save(bob)
    first.app.close()
    service = assignment_service(settings)
    async with started(service):
        transport = httpx.ASGITransport(app=service.api)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://assignment", headers=bearer(run_dir=service.settings.run_dir)
        ) as http:
            # then the API refuses a null list (and stores nothing),
            for body in ({"product_lines": None}, {"languages": None}, {"working_hours": None}, {"active": None}):
                refused = await http.patch("/v1/sellers/ann", json=body)
                assert refused.status_code == 422, (body, refused.text)
                assert refused.json()["detail"][0]["loc"] == ["body", next(iter(body))]
            assert (await http.patch("/v1/sellers/ann", json={"capacity": None})).status_code == 200  # no limit
            # /readyz names the unreadable seller,
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "seller bob left out of decisions" in ready.json()["checks"]["workers"]
            # leads are still assigned, to the others,
            await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(received(n)) for n in range(4)])

            async def owners() -> list[Any]:
                return [(await http.get(f"/v1/leads/{received(n).lead_id}/assignment")).json() for n in range(4)]

            decided = await eventually(owners, until=lambda o: all(x.get("seller_id") for x in o), timeout=30)
            assert {x["seller_id"] for x in decided} == {"ann"}
            # and correcting the record brings bob back and clears /readyz.
            assert (await http.patch("/v1/sellers/bob", json={"product_lines": []})).status_code == 200
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
