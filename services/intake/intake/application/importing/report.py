"""What became of every row of an import: totals, every rejected row, and (some) accepted rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from .parsing import Problem

OUTCOMES = ("created", "updated", "duplicate", "rejected")


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
    """Totals per outcome; every rejected row; accepted rows up to `keep_accepted` (None: all)."""

    keep_accepted: int | None = None
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    rows: list[RowResult] = field(default_factory=list)
    accepted_rows_left_out: int = 0
    blank_rows: int = 0
    seconds: float = 0.0
    _accepted_kept: int = field(default=0, repr=False)

    @property
    def processed(self) -> int:
        return sum(self.totals.values())

    @property
    def rows_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0

    def add(self, results: Iterable[RowResult]) -> None:
        for result in results:
            self.totals[result.outcome] += 1
            if result.outcome == "rejected" or self.keep_accepted is None or self._accepted_kept < self.keep_accepted:
                self.rows.append(result)
                if result.outcome != "rejected":
                    self._accepted_kept += 1
            else:
                self.accepted_rows_left_out += 1

    def blank(self, count: int) -> None:
        self.blank_rows += count

    def as_dict(self) -> dict[str, Any]:
        return {
            "totals": dict(self.totals),
            "blank_rows": self.blank_rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "accepted_rows_left_out": self.accepted_rows_left_out,
            "rows": [r.as_dict() for r in self.rows],
        }

    def write(self, path: Path) -> None:
        """JSON (the whole report) for *.json; otherwise CSV, one line per row and per problem."""
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(self.as_dict(), indent=1) + "\n", encoding="utf-8")
            return
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["row", "line", "outcome", "lead_id", "possible_duplicates", "field", "column", "reason"])
            for r in self.rows:
                if r.outcome == "rejected":
                    for p in r.problems:
                        writer.writerow([r.row, r.line, r.outcome, "", "", p.field, p.column or "", p.reason])
                else:
                    writer.writerow([r.row, r.line, r.outcome, r.lead_id, " ".join(r.possible_duplicates), "", "", ""])
