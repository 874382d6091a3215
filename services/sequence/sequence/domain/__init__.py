"""sequence's aggregates and rules. Pure: standard library, eventsourcing.domain and the shared
business calendar."""

from .catalog import CATALOG_ID, Catalog, TooManyActive
from .definition import (
    ACTIVE,
    CONDITIONS,
    DRAFT,
    INACTIVE,
    MAX_ACTIVE_SEQUENCES,
    STEP_TYPES,
    SUPERSEDED,
    CannotActivate,
    NotADraft,
    Problem,
    SequenceDefinition,
    SequenceError,
    problems,
    walk,
)
from .preview import preview

__all__ = [
    "ACTIVE",
    "CATALOG_ID",
    "CONDITIONS",
    "DRAFT",
    "INACTIVE",
    "MAX_ACTIVE_SEQUENCES",
    "STEP_TYPES",
    "SUPERSEDED",
    "CannotActivate",
    "Catalog",
    "NotADraft",
    "Problem",
    "SequenceDefinition",
    "SequenceError",
    "TooManyActive",
    "preview",
    "problems",
    "walk",
]
