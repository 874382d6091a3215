"""`make bench` phase 15: assignment scaled out — leads/s with 1, 2 and 3 replicas on one PostgreSQL store.

The scenario of `tests/e2e/test_scale_out.py` without the kill (`leadflow_tools.scaleout`):
N `python -m assignment` processes in one consumer group on a 6-partition `leads.events.v1`,
one PostgreSQL database for all of them (fresh for each N), ten sellers (two small ones fill up);
a backlog of new leads (`lead.received.v1` as intake's relay publishes them) sent at once, timed
from the first send to the last lead's `lead.assigned.v1`. Each replica count also reports the
version conflicts its replicas retried (decisions that raced for the same seller).

    python bench/scale_out.py [--leads N] [--replicas 1,2,3] [--bootstrap HOST:PORT]

Without --bootstrap a local broker is started; a throwaway PostgreSQL server always is.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

# bench/assignment.py is named like the service package: this folder must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from leadflow_tools import LocalKafka, free_port  # noqa: E402
from leadflow_tools.postgres import LocalPostgres, throwaway_postgres  # noqa: E402
from leadflow_tools.scaleout import ScaleOutResult, assignment_scale_out  # noqa: E402
from leadflow_tools.stack import PostgresStores  # noqa: E402


def replicas_figures(
    bootstrap: str,
    pg: LocalPostgres,
    run_dir: Path,
    leads: int,
    replica_counts: list[int],
    say: Callable[[str], None] = print,
) -> dict[int, ScaleOutResult]:
    """One run per replica count, each on a fresh database; every lead must be assigned once."""
    results = {}
    for replicas in replica_counts:
        database = f"scale_{replicas}_assignment"
        pg.create_database(database)
        stores = PostgresStores.from_conninfo(pg.conninfo, {"assignment": database})
        result = asyncio.run(
            assignment_scale_out(
                bootstrap, stores, run_dir / f"replicas-{replicas}", replicas=replicas, leads=leads, progress=say
            )
        )
        assert result.store is not None
        doubled = sum(1 for n in result.store.decisions.values() if n != 1)
        over = [s for s, (n, capacity) in result.store.open_leads.items() if n > capacity]
        if set(result.store.decisions) != result.expected or doubled or over:
            raise SystemExit(f"{replicas} replicas: decisions wrong ({doubled} doubled, over capacity: {over})")
        results[replicas] = result
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.replicas.split(",")]
    with tempfile.TemporaryDirectory(prefix="leadflow-scale-") as tmp:
        run_dir = Path(tmp)
        with throwaway_postgres(run_dir / "postgres") as pg:
            if pg is None:
                return 1
            kafka = None
            bootstrap = args.bootstrap
            if bootstrap is None:
                kafka = LocalKafka(port=free_port(), controller_port=free_port(), run_dir=run_dir / "kafka")
                kafka.start(timeout=90)
                bootstrap = kafka.bootstrap
            try:
                results = replicas_figures(bootstrap, pg, run_dir, args.leads, counts)
            finally:
                if kafka is not None:
                    kafka.stop()
    print(
        f"\n{'replicas':>8} {'leads/s':>8} {'per replica':>11} {'seconds':>8} {'conflicts':>9} "
        f"{'CPU ms/lead':>11} {'machine ms/lead':>15} {'apply ms/lead':>13}"
    )
    for replicas, r in results.items():
        per_lead = 1000 / r.leads
        print(
            f"{replicas:>8} {r.leads_per_second:>8,.0f} {r.leads_per_second / replicas:>11,.0f} "
            f"{r.seconds:>8.1f} {r.version_conflicts:>9} {r.cpu_seconds * per_lead:>11.2f} "
            f"{r.machine_busy_seconds * per_lead:>15.2f} {r.apply_seconds * per_lead:>13.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
