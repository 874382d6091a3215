"""How long a template import of 100,000 rows takes (not part of `make test`).

Generates a CSV in the import template's shape (mostly good rows; ~1% repeated, ~0.5% bad,
~3% sharing an e-mail with another row) in a temporary folder, then runs the real command
(`python -m intake.entrypoints.cli import-leads FILE --report ...`) as a process against a fresh SQLite
store, and a fresh PostgreSQL database when a local PostgreSQL can be started. Each store is
imported twice: the second run finds every lead already there (all duplicates/rejected).

    .venv/bin/python bench/import_leads.py [--rows N] [--batch-size N] [--no-postgres]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from intake.application.importing.template import COLUMNS
from leadflow_tools.postgres import throwaway_postgres

console = Console() if sys.stdout.isatty() else Console(width=120)  # a wide table also in logs
HEADER = [c.name for c in COLUMNS] + ["attr_utm_source", "attr_utm_medium"]
TYPES = ["customer_inquiry", "marketing_qualified", "sales_qualified"]
BANDS = ["1-10", "11-50", "51-200", "201-1000", "1000+"]


@dataclass(frozen=True)
class Run:
    store: str
    label: str
    rows: int
    wall_seconds: float
    totals: dict[str, int]
    import_seconds: float


def say(message: str) -> None:
    console.print(f"[bold cyan]bench[/] {message}", highlight=False)


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic file: varied types, companies and phones; some repeats, bad rows and shared e-mails."""
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            n = rnd.randrange(rows) if rnd.random() < 0.01 else i  # ~1% re-sends of another row
            shared = rnd.random() < 0.03  # same person, another external id: a possible duplicate
            email = f"person{n // 2 if shared else n}@example{n % 97}.com"
            country = "GB" if n % 3 == 0 else "US"
            if country == "US":
                phone = f"+1 {(212, 415, 646, 312, 617)[n % 5]} {200 + (n // 10_000) % 800} {n % 10_000:04d}"
            else:  # a national number, read with the company's country
                phone = f"020 3{n % 1_000:03d} {n // 1_000 % 10_000:04d}"
            occurred = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00+00:00"
            row = {
                "source": "crm-export",
                "external_id": f"CRM-{n:08d}",
                "type": TYPES[n % 3],
                "first_name": f"First{n}",
                "last_name": f"Last{n}",
                "email": email,
                "phone": phone,
                "job_title": "Buyer",
                "company_name": f"Company {n % 5_000}",
                "company_size_band": BANDS[n % 5],
                "industry": "Manufacturing",
                "country": country,
                "region": "",
                "city": "London" if country == "GB" else "San Francisco",
                "score": str(n % 1001),
                "lifecycle_stage": "lead",
                "campaign_id": f"campaign-{n % 40}",
                "product_interest": "",
                "notes": "Imported from the old CRM" if n % 5 == 0 else "",
                "contact_requested": "true" if n % 4 == 0 else "false",
                "consent": "yes" if n % 2 == 0 else "",
                "occurred_at": occurred,
                "attr_utm_source": "newsletter" if n % 2 else "webinar",
                "attr_utm_medium": "email",
            }
            if rnd.random() < 0.005:  # a bad row: one broken field
                field = rnd.choice(["email", "occurred_at", "type", "score"])
                row[field] = {"email": "not-an-email", "occurred_at": "last week", "type": "hot", "score": "-1"}[field]
            writer.writerow([row[h] for h in HEADER])


def run_cli(csv_path: Path, env: dict[str, str], report: Path, batch_size: int, quiet: bool = False) -> float:
    return run_cli_measured(csv_path, env, report, batch_size, quiet)[0]


def run_cli_measured(
    csv_path: Path, env: dict[str, str], report: Path, batch_size: int, quiet: bool = False
) -> tuple[float, float]:
    """Import through the CLI in a child process: (wall seconds, the child's peak RSS in MB)."""
    command = [sys.executable, "-m", "intake.entrypoints.cli", "import-leads", str(csv_path), "--report", str(report)]
    command += ["--batch-size", str(batch_size)]
    started = time.perf_counter()
    output = subprocess.DEVNULL if quiet else None
    child = subprocess.Popen(command, env={**os.environ, **env}, stdout=output, stderr=output)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    say(f"import-leads: {seconds:.1f}s, peak RSS {peak_mb:.1f} MB")
    if child.returncode not in (0, 1):  # 1: some rows were rejected, as planned
        raise SystemExit(f"import-leads failed with exit code {child.returncode}")
    return seconds, peak_mb


def import_twice(store: str, csv_path: Path, rows: int, env: dict[str, str], work: Path, batch: int) -> list[Run]:
    runs: list[Run] = []
    for label in ("first import", "same file again"):
        report = work / f"report-{store}-{len(runs)}.json"
        say(f"{store}: {label} of {rows:,} rows")
        wall = run_cli(csv_path, env, report, batch)
        body = json.loads(report.read_text())
        runs.append(Run(store, label, rows, wall, body["totals"], body["seconds"]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="leadflow-import-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "leads.csv"
        started = time.perf_counter()
        generate(csv_path, args.rows)
        size = csv_path.stat().st_size
        say(f"generated {args.rows:,} rows ({size / 2**20:.1f} MiB) in {time.perf_counter() - started:.1f}s")

        sqlite_env = {"INTAKE_RUN_DIR": str(work), "INTAKE_SQLITE_PATH": str(work / "intake.sqlite")}
        runs += import_twice("SQLite", csv_path, args.rows, sqlite_env, work, args.batch_size)

        if not args.no_postgres:
            with throwaway_postgres(work / "postgres", say) as pg:
                if pg is not None:
                    pg.create_database("intake_import_bench")
                    postgres_env = {
                        "INTAKE_RUN_DIR": str(work),
                        "INTAKE_POSTGRES_HOST": "127.0.0.1",
                        "INTAKE_POSTGRES_PORT": str(pg.port),
                        "INTAKE_POSTGRES_USER": "leadflow",
                        "INTAKE_POSTGRES_PASSWORD": "leadflow",
                        "INTAKE_POSTGRES_DBNAME": "intake_import_bench",
                    }
                    runs += import_twice("PostgreSQL", csv_path, args.rows, postgres_env, work, args.batch_size)

    table = Table(title=f"template import, {args.rows:,} rows, batches of {args.batch_size}")
    for name in ("store", "run", "created", "updated", "duplicate", "rejected", "import s", "wall s", "rows/s"):
        table.add_column(name, justify="left" if name in ("store", "run") else "right")
    for r in runs:
        t = r.totals
        table.add_row(
            r.store,
            r.label,
            *(f"{t[k]:,}" for k in ("created", "updated", "duplicate", "rejected")),
            f"{r.import_seconds:.1f}",
            f"{r.wall_seconds:.1f}",
            f"{r.rows / r.wall_seconds:,.0f}",
        )
    console.print(table)
    console.print("import s: the importer's own clock (check pass excluded); wall s: the whole command.")


if __name__ == "__main__":
    main()
