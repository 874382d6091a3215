"""Across processes on a real broker: a sales manager sees the leads of their team's members
(assignment publishes membership on sellers.events.v1, intake keeps its copy), and a seller takes
a lead from the unassigned pool (self-assignment) and intake follows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from harness import as_bytes, inbound_lead
from test_end_to_end import SELLERS, service_stack

from intake.domain import lead_id_for
from leadflow_shared.topics import LEADS_INBOUND

pytestmark = pytest.mark.e2e
SELF_ASSIGNMENT = {"INTAKE_SELF_ASSIGNMENT": "true", "ASSIGNMENT_SELF_ASSIGNMENT": "true"}


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def test_a_seller_takes_a_pool_lead_and_their_manager_sees_it_through_team_membership(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with service_stack(kafka_bootstrap, tmp_path, extra_env=SELF_ASSIGNMENT) as stack:
        seller_1 = stack.headers("seller", subject="seller-1")
        seller_2 = stack.headers("seller", subject="seller-2")
        emea = stack.headers("sales_manager", subject="mia", teams=["emea"])
        apac = stack.headers("sales_manager", subject="ali", teams=["apac"])
        async with stack.client("assignment") as assignment, stack.client("intake") as intake:
            for seller in SELLERS:  # nobody takes assignments: the next lead waits in the pool
                patched = await assignment.patch(
                    f"/v1/sellers/{seller['seller_id']}", json={"accepts_assignments": False}
                )
                assert patched.status_code == 200, patched.text
            assert (await assignment.put("/v1/teams/emea", json={"name": "EMEA", "members": ["seller-1"]})).is_success

            lead = inbound_lead("pool-1")
            lead_id = lead_id_for(lead["source"], lead["external_id"])
            producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(stack.topic_prefix + LEADS_INBOUND, as_bytes(lead))
            finally:
                await producer.stop()

            async def waiting() -> bool:
                answer = await assignment.get(f"/v1/leads/{lead_id}/assignment")
                return answer.status_code == 200 and answer.json()["status"] == "waiting"

            await eventually(waiting, "the lead never waited in the unassigned queue")
            queue = await assignment.get("/v1/queue", headers=seller_1)
            assert queue.status_code == 200 and str(lead_id) in [q["lead_id"] for q in queue.json()]
            assert (await intake.get(f"/v1/leads/{lead_id}", headers=seller_1)).status_code == 200  # the pool

            # seller-1 takes it once they take assignments again
            refused = await assignment.post(f"/v1/leads/{lead_id}/assignment/claim", headers=seller_1)
            assert refused.status_code == 409 and "accept" in refused.json()["detail"]
            await assignment.patch("/v1/sellers/seller-1", json={"accepts_assignments": True})
            taken = await assignment.post(f"/v1/leads/{lead_id}/assignment/claim", headers=seller_1)
            assert taken.status_code == 200, taken.text
            assert (taken.json()["seller_id"], taken.json()["method"]) == ("seller-1", "self")

            async def owned() -> bool:
                return (await intake.get(f"/v1/leads/{lead_id}")).json()["owner_id"] == "seller-1"

            await eventually(owned, "intake never recorded the self-assignment")
            assert (await intake.get(f"/v1/leads/{lead_id}", headers=seller_2)).status_code == 404
            late = await assignment.post(f"/v1/leads/{lead_id}/assignment/claim", headers=seller_2)
            assert late.status_code == 404  # someone else's lead now: as if it did not exist

            # the lead is in no team; emea's manager sees it because seller-1 is in emea
            async def manager_sees() -> bool:
                return (await intake.get(f"/v1/leads/{lead_id}", headers=emea)).status_code == 200

            await eventually(manager_sees, "intake never learned seller-1 is in emea")
            listed = (await intake.get("/v1/leads", headers=emea)).json()["items"]
            assert [item["lead_id"] for item in listed] == [str(lead_id)]
            assert (await intake.get(f"/v1/leads/{lead_id}", headers=apac)).status_code == 404
            assert (await assignment.get(f"/v1/leads/{lead_id}/assignment", headers=emea)).status_code == 200

            # seller-1 leaves emea: the manager no longer sees their lead
            assert (await assignment.put("/v1/teams/emea", json={"name": "EMEA", "members": ["seller-2"]})).is_success

            async def manager_lost_it() -> bool:
                return (await intake.get(f"/v1/leads/{lead_id}", headers=emea)).status_code == 404

            await eventually(manager_lost_it, "intake never learned seller-1 left emea")
            assert (await assignment.get(f"/v1/leads/{lead_id}/assignment", headers=emea)).status_code == 404
        async with httpx.AsyncClient() as http:
            for service in ("intake", "assignment"):
                ready = await http.get(stack.url(service) + "/readyz")
                assert ready.status_code == 200, ready.text
