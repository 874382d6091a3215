"""Recording an import: one `receive_leads` unit of work, so one transaction, per batch of rows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from leadflow_shared.contracts import InboundLeadV1

from ..leads import IntakeApplication, Receipt
from .parsing import LeadFile, ParsedRow
from .report import ImportReport, RowResult

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 5_000


def record_batch(app: IntakeApplication, batch: list[ParsedRow], *, via: str) -> list[RowResult]:
    """Record the batch's valid rows together; rejected rows pass through, blank rows drop out."""
    receipts = iter(_receive(app, [p.lead for p in batch if p.lead is not None], via=via))
    results: list[RowResult] = []
    for parsed in batch:
        if parsed.lead is not None:
            receipt = next(receipts)
            results.append(
                RowResult(parsed.row, parsed.line, receipt.outcome, receipt.lead_id, tuple(receipt.possible_duplicates))
            )
        elif parsed.problems:
            results.append(RowResult(parsed.row, parsed.line, "rejected", problems=parsed.problems))
    return results


def _receive(app: IntakeApplication, leads: list[InboundLeadV1], *, via: str) -> list[Receipt]:
    # A conflict (another writer, e.g. the running service on PostgreSQL, touched one of these
    # leads or index entries first) records nothing of the batch: `execute` reloads and retries.
    return app.execute(app.receive_leads, leads, via=via) if leads else []


def blank_rows(batch: list[ParsedRow]) -> int:
    return sum(1 for p in batch if p.lead is None and not p.problems)


def import_file(
    app: IntakeApplication,
    lead_file: LeadFile,
    *,
    via: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    report: ImportReport | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a checked file batch by batch (the synchronous path: CLI, tests, bench)."""
    report = report if report is not None else ImportReport()
    started = time.perf_counter()
    for batch in lead_file.batches(batch_size):
        report.add(record_batch(app, batch, via=via))
        report.blank(blank_rows(batch))
        if on_batch is not None:
            on_batch(len(batch))
    report.seconds = time.perf_counter() - started
    log_summary(report, via=via)
    return report


def log_summary(report: ImportReport, *, via: str) -> None:
    # Counts and timing only: rows carry personal data and never go to the log.
    log.info(
        "import via %s: %s, %d blank rows, %.1fs (%.0f rows/s)",
        via,
        ", ".join(f"{n} {outcome}" for outcome, n in report.totals.items()),
        report.blank_rows,
        report.seconds,
        report.rows_per_second,
    )
