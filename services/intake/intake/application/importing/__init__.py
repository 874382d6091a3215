"""Template import: leads from a CSV file, over HTTP (`POST /v1/leads/import`) or the CLI."""

from .batches import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, blank_rows, import_file, log_summary, record_batch
from .parsing import MAX_CLI_ROWS, MAX_ROWS, FileRefused, LeadFile
from .report import ImportReport, ReportFile, RowResult
from .template import COLUMNS, save_template, write_template

__all__ = [
    "COLUMNS",
    "DEFAULT_BATCH_SIZE",
    "MAX_BATCH_SIZE",
    "MAX_CLI_ROWS",
    "MAX_ROWS",
    "FileRefused",
    "ImportReport",
    "LeadFile",
    "ReportFile",
    "RowResult",
    "blank_rows",
    "import_file",
    "log_summary",
    "record_batch",
    "save_template",
    "write_template",
]
