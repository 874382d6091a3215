"""Template import: a CSV file in, a report per row out (created, updated, duplicate, rejected)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from auth_helpers import authenticator, bearer
from eventsourcing.persistence import RecordConflictError
from intake_world import lead_list_of
from typer.testing import CliRunner

from intake.application import IntakeApplication
from intake.application.importing import (
    COLUMNS,
    FileRefused,
    ImportReport,
    LeadFile,
    ReportFile,
    import_file,
    write_template,
)
from intake.domain import lead_id_for
from intake.entrypoints import cli as import_cli
from intake.entrypoints.api import create_api
from leadflow_shared.clock import FixedClock
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]
HEADER = ["source", "external_id", "type", "first_name", "email", "phone", "country", "score", "occurred_at"]


def row(external_id: str, /, **cells: str) -> dict[str, str]:
    values = {
        "source": "crm-export",
        "external_id": external_id,
        "type": "customer_inquiry",
        "first_name": "Ada",
        "email": f"ada+{external_id}@example.com",
        "phone": "",
        "country": "GB",
        "score": "42",
        "occurred_at": "2026-11-01T10:00:00+00:00",
    }
    values.update(cells)
    return values


def csv_bytes(rows: list[dict[str, str]], header: list[str] = HEADER, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def run_import(app: IntakeApplication, data: bytes, batch_size: int = 500) -> ImportReport:
    lead_file = LeadFile(io.BytesIO(data))
    lead_file.check()
    return import_file(app, lead_file, via="import-test", batch_size=batch_size)


@pytest.fixture
def app() -> IntakeApplication:
    return IntakeApplication(env=POPO, clock=FixedClock(NOW))


def outcomes(report: ImportReport) -> list[tuple[int, str]]:
    return [(r.row, r.outcome) for r in report.rows]


# -- good rows -------------------------------------------------------------------------------


def test_good_rows_are_created_and_their_leads_carry_every_column(app: IntakeApplication) -> None:
    data = csv_bytes([row("1", phone="020 7946 0958"), row("2")], bom=True)  # a spreadsheet's BOM is fine

    report = run_import(app, data)

    assert report.totals == {"created": 2, "updated": 0, "duplicate": 0, "rejected": 0}
    assert outcomes(report) == [(1, "created"), (2, "created")]
    lead = app.get_lead(report.rows[0].lead_id)  # type: ignore[arg-type]
    assert lead.source == "crm-export" and lead.external_id == "1" and lead.received_via == "import-test"
    assert lead.contact["phone"] == "+442079460958"  # national number, read with the company's country
    assert lead.company == {"country": "GB"} and lead.score == 42


def test_the_template_example_row_imports_and_attr_columns_become_attributes(app: IntakeApplication) -> None:
    template = io.StringIO()
    write_template(template)

    report = run_import(app, template.getvalue().encode())

    assert report.totals["created"] == 1
    lead = app.get_lead(report.rows[0].lead_id)  # type: ignore[arg-type]
    assert lead.details["attributes"] == {"utm_source": "newsletter"}
    assert lead.details["contact_requested"] is True and lead.company["size_band"] == "51-200"


def test_the_shipped_template_is_the_generated_one() -> None:
    template = io.StringIO()
    write_template(template)
    shipped = (REPO / "deploy" / "templates" / "leads-import-template.csv").read_text(encoding="utf-8")
    assert shipped == template.getvalue()
    assert [c.name for c in COLUMNS] == shipped.splitlines()[0].split(",")[: len(COLUMNS)]


def test_blank_rows_are_skipped_but_keep_their_row_numbers(app: IntakeApplication) -> None:
    blank = dict.fromkeys(HEADER, "")
    report = run_import(app, csv_bytes([row("1"), blank, row("3")]))
    assert outcomes(report) == [(1, "created"), (3, "created")] and report.blank_rows == 1


# -- bad rows --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "field", "column", "reason"),
    [
        ({"email": "ada-at-example.com"}, "contact.email", "email", "not a valid email address"),
        ({"phone": "12"}, "contact.phone", "phone", "not a valid number"),
        ({"phone": "+44 20 7946 0958", "country": "gb"}, "company.country", "country", "should match pattern"),
        ({"external_id": ""}, "external_id", "external_id", "Field required"),
        ({"type": "hot"}, "type", "type", "'customer_inquiry', 'marketing_qualified' or 'sales_qualified'"),
        ({"occurred_at": "yesterday"}, "occurred_at", "occurred_at", "valid datetime"),
        ({"occurred_at": "2026-11-01T10:00:00"}, "occurred_at", "occurred_at", "time zone offset"),
        ({"first_name": "x" * 201}, "contact.first_name", "first_name", "at most 200 characters"),
        ({"score": "1001"}, "score", "score", "less than or equal to 1000"),
    ],
)
def test_a_bad_row_is_rejected_with_its_row_field_and_reason_and_the_rest_goes_on(
    app: IntakeApplication, cells: dict[str, str], field: str, column: str, reason: str
) -> None:
    report = run_import(app, csv_bytes([row("1"), row("2", **cells), row("3")]))

    assert outcomes(report) == [(1, "created"), (2, "rejected"), (3, "created")]
    rejected = report.rows[1]
    assert rejected.line == 3  # the header is line 1
    (problem,) = rejected.problems
    assert (problem.field, problem.column) == (field, column)
    assert reason in problem.reason


def test_a_rejected_row_names_every_problem_and_never_the_values(app: IntakeApplication) -> None:
    report = run_import(app, csv_bytes([row("1", email="ada.example.com", score="lots", occurred_at="")]))
    (rejected,) = report.rows
    assert [p.field for p in rejected.problems] == ["contact.email", "score", "occurred_at"]
    assert not any("ada.example.com" in p.reason or "lots" in p.reason for p in rejected.problems)


def test_a_row_with_too_many_values_is_rejected_and_rows_are_numbered_across_multi_line_cells(
    app: IntakeApplication,
) -> None:
    header = [*HEADER, "notes"]
    good = {**row("1"), "notes": "line one\nline two"}  # a quoted cell over two physical lines
    data = csv_bytes([good], header) + b"crm-export,2,customer_inquiry,Ada,,,GB,1,2026-11-01T10:00:00Z,n,extra\r\n"

    report = run_import(app, data)

    assert outcomes(report) == [(1, "created"), (2, "rejected")]
    assert report.rows[1].line == 4
    assert report.rows[1].problems[0].field == "row" and "11 values" in report.rows[1].problems[0].reason


# -- duplicates and updates ------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [500, 1], ids=["same batch", "across batches"])
def test_a_repeated_row_in_one_file_is_a_duplicate(app: IntakeApplication, batch_size: int) -> None:
    report = run_import(app, csv_bytes([row("1"), row("2"), row("1")]), batch_size=batch_size)
    assert outcomes(report) == [(1, "created"), (2, "created"), (3, "duplicate")]
    assert report.rows[2].lead_id == report.rows[0].lead_id


def test_importing_the_same_file_again_gives_only_duplicates(app: IntakeApplication) -> None:
    data = csv_bytes([row(str(i)) for i in range(5)])
    run_import(app, data)
    again = run_import(app, data, batch_size=2)
    assert again.totals == {"created": 0, "updated": 0, "duplicate": 5, "rejected": 0}


def test_a_newer_occurred_at_updates_the_lead(app: IntakeApplication) -> None:
    first = run_import(app, csv_bytes([row("1")]))
    newer = run_import(app, csv_bytes([row("1", score="90", occurred_at="2026-11-05T08:00:00+01:00")]))
    assert outcomes(newer) == [(1, "updated")]
    assert app.get_lead(first.rows[0].lead_id).score == 90  # type: ignore[arg-type]


def test_a_lead_with_a_known_email_is_created_and_flagged_as_a_possible_duplicate(app: IntakeApplication) -> None:
    report = run_import(app, csv_bytes([row("1", email="same@example.com"), row("2", email="Same@example.com")]))
    assert outcomes(report) == [(1, "created"), (2, "created")]
    assert report.rows[1].possible_duplicates == (str(report.rows[0].lead_id),)


def test_a_batch_that_conflicts_with_another_writer_is_retried(
    app: IntakeApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = app.receive_leads, []

    def conflicting_once(uow: Any, rows: Any, *, via: str) -> Any:
        calls.append(via)
        if len(calls) == 1:
            raise RecordConflictError("another writer was first")
        return real(uow, rows, via=via)

    monkeypatch.setattr(app, "receive_leads", conflicting_once)
    report = run_import(app, csv_bytes([row("1"), row("2")]))
    assert len(calls) == 2 and report.totals["created"] == 2


# -- files refused as a whole ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no header row"),
        (csv_bytes([row("1")], [*HEADER, "favourite_colour"]).replace(b"\r\n", b",blue\r\n", 1), "unknown columns"),
        (csv_bytes([], [h for h in HEADER if h != "occurred_at"]), "missing required columns: occurred_at"),
        (csv_bytes([], [*HEADER, "Email"]), "repeated columns: email"),
        (csv_bytes([], [*HEADER, *(f"attr_a{i}" for i in range(51))]), "at most 50"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8"),
        (csv_bytes([row("1")]) + b"crm,\xff\xfe\r\n", "not UTF-8 text \\(near data row 2\\)"),
        (csv_bytes([row("1")]) + b'crm,"unterminated\r\n', "not readable as CSV"),
    ],
    ids=[
        "empty",
        "unknown column",
        "missing column",
        "repeated column",
        "too many attributes",
        "binary",
        "bad bytes in a row",
        "bad csv",
    ],
)
def test_a_file_with_a_bad_header_or_shape_is_refused_and_nothing_is_recorded(
    app: IntakeApplication, data: bytes, message: str
) -> None:
    with pytest.raises(FileRefused, match=message):
        LeadFile(io.BytesIO(data)).check()


def test_a_file_over_the_row_limit_is_refused() -> None:
    with pytest.raises(FileRefused, match="more than 2 data rows"):
        LeadFile(io.BytesIO(csv_bytes([row("1"), row("2"), row("3")])), max_rows=2).check()


# -- the report ------------------------------------------------------------------------------


def test_the_report_keeps_every_rejected_row_but_caps_the_others(app: IntakeApplication) -> None:
    lead_file = LeadFile(io.BytesIO(csv_bytes([row("1"), row("2"), row("3", type="x"), row("4")])))
    lead_file.check()
    report = import_file(app, lead_file, via="import-test", report=ImportReport(keep_accepted=1))
    assert outcomes(report) == [(1, "created"), (3, "rejected")]
    assert report.accepted_rows_left_out == 2 and report.totals["created"] == 3


@pytest.mark.parametrize("name", ["report.json", "report.csv"])
def test_a_report_file_gets_every_row_as_it_goes_while_memory_keeps_only_what_is_shown(
    app: IntakeApplication, tmp_path: Path, name: str
) -> None:
    rows = [row(str(i)) for i in range(50)] + [row(f"bad{i}", type="x") for i in range(30)]
    lead_file = LeadFile(io.BytesIO(csv_bytes(rows)))
    lead_file.check()
    with ReportFile(tmp_path / name) as out:
        kept = ImportReport(keep_accepted=0, keep_rejected=5, sink=out.row)
        import_file(app, lead_file, via="import-test", report=kept, batch_size=7)
        out.finish(kept)

    assert [r.outcome for r in kept.rows] == ["rejected"] * 5
    if name.endswith(".json"):
        body = json.loads((tmp_path / name).read_text())
        assert len(body["rows"]) == 80 and body["accepted_rows_left_out"] == 0
        assert body["totals"] == {"created": 50, "updated": 0, "duplicate": 0, "rejected": 30}
    else:
        lines = list(csv.DictReader((tmp_path / name).open()))
        assert [r["outcome"] for r in lines] == ["created"] * 50 + ["rejected"] * 30


def test_the_report_is_written_as_json_or_csv(app: IntakeApplication, tmp_path: Path) -> None:
    report = run_import(app, csv_bytes([row("1"), row("2", email="nope")]))
    report.write(tmp_path / "report.json")
    report.write(tmp_path / "report.csv")

    as_json = json.loads((tmp_path / "report.json").read_text())
    assert as_json["totals"]["rejected"] == 1
    assert as_json["rows"][1]["errors"][0] == {
        "field": "contact.email",
        "column": "email",
        "reason": as_json["rows"][1]["errors"][0]["reason"],
    }
    lines = list(csv.DictReader((tmp_path / "report.csv").open()))
    assert [(r["row"], r["outcome"], r["field"]) for r in lines] == [
        ("1", "created", ""),
        ("2", "rejected", "contact.email"),
    ]


# -- the command line ------------------------------------------------------------------------


def commands() -> typer.Typer:
    return import_cli.cli


def test_the_cli_imports_a_file_writes_the_report_and_exits_1_on_rejected_rows(
    app: IntakeApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_cli, "open_store", lambda: app)
    intake_cli = commands()
    source = tmp_path / "leads.csv"
    source.write_bytes(csv_bytes([row("1"), row("2", phone="0"), row("1")]))

    result = CliRunner().invoke(intake_cli, ["import-leads", str(source), "--report", str(tmp_path / "r.json")])

    assert result.exit_code == 1, result.output
    totals = json.loads((tmp_path / "r.json").read_text())["totals"]
    assert totals == {"created": 1, "updated": 0, "duplicate": 1, "rejected": 1}


def test_the_cli_has_its_own_row_limit_far_above_the_uploads(
    app: IntakeApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload holds the file and its report in one request (200,000 rows); the CLI streams
    the file, so a 1,000,000-row export imports in one go (make bench imports one)."""
    from intake.application.importing import MAX_CLI_ROWS, MAX_ROWS

    assert MAX_ROWS == 200_000 and MAX_CLI_ROWS >= 1_000_000
    monkeypatch.setattr(import_cli, "open_store", lambda: app)
    source = tmp_path / "leads.csv"
    source.write_bytes(csv_bytes([row("1"), row("2"), row("3")]))
    monkeypatch.setattr(import_cli, "MAX_CLI_ROWS", 3)
    assert CliRunner().invoke(commands(), ["import-leads", str(source)]).exit_code == 0
    monkeypatch.setattr(import_cli, "MAX_CLI_ROWS", 2)
    refused = CliRunner().invoke(commands(), ["import-leads", str(source)])
    assert refused.exit_code == 2 and "more than 2 data rows" in refused.output


def test_the_cli_exits_2_on_a_refused_file_and_writes_the_template(tmp_path: Path) -> None:
    intake_cli = commands()
    runner = CliRunner()
    template = tmp_path / "template.csv"
    assert runner.invoke(intake_cli, ["import-template", str(template)]).exit_code == 0
    assert template.read_text().startswith("source,external_id,type,")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,mail\nAda,ada@example.com\n")

    result = runner.invoke(intake_cli, ["import-leads", str(bad)])

    assert result.exit_code == 2 and "unknown columns" in result.output


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
async def http(app: IntakeApplication) -> AsyncIterator[httpx.AsyncClient]:
    worker = StoreWorker("test")
    api = create_api(app, worker, {}, lead_list_of(app), authenticator(app, worker))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://intake", headers=bearer()
    ) as client:
        yield client
    worker.shutdown()


def upload(data: bytes, name: str = "leads.csv") -> dict[str, Any]:
    return {"files": {"file": (name, data, "text/csv")}}


async def test_http_import_reports_good_and_bad_rows(http: httpx.AsyncClient) -> None:
    data = csv_bytes([row("1"), row("2", email="nope"), row("1"), row("4", occurred_at="soon")])

    response = await http.post("/v1/leads/import", **upload(data))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totals"] == {"created": 1, "updated": 0, "duplicate": 1, "rejected": 2}
    assert [(r["row"], r["outcome"]) for r in body["rows"]] == [
        (1, "created"),
        (2, "rejected"),
        (3, "duplicate"),
        (4, "rejected"),
    ]
    assert body["rows"][1]["errors"][0]["field"] == "contact.email"
    assert body["rows"][0]["lead_id"] == body["rows"][2]["lead_id"]


async def test_http_import_lists_every_rejected_row_and_caps_the_others(http: httpx.AsyncClient) -> None:
    data = csv_bytes([row(str(i), type="x" if i % 10 == 0 else "customer_inquiry") for i in range(100)])
    body = (await http.post("/v1/leads/import", params={"accepted_rows": 5}, **upload(data))).json()
    assert body["totals"]["created"] == 90 and body["totals"]["rejected"] == 10
    assert sum(r["outcome"] == "rejected" for r in body["rows"]) == 10
    assert sum(r["outcome"] == "created" for r in body["rows"]) == 5 and body["accepted_rows_left_out"] == 85


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01\x02\xff\xfe garbage", "not UTF-8 text (in the header)"),
        (b"name,mail\nAda,ada@example.com\n", "unknown columns"),
        (csv_bytes([], HEADER[:3]), "missing required columns"),
    ],
    ids=["garbage", "not our header", "missing columns"],
)
async def test_http_import_refuses_a_bad_file_with_422(http: httpx.AsyncClient, data: bytes, message: str) -> None:
    response = await http.post("/v1/leads/import", **upload(data, "leads.png"))
    assert response.status_code == 422
    assert message in response.json()["detail"][0]["msg"]


async def test_http_import_without_a_file_is_422(http: httpx.AsyncClient) -> None:
    assert (await http.post("/v1/leads/import", data={"other": "x"})).status_code == 422


async def test_the_import_route_takes_large_files_while_single_leads_keep_the_64_kib_limit(
    http: httpx.AsyncClient,
) -> None:
    data = csv_bytes([row(str(i)) for i in range(1_000)])
    assert len(data) > 64 * 1024

    imported = await http.post("/v1/leads/import", params={"accepted_rows": 0}, **upload(data))
    single = await http.post("/v1/leads", content=b" " * (65 * 1024), headers={"content-type": "application/json"})

    assert imported.status_code == 200 and imported.json()["totals"]["created"] == 1_000
    assert single.status_code == 413


def test_the_cli_exits_3_when_the_store_fails_mid_file_and_keeps_what_was_recorded(
    app: IntakeApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = app.receive_leads, []

    def failing_second_batch(uow: Any, rows: Any, *, via: str) -> Any:
        calls.append(via)
        if len(calls) == 2:
            raise ConnectionError("the store went away")
        return real(uow, rows, via=via)

    monkeypatch.setattr(app, "receive_leads", failing_second_batch)
    monkeypatch.setattr(import_cli, "open_store", lambda: app)
    intake_cli = commands()
    source = tmp_path / "leads.csv"
    source.write_bytes(csv_bytes([row("1"), row("2"), row("3")]))

    result = CliRunner().invoke(intake_cli, ["import-leads", str(source), "--batch-size", "1"])

    assert result.exit_code == 3 and "import stopped after 1 rows" in result.output
    assert app.get_lead(lead_id_for("crm-export", "1")).external_id == "1"


def test_the_docs_describe_every_template_column() -> None:
    docs = (REPO / "docs" / "intake.md").read_text(encoding="utf-8")
    section = docs.split("## Template import", 1)[1].split("\n## ", 1)[0]
    assert [c.name for c in COLUMNS if f"`{c.name}`" not in section] == []
