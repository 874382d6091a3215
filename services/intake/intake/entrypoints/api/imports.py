"""`POST /v1/leads/import`: a CSV file in the template's shape, imported batch by batch; and
`GET /v1/leads/import-template`, that template."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from leadflow_shared.auth.http import require
from leadflow_shared.store import StoreWorker

from ...application import IntakeApplication
from ...application.importing import (
    DEFAULT_BATCH_SIZE,
    MAX_ROWS,
    FileRefused,
    ImportReport,
    LeadFile,
    blank_rows,
    log_summary,
    record_batch,
    write_template,
)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
IMPORT_PATH = "/v1/leads/import"
TEMPLATE_PATH = "/v1/leads/import-template"
TEMPLATE_FILENAME = "leads-import-template.csv"
BODY_LIMITS = {IMPORT_PATH: MAX_UPLOAD_BYTES}
"""For create_api(body_limits=...): the import route takes files far over the 64 KiB lead limit."""
DEFAULT_ACCEPTED_ROWS = 1_000


def import_router(app: IntakeApplication, worker: StoreWorker) -> APIRouter:
    router = APIRouter(tags=["import"])

    # Declared before `/v1/leads/{lead_id}` (this router is included first), which would
    # otherwise take `import-template` for a lead id and answer 422.
    @router.get(
        TEMPLATE_PATH,
        dependencies=[Depends(require("leads:import"))],
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}, "description": "the template: the header and one example row"}},
    )
    async def import_template() -> Response:
        """The CSV import template (docs/intake.md, "Template import"): the header and one example
        row to delete before importing; the same file as `cli import-template`."""
        out = io.StringIO()
        write_template(out)
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{TEMPLATE_FILENAME}"'},
        )

    @router.post(
        IMPORT_PATH,
        dependencies=[Depends(require("leads:import"))],
        responses={413: {"description": "file over 50 MiB"}, 422: {"description": "file refused as a whole"}},
    )
    async def import_leads(
        file: Annotated[UploadFile, File(description="CSV (UTF-8) in the import template's shape")],
        accepted_rows: Annotated[
            int, Query(ge=0, le=MAX_ROWS, description="how many created/updated/duplicate rows to list")
        ] = DEFAULT_ACCEPTED_ROWS,
    ) -> Any:
        """Import leads from a CSV file (docs/intake.md, "Template import").

        The whole file is checked first (header, encoding, row limit): a refused file is a 422
        and records nothing. Then rows are recorded in batches, each batch one transaction.
        The report has the totals, every rejected row, and the first `accepted_rows` others.
        """
        lead_file = LeadFile(file.file)
        try:
            await asyncio.to_thread(lead_file.check)
        except FileRefused as exc:
            return _refused(exc)
        report = ImportReport(keep_accepted=accepted_rows)
        started = time.perf_counter()
        batches = lead_file.batches(DEFAULT_BATCH_SIZE)
        # Parsing runs on a thread of its own, the store on the store worker: the loop stays free.
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            report.add(await worker.call(record_batch, app, batch, via="import-http"))
            report.blank(blank_rows(batch))
        report.seconds = time.perf_counter() - started
        log_summary(report, via="import-http")
        return report.as_dict()

    return router


def _refused(exc: FileRefused) -> JSONResponse:
    loc = ["body", "file"] if exc.line is None else ["body", "file", f"line {exc.line}"]
    return JSONResponse({"detail": [{"loc": loc, "msg": exc.reason, "type": "file_refused"}]}, status_code=422)
