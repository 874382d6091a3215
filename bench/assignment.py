"""Assignment decisions per second with 100 sellers and 20 rules (in-process; not in `make test`).

Each decision is the whole use case `assign_received_lead`: open the lead's assignment,
find its segment, walk the active rule set (20 rules, most leads match a late one), check all
100 sellers' eligibility (working hours in their time zones, out of office, capacity,
attributes), choose round robin or load balancing, record the explanation with every
candidate, and store the lead's and the seller's events in one transaction. Figures for the
in-memory (POPO) and SQLite stores, and for the pure decision function alone.

    python bench/assignment.py [--leads N]
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

# This file is named like the service package; run as a script, its folder would shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from assignment.application import AssignmentApplication, lead_facts  # noqa: E402
from assignment.domain import choose_owner  # noqa: E402
from leadflow_shared.clock import FixedClock  # noqa: E402
from leadflow_shared.contracts import LeadReceivedV1  # noqa: E402

COUNTRIES = ["DE", "AT", "CH", "FR", "GB", "US", "CA", "JP", "BR", "IN"]
INDUSTRIES = ["software", "retail", "finance", "health", "energy"]
SIZES = ["1-10", "11-50", "51-200", "201-1000", "1000+"]
ZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "America/Sao_Paulo", "Asia/Tokyo", "UTC"]
START = datetime(2026, 11, 3, 11, 0, tzinfo=UTC)  # a Tuesday: most sellers are at work


def sellers(rng: random.Random) -> list[dict[str, Any]]:
    result = []
    for i in range(100):
        zone = ZONES[i % len(ZONES)]
        hours = {} if zone in ("UTC", "Europe/London") else {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed")}
        result.append(
            {
                "seller_id": f"s{i:03}",
                "name": f"Seller {i}",
                "time_zone": zone,
                "working_hours": hours,
                "capacity": 1_000_000,
                "languages": rng.sample(["de", "en", "fr", "ja", "pt"], 2),
                "territories": rng.sample(COUNTRIES, 3),
                "product_lines": rng.sample(["cloud", "onprem", "services"], 2),
                "tags": ["senior"] if i % 5 == 0 else [],
                "out_of_office": [{"start": "2026-11-01T00:00:00+00:00", "end": "2026-11-10T00:00:00+00:00"}]
                if i % 17 == 0
                else [],
                "teams": [f"team-{i % 4}"],
            }
        )
    return result


def rules() -> list[dict[str, Any]]:
    """20 rules: 18 narrow ones most leads skip, then two broad ones."""
    narrow: list[dict[str, Any]] = []
    for i in range(9):
        narrow.append(
            {
                "name": f"campaign {i}",
                "conditions": {"all_of": [{"field": "campaign", "op": "equals", "value": f"camp-{i}"},
                                          {"field": "score", "op": "gte", "value": 90}]},
                "target": {"kind": "team", "team_id": f"team-{i % 4}"},
                "method": "round_robin",
            }
        )  # fmt: skip
        narrow.append(
            {
                "name": f"segment {i}",
                "segment": f"seg-{i}",
                "target": {
                    "kind": "sellers",
                    "seller_conditions": {"field": "tags", "op": "contains", "value": "senior"},
                },
                "method": "load_balancing",
            }
        )
    broad = [
        {
            "name": "territory owners",
            "conditions": {"field": "industry", "op": "in", "value": ["software", "finance"]},
            "target": {
                "kind": "sellers",
                "seller_conditions": {"field": "territories", "op": "contains", "lead_field": "country"},
            },
            "method": "round_robin",
            "available_within_hours": 2,
        },
        {"name": "everyone", "target": {"kind": "sellers"}, "method": "load_balancing"},
    ]
    return narrow + broad


def lead(n: int, rng: random.Random) -> LeadReceivedV1:
    lead_id = uuid5(NAMESPACE_URL, f"bench-lead:{n}")
    return LeadReceivedV1(
        aggregate_id=lead_id,
        version=1,
        lead_id=lead_id,
        source="bench",
        external_id=str(n),
        type="customer_inquiry",
        contact={},
        company={"country": rng.choice(COUNTRIES), "industry": rng.choice(INDUSTRIES), "size_band": rng.choice(SIZES)},
        score=rng.randint(0, 100),
        campaign_id=f"camp-{rng.randint(0, 30)}",
        occurred_at=START,
        received_at=START,
    )


def configured(env: dict[str, str]) -> tuple[AssignmentApplication, FixedClock]:
    clock = FixedClock(START)
    app = AssignmentApplication(env=env, clock=clock)
    rng = random.Random(7)
    app.execute(app.add_sellers, sellers(rng))
    for i in range(9):
        big = {"field": "company_size", "op": "equals", "value": "1000+"}
        criteria = {"all_of": [big, {"field": "score", "op": "gte", "value": 95 + i}]}
        app.execute(app.define_segment, f"seg-{i}", 10 - i, criteria)
    app.execute(app.activate_ruleset, app.execute(app.draft_ruleset, "bench", rules()))
    return app, clock


def time_decisions(app: AssignmentApplication, clock: FixedClock, count: int) -> tuple[float, dict[str, int]]:
    rng = random.Random(11)
    for warm_up in [lead(-n, rng) for n in range(1, 51)]:  # zone data, caches: not what is measured
        app.execute(app.assign_received_lead, warm_up)
    leads = [lead(n, rng) for n in range(count)]
    started = time.perf_counter()
    for received in leads:  # one unit of work each: the HTTP path, the slowest
        clock.advance(timedelta(seconds=1))
        app.execute(app.assign_received_lead, received)
    seconds = time.perf_counter() - started
    outcomes: dict[str, int] = {}
    for received in leads[:200]:
        status = app.get_assignment(received.lead_id).status
        outcomes[status] = outcomes.get(status, 0) + 1
    return seconds, outcomes


def time_pure_engine(count: int) -> float:
    app, clock = configured({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ruleset = app.rulebook().active()
    states, teams, catalog = app.sellers(), app.views.teams(), app.segments()
    rng = random.Random(11)
    facts = [lead_facts(lead(n, rng)) for n in range(count)]
    segments = [catalog.segment_for(f) for f in facts]
    started = time.perf_counter()
    for f, segment in zip(facts, segments, strict=True):
        choose_owner(lead=f, segment=segment, ruleset=ruleset, sellers=states, teams=teams, now=clock.now())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2000)
    args = parser.parse_args()
    console = Console()
    rows: list[tuple[str, int, float, str]] = []

    def measure(name: str, build: Callable[[], tuple[AssignmentApplication, FixedClock]]) -> None:
        app, clock = build()
        seconds, outcomes = time_decisions(app, clock, args.leads)
        rows.append((name, args.leads, seconds, ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))))

    measure("use case, POPO store", lambda: configured({"PERSISTENCE_MODULE": "eventsourcing.popo"}))
    with tempfile.TemporaryDirectory() as folder:
        sqlite = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(Path(folder) / "bench.sqlite")}
        measure("use case, SQLite store", lambda: configured(sqlite))
    rows.append(("decision function alone", args.leads, time_pure_engine(args.leads), "no store"))

    table = Table(title=f"assignment decisions — 100 sellers, 20 rules ({platform.python_version()})")
    for column in ("what", "decisions", "seconds", "per second", "first 200 leads"):
        table.add_column(column, justify="right" if column in ("decisions", "seconds", "per second") else "left")
    for name, count, seconds, note in rows:
        table.add_row(name, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}", note)
    console.print(table)


if __name__ == "__main__":
    main()
