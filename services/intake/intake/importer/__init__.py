"""Template import: leads from a CSV file, over HTTP (`POST /v1/leads/import`) or the CLI."""

from .importing import import_file, record_batch
from .parsing import MAX_ROWS, FileRefused, LeadFile
from .report import ImportReport, RowResult
from .template import COLUMNS, save_template, write_template

__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "FileRefused",
    "ImportReport",
    "LeadFile",
    "RowResult",
    "import_file",
    "record_batch",
    "save_template",
    "write_template",
]
