"""`make bench` phase 14: the what-if (`POST /v1/rulesets/{version}/simulate`) over 10,000 leads.

The world: 100 sellers (capacities of 20 to 49 open leads, four teams, a tenth of them in office
hours), a segment, an active rule set (enterprise leads to a team by load balancing, then
territory owners and everyone else round robin); 10,000 leads arriving in batches of 100 (one
unit of work each, as a Kafka batch), each batch followed by closes, a few recycles and a hand
reassignment, and a re-run of the unassigned queue every fifth batch — so capacity binds, leads
wait and are placed later. SQLite event and read stores, the service's own API and store worker.

Timed: one simulate call of a draft rule set over the last 10,000 leads, through the HTTP API
(the store thread's short reads and the replay beside it); meanwhile `GET /v1/sellers/load` is
asked again and again, and its slowest answer is reported. The active rule set simulated over the
same leads must report 0 differences (checked, not timed).

    python bench/whatif.py [--leads N] [--sellers N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

# bench/assignment.py is named like the service package: this folder must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402

from assignment.application import AssignmentApplication  # noqa: E402
from assignment.entrypoints.api import create_api  # noqa: E402
from assignment.projections import AssignmentReadModel, AssignmentsProjection  # noqa: E402
from leadflow_shared.auth.apikeys import ApiKeyChecker  # noqa: E402
from leadflow_shared.auth.devissuer import DEV_AUDIENCE, DEV_ISSUER, ensure_keys, issue  # noqa: E402
from leadflow_shared.auth.http import Authenticator  # noqa: E402
from leadflow_shared.auth.setup import load_api_keys  # noqa: E402
from leadflow_shared.auth.tokens import FileJwks, TokenVerifier  # noqa: E402
from leadflow_shared.clock import FixedClock  # noqa: E402
from leadflow_shared.contracts import LeadReceivedV1, LeadStatusChangedV1  # noqa: E402
from leadflow_shared.projection import ProjectionRunner  # noqa: E402
from leadflow_shared.readstore import SQLiteReadStore  # noqa: E402
from leadflow_shared.runtime import settle_garbage_collector  # noqa: E402
from leadflow_shared.settings import ServiceSettings  # noqa: E402
from leadflow_shared.store import StoreWorker  # noqa: E402

START = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)  # a Tuesday
COUNTRIES = ["DE", "AT", "CH", "FR", "GB", "US", "CA", "JP"]
SIZES = ["1-10", "11-50", "51-200", "201-1000", "1000+"]
BATCH = 100
OPEN_PER_SELLER = 32
"""Leads close until this many per seller are open: capacities of 20 to 49 bind for some."""

ACTIVE_RULES: list[dict[str, Any]] = [
    {"name": "enterprise", "segment": "enterprise", "target": {"kind": "team", "team_id": "team-0"},
     "method": "load_balancing"},
    {"name": "territory", "conditions": {"field": "score", "op": "gte", "value": 50},
     "target": {"kind": "sellers", "seller_conditions":
                {"field": "territories", "op": "contains", "lead_field": "country"}},
     "method": "round_robin"},
    {"name": "everyone", "target": {"kind": "sellers"}, "method": "round_robin"},
]  # fmt: skip
DRAFT_RULES: list[dict[str, Any]] = [
    {"name": "enterprise", "segment": "enterprise", "target": {"kind": "team", "team_id": "team-1"},
     "method": "round_robin"},
    {"name": "everyone", "target": {"kind": "sellers"}, "method": "load_balancing"},
]  # fmt: skip


def seller_entries(count: int, rng: random.Random) -> list[dict[str, Any]]:
    entries = []
    for i in range(count):
        hours = {d: [["08:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} if i % 10 == 0 else {}
        entries.append(
            {
                "seller_id": f"s{i:03}",
                "name": f"Seller {i}",
                "time_zone": "Europe/Berlin" if i % 10 == 0 else "UTC",
                "working_hours": hours,
                "capacity": 20 + i % 30,
                "territories": rng.sample(COUNTRIES, 2),
                "teams": [f"team-{i % 4}"],
            }
        )
    return entries


def received(n: int, rng: random.Random, now: datetime) -> LeadReceivedV1:
    lead_id = uuid5(NAMESPACE_URL, f"whatif-lead:{n}")
    return LeadReceivedV1(
        aggregate_id=lead_id,
        version=1,
        lead_id=lead_id,
        source="bench",
        external_id=str(n),
        type="customer_inquiry",
        contact={},
        company={"country": rng.choice(COUNTRIES), "size_band": rng.choice(SIZES)},
        score=rng.randint(0, 100),
        occurred_at=now,
        received_at=now,
    )


class World:
    """An assignment service in process (SQLite stores) and the history the module docstring tells."""

    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.work = work
        for name in ("assignment.sqlite", "assignment-read.sqlite"):
            (work / name).unlink(missing_ok=True)
        self.clock = FixedClock(START)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(work / "assignment.sqlite"),
            "CREATE_TABLE": "y",
        }
        self.app = AssignmentApplication(env=env, clock=self.clock)
        self.read_store = SQLiteReadStore(work / "assignment-read.sqlite")
        self.read_model = AssignmentReadModel(ProjectionRunner(self.app, self.read_store, AssignmentsProjection()))
        self.app.reads = self.read_model
        self.versions: dict[UUID, int] = {}
        self.open: list[UUID] = []

    def build(self, leads: int, sellers: int, say: Any = print) -> tuple[int, int]:
        """The history; returns (active version, draft version)."""
        app, rng = self.app, random.Random(5)
        app.execute(app.add_sellers, seller_entries(sellers, rng))
        app.execute(app.define_segment, "enterprise", 10, {"field": "company_size", "op": "in", "value": ["1000+"]})
        active = app.execute(app.draft_ruleset, "active", ACTIVE_RULES)
        app.execute(app.activate_ruleset, active)
        draft = app.execute(app.draft_ruleset, "draft", DRAFT_RULES)
        for start in range(0, leads, BATCH):
            batch = [received(n, rng, self.clock.now()) for n in range(start, min(leads, start + BATCH))]
            app.execute(lambda uow, batch=batch: [app.assign_received_lead(uow, lead) for lead in batch])
            for lead in batch:
                self.versions[lead.lead_id] = 1
                self.open.append(lead.lead_id)
            self.clock.advance(timedelta(minutes=10))
            self._churn(rng, open_leads=int(OPEN_PER_SELLER * sellers))
            if (start // BATCH) % 5 == 4:
                app.rerun_waiting()
            if start and start % 2000 == 0:
                say(f"  {start:,} leads")
        self.read_model.runner.catch_up()
        return active, draft

    def _churn(self, rng: random.Random, open_leads: int) -> None:
        """Leads close until about `open_leads` are open; a few are recycled, one is moved by hand."""
        app = self.app
        rng.shuffle(self.open)
        while len(self.open) > open_leads:
            self._status(self.open.pop(), "converted")
        for lead_id in self.open[:3]:
            self._status(lead_id, "recycled")
        moved = self.open[3]
        target = f"s{rng.randrange(len(app.roster().order)):03}"
        app.execute(app.assign_by_hand, moved, seller_id=target, team_id=None, reason="bench", actor="manager")

    def _status(self, lead_id: UUID, action: str) -> None:
        assignment = self.app.get_assignment(lead_id)
        if action == "recycled" and assignment.seller_id is None:
            return  # only an owned lead is recycled
        self.versions[lead_id] += 1
        self.app.execute(
            self.app.apply_status_change,
            LeadStatusChangedV1(
                aggregate_id=lead_id,
                version=self.versions[lead_id],
                lead_id=lead_id,
                action=action,
                status_before="assigned",
                status_after={"recycled": "unassigned", "converted": "converted"}[action],
                previous_owner_id=assignment.seller_id,
                occurred_at=self.clock.now(),
            ),
        )

    def close(self) -> None:
        self.app.close()
        self.read_store.close()


async def timed_simulation(world: World, version: int, last: int) -> dict[str, Any]:
    """One simulate call through the API, timed alone; then another while `GET /v1/sellers/load`
    is asked again and again (its slowest answer, and its time with nothing else running)."""
    worker = StoreWorker("assignment-bench")
    keys = world.work / "issuer"
    verifier = TokenVerifier(FileJwks(ensure_keys(keys)), issuer=DEV_ISSUER, audience=DEV_AUDIENCE)
    checker = ApiKeyChecker(lambda: load_api_keys(world.app))
    api = create_api(world.app, worker, {}, world.read_model, Authenticator(verifier, checker, run=worker.call))
    transport = httpx.ASGITransport(app=api)
    headers = {"Authorization": f"Bearer {issue(keys, subject='bench-admin', roles=['admin'])}"}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://assignment", headers=headers, timeout=600
        ) as http:

            async def load() -> float:
                began = time.perf_counter()
                (await http.get("/v1/sellers/load")).raise_for_status()
                return time.perf_counter() - began

            idle = sorted([await load() for _ in range(5)])[2]
            began = time.perf_counter()
            response = await http.post(f"/v1/rulesets/{version}/simulate", json={"last": last})
            seconds = time.perf_counter() - began
            response.raise_for_status()

            loads: list[float] = []
            done = asyncio.Event()

            async def ask_load() -> None:
                while not done.is_set():
                    loads.append(await load())
                    await asyncio.sleep(0.05)

            asker = asyncio.create_task(ask_load())
            await asyncio.sleep(0.01)
            (await http.post(f"/v1/rulesets/{version}/simulate", json={"last": last})).raise_for_status()
            done.set()
            await asker
            return {
                "seconds": seconds,
                "result": response.json(),
                "load_idle": idle,
                "load_calls": len(loads),
                "load_max": max(loads),
            }
    finally:
        worker.shutdown()


def simulate_figures(work: Path, leads: int = 10_000, sellers: int = 100, say: Any = print) -> dict[str, Any]:
    """{seconds, load_idle, load_max, load_calls, leads, different, self_different, manual, reruns}."""
    world = World(work)
    try:
        began = time.perf_counter()
        active, draft = world.build(leads, sellers, say)
        say(f"  {leads:,} leads, {sellers} sellers in {time.perf_counter() - began:.0f}s")
        # As the service runs (runtime.serve): full passes of the cycle collector kept rare.
        settle_garbage_collector(ServiceSettings.model_fields["gc_full_pass_every"].default)
        asyncio.run(timed_simulation(world, draft, leads))  # warm-up: imports, zone data
        timed = asyncio.run(timed_simulation(world, draft, leads))
        own = asyncio.run(timed_simulation(world, active, leads))["result"]
        result = timed["result"]
        return {
            "seconds": timed["seconds"],
            "load_max": timed["load_max"],
            "load_calls": timed["load_calls"],
            "load_idle": timed["load_idle"],
            "leads": result["leads"],
            "different": result["different_owner"],
            "self_different": own["different_owner"],
            "manual": own["manual_changes"]["count"],
            "reruns": own["reruns"]["count"],
        }
    finally:
        world.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--sellers", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = simulate_figures(Path(tmp), args.leads, args.sellers)
    print(
        f"what-if over {found['leads']:,} leads, {args.sellers} sellers: {found['seconds']:.2f}s "
        f"(target ≤ 2 s), {found['different']:,} different owners under the draft; the active rule set over "
        f"its own period: {found['self_different']} different ({found['reruns']} re-runs and "
        f"{found['manual']} manual changes listed apart); GET /v1/sellers/load during another simulation: "
        f"{found['load_calls']} answers, slowest {found['load_max'] * 1000:.0f} ms "
        f"({found['load_idle'] * 1000:.0f} ms with nothing else running)"
    )


if __name__ == "__main__":
    main()
