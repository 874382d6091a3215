"""Reading an import file: the whole file is checked first, then rows stream out in batches.

A file is refused as a whole (FileRefused, nothing recorded) for a bad header, a bad
encoding, broken CSV or too many rows. A bad row is only that row's problem: it comes out
as a ParsedRow with problems and the rest of the file goes on.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from pydantic import ValidationError

from leadflow_shared.contracts import InboundLeadV1

from .template import (
    ATTRIBUTE_PREFIX,
    COLUMNS_BY_NAME,
    MAX_ATTRIBUTE_COLUMNS,
    MAX_ATTRIBUTE_NAME,
    REQUIRED,
    Column,
    column_for,
)

MAX_ROWS = 200_000
"""Data rows of one uploaded file (`POST /v1/leads/import`): one request holds it and its report."""
MAX_CLI_ROWS = 2_000_000
"""Data rows of one file imported with the CLI, which streams it in batches."""
ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark spreadsheets write


class FileRefused(ValueError):
    """The file as a whole cannot be imported; nothing from it was recorded."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


@dataclass(frozen=True, slots=True)
class Problem:
    field: str  # contract field (pydantic loc joined with '.'), or "row" for the row's shape
    column: str | None  # the template column, when there is one
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedRow:
    row: int  # 1-based data row: the header is not counted, blank rows are
    line: int  # physical line the record starts on (the header is line 1)
    lead: InboundLeadV1 | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str  # an `attr_<name>` column: attributes[name]


Target = Column | Attribute | None  # None: a column the template does not know


class Header:
    """What each position of a row means, after the header has been checked."""

    def __init__(self, names: list[str]) -> None:
        self.names = [n.strip() for n in names]
        self.targets: list[Target] = [self._target(n) for n in self.names]

    @staticmethod
    def _target(name: str) -> Target:
        key = name.lower()
        if key.startswith(ATTRIBUTE_PREFIX):
            return Attribute(name[len(ATTRIBUTE_PREFIX) :])
        return COLUMNS_BY_NAME.get(key)

    def check(self) -> None:
        if not any(self.names):
            raise FileRefused("the file has no header row", line=1)
        problems: list[str] = []
        lowered = [n.lower() for n in self.names]
        if "" in lowered:
            problems.append(f"column {lowered.index('') + 1} has no name")
        repeated = sorted({n for n in lowered if n and lowered.count(n) > 1})
        if repeated:
            problems.append("repeated columns: " + ", ".join(repeated))
        unknown = [n for n, t in zip(self.names, self.targets, strict=True) if t is None and n]
        if unknown:
            problems.append("unknown columns: " + ", ".join(_clip(n) for n in unknown))
        missing = [r for r in REQUIRED if r not in lowered]
        if missing:
            problems.append("missing required columns: " + ", ".join(missing))
        attributes = [t.name for t in self.targets if isinstance(t, Attribute)]
        if len(attributes) > MAX_ATTRIBUTE_COLUMNS:
            problems.append(f"{len(attributes)} {ATTRIBUTE_PREFIX}<name> columns; at most {MAX_ATTRIBUTE_COLUMNS}")
        bad = [a for a in attributes if not 1 <= len(a) <= MAX_ATTRIBUTE_NAME]
        if bad:
            problems.append(f"attribute names must be 1-{MAX_ATTRIBUTE_NAME} characters after '{ATTRIBUTE_PREFIX}'")
        if problems:
            hint = " (the first line must be the template's header; see `python -m intake.cli import-template`)"
            raise FileRefused("header: " + "; ".join(problems) + hint, line=1)

    def payload(self, cells: list[str]) -> dict[str, Any]:
        """The InboundLeadV1 shape of a row; empty cells are left out (the contract's defaults apply)."""
        payload: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        for target, raw in zip(self.targets, cells, strict=True):
            value = raw.strip()
            if not value:
                continue
            if isinstance(target, Attribute):
                attributes[target.name] = value
                continue
            assert target is not None  # check() refused unknown columns
            node = payload
            for key in target.path[:-1]:
                node = node.setdefault(key, {})
            node[target.path[-1]] = value
        if attributes:
            payload["attributes"] = attributes
        return payload


class LeadFile:
    """A CSV file of leads in the template's shape, read from a binary stream that can seek."""

    def __init__(self, binary: IO[bytes], *, max_rows: int = MAX_ROWS) -> None:
        self.binary = binary
        self.max_rows = max_rows
        self.header: Header | None = None

    def check(self) -> int:
        """Read the file once: header, encoding, CSV shape and row count. Returns the data rows."""
        rows = 0
        header: Header | None = None
        self.header = None  # set only once the whole file passed
        with self._records() as records:
            try:
                names = next(records, ([], 1))[0]
                _must_be_utf8(names)
                header = Header(names)
                header.check()
                for cells, _ in records:
                    _must_be_utf8(cells)
                    rows += 1
                    if rows > self.max_rows:
                        raise FileRefused(f"more than {self.max_rows} data rows; split the file")
            except UnicodeError:
                raise FileRefused(f"not UTF-8 text ({_where(header, rows)}); save the file as CSV UTF-8") from None
            except csv.Error as exc:
                raise FileRefused(f"not readable as CSV ({_where(header, rows)}): {exc}") from None
        self.header = header
        return rows

    def rows(self) -> Iterator[ParsedRow]:
        """Every data row in order, validated through InboundLeadV1. Call check() first."""
        if self.header is None:
            raise RuntimeError("check() the file before reading its rows")
        header = self.header
        with self._records() as records:
            next(records)
            for number, (cells, line) in enumerate(records, start=1):
                yield parse_row(header, cells, row=number, line=line)

    def batches(self, size: int) -> Iterator[list[ParsedRow]]:
        batch: list[ParsedRow] = []
        for parsed in self.rows():
            batch.append(parsed)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    @contextlib.contextmanager
    def _records(self) -> Iterator[Iterator[tuple[list[str], int]]]:
        """(cells, line the record starts on) for every record, the header included."""
        self.binary.seek(0)
        # Undecodable bytes pass as lone surrogates, so check() can say which row holds them.
        text = io.TextIOWrapper(self.binary, encoding=ENCODING, errors="surrogateescape", newline="")
        try:
            yield _numbered(csv.reader(text, strict=True))
        finally:
            text.detach()  # the caller owns the binary stream


def _numbered(reader: Any) -> Iterator[tuple[list[str], int]]:
    start = 1
    for cells in reader:
        yield cells, start
        start = reader.line_num + 1


def parse_row(header: Header, cells: list[str], *, row: int, line: int) -> ParsedRow:
    if not any(c.strip() for c in cells):
        return ParsedRow(row, line, None)  # blank: neither a lead nor a problem
    if len(cells) != len(header.targets):
        reason = f"has {len(cells)} values; the header has {len(header.targets)} columns"
        return ParsedRow(row, line, None, (Problem("row", None, reason),))
    try:
        return ParsedRow(row, line, InboundLeadV1.model_validate(header.payload(cells)))
    except ValidationError as exc:
        return ParsedRow(
            row, line, None, tuple(_problem(e) for e in exc.errors(include_url=False, include_input=False))
        )


def _problem(error: Any) -> Problem:
    field = ".".join(str(p) for p in error["loc"] if p != "[key]")
    reason = str(error["msg"]).removeprefix("Value error, ")
    return Problem(field or "row", column_for(field), reason)


def _must_be_utf8(cells: list[str]) -> None:
    "".join(cells).encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate (a byte that was not UTF-8)


def _where(header: Header | None, rows: int) -> str:
    return "in the header" if header is None else f"near data row {rows + 1}"


def _clip(name: str) -> str:
    return name if len(name) <= 40 else name[:37] + "..."
