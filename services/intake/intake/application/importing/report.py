"""What became of every row of an import: totals, every rejected row, and (some) accepted rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from .parsing import Problem

OUTCOMES = ("created", "updated", "duplicate", "rejected")
CSV_COLUMNS = ("row", "line", "outcome", "lead_id", "possible_duplicates", "field", "column", "reason")


@dataclass(frozen=True, slots=True)
class RowResult:
    row: int
    line: int
    outcome: str  # created | updated | duplicate | rejected
    lead_id: UUID | None = None
    possible_duplicates: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"row": self.row, "line": self.line, "outcome": self.outcome}
        if self.outcome == "rejected":
            result["errors"] = [{"field": p.field, "column": p.column, "reason": p.reason} for p in self.problems]
        else:
            result["lead_id"] = str(self.lead_id)
            result["possible_duplicates"] = list(self.possible_duplicates)
        return result


@dataclass
class ImportReport:
    """Totals per outcome; rejected rows up to `keep_rejected` and accepted rows up to
    `keep_accepted` (None: all); every row also goes to `sink` when one is given (a report file
    written as the import goes, so a 1,000,000-row import does not hold its report in memory)."""

    keep_accepted: int | None = None
    keep_rejected: int | None = None
    sink: Callable[[RowResult], None] | None = None
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    rows: list[RowResult] = field(default_factory=list)
    accepted_rows_left_out: int = 0
    blank_rows: int = 0
    seconds: float = 0.0
    _accepted_kept: int = field(default=0, repr=False)
    _rejected_kept: int = field(default=0, repr=False)

    @property
    def processed(self) -> int:
        return sum(self.totals.values())

    @property
    def rows_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0

    def add(self, results: Iterable[RowResult]) -> None:
        for result in results:
            self.totals[result.outcome] += 1
            if self.sink is not None:
                self.sink(result)
            if result.outcome == "rejected":
                if self.keep_rejected is None or self._rejected_kept < self.keep_rejected:
                    self.rows.append(result)
                    self._rejected_kept += 1
            elif self.keep_accepted is None or self._accepted_kept < self.keep_accepted:
                self.rows.append(result)
                self._accepted_kept += 1
            elif self.sink is None:  # with a sink, every row is in the report file
                self.accepted_rows_left_out += 1

    def blank(self, count: int) -> None:
        self.blank_rows += count

    def summary(self) -> dict[str, Any]:
        return {
            "totals": dict(self.totals),
            "blank_rows": self.blank_rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "accepted_rows_left_out": self.accepted_rows_left_out,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "rows": [r.as_dict() for r in self.rows]}

    def write(self, path: Path) -> None:
        """The rows kept, as `ReportFile` writes them."""
        with ReportFile(path) as out:
            for r in self.rows:
                out.row(r)
            out.finish(self)


class ReportFile:
    """A report written row by row: JSON for *.json (`rows`, then the totals), otherwise CSV,
    one line per row and per problem."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._json = path.suffix.lower() == ".json"
        self._out: IO[str] | None = None
        self._rows = 0

    def __enter__(self) -> ReportFile:
        self._out = self.path.open("w", encoding="utf-8", newline="")
        if self._json:
            self._out.write('{\n "rows": [')
        else:
            self._csv = csv.writer(self._out, lineterminator="\n")
            self._csv.writerow(CSV_COLUMNS)
        return self

    def row(self, r: RowResult) -> None:
        assert self._out is not None, "use ReportFile as a context manager"
        if self._json:
            self._out.write(("\n  " if not self._rows else ",\n  ") + json.dumps(r.as_dict()))
        elif r.outcome == "rejected":
            for p in r.problems:
                self._csv.writerow([r.row, r.line, r.outcome, "", "", p.field, p.column or "", p.reason])
        else:
            self._csv.writerow([r.row, r.line, r.outcome, r.lead_id, " ".join(r.possible_duplicates), "", "", ""])
        self._rows += 1

    def finish(self, report: ImportReport) -> None:
        """The totals (JSON only: a CSV report is its rows)."""
        assert self._out is not None
        if self._json:
            summary = json.dumps(report.summary(), indent=1)[1:]  # the object's members, after "rows"
            self._out.write("\n ],\n" + summary.lstrip("\n") + "\n")

    def __exit__(self, *exc: object) -> None:
        if self._out is not None:
            self._out.close()
