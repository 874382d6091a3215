"""The CSV import template: which column goes where in InboundLeadV1.

The template is the contract's flat twin. Cells are text; InboundLeadV1 does every check
(types, limits, phone normalisation), so a CSV row is accepted exactly when the same lead
sent over HTTP or Kafka would be.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ATTRIBUTE_PREFIX = "attr_"
MAX_ATTRIBUTE_COLUMNS = 50  # InboundLeadV1.attributes holds at most 50 entries
MAX_ATTRIBUTE_NAME = 64


@dataclass(frozen=True)
class Column:
    name: str
    path: tuple[str, ...]  # where the cell goes in InboundLeadV1
    kind: str  # what the docs and the example say about the cell
    required: bool = False
    example: str = ""

    @property
    def field(self) -> str:
        return ".".join(self.path)


COLUMNS: tuple[Column, ...] = (
    Column("source", ("source",), "text, 1-200", required=True, example="web-form"),
    Column("external_id", ("external_id",), "text, 1-200", required=True, example="WF-000123"),
    Column("type", ("type",), "customer_inquiry | marketing_qualified | sales_qualified", example="customer_inquiry"),
    Column("first_name", ("contact", "first_name"), "text, ≤200", example="Ada"),
    Column("last_name", ("contact", "last_name"), "text, ≤200", example="Lovelace"),
    Column("email", ("contact", "email"), "e-mail address", example="ada@example.com"),
    Column(
        "phone",
        ("contact", "phone"),
        "phone, ≤40; +<country code> or national with country",
        example="+44 20 7946 0958",
    ),
    Column("job_title", ("contact", "job_title"), "text, ≤200", example="Head of Engineering"),
    Column("company_name", ("company", "name"), "text, ≤200", example="Analytical Engines Ltd"),
    Column("company_size_band", ("company", "size_band"), "text, ≤40", example="51-200"),
    Column("industry", ("company", "industry"), "text, ≤200", example="Manufacturing"),
    Column("country", ("company", "country"), "ISO 3166 alpha-2, upper case", example="GB"),
    Column("region", ("company", "region"), "text, ≤200", example="England"),
    Column("city", ("company", "city"), "text, ≤200", example="London"),
    Column("score", ("score",), "integer 0-1000", example="42"),
    Column("lifecycle_stage", ("lifecycle_stage",), "text, ≤200", example="lead"),
    Column("campaign_id", ("campaign_id",), "text, ≤200", example="spring-2026"),
    Column("product_interest", ("product_interest",), "text, ≤200", example="Difference Engine"),
    Column("notes", ("notes",), "text, ≤4000", example="Asked for a demo in December"),
    Column("contact_requested", ("contact_requested",), "true/false (yes/no, 1/0); empty = false", example="true"),
    Column("consent", ("consent",), "true/false (yes/no, 1/0); empty = unknown", example="true"),
    Column("occurred_at", ("occurred_at",), "ISO 8601 with offset", required=True, example="2026-11-01T10:00:00+00:00"),
)
COLUMNS_BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
EXAMPLE_ATTRIBUTES = {"utm_source": "newsletter"}


def column_for(field: str) -> str | None:
    """The template column a contract field (pydantic loc joined with '.') comes from."""
    if field.startswith("attributes."):
        return ATTRIBUTE_PREFIX + field.split(".")[1]
    for column in COLUMNS:
        if field == column.field or field.startswith(column.field + "."):
            return column.name
    return None


def write_template(out: TextIO) -> None:
    """The header and one example row (delete the example before importing)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in COLUMNS] + [ATTRIBUTE_PREFIX + k for k in EXAMPLE_ATTRIBUTES])
    writer.writerow([c.example for c in COLUMNS] + list(EXAMPLE_ATTRIBUTES.values()))


def save_template(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        write_template(out)
