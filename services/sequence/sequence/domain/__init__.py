"""sequence's aggregates and rules. Pure: standard library, eventsourcing.domain and the shared
business calendar."""

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
    "CONDITIONS",
    "DRAFT",
    "INACTIVE",
    "MAX_ACTIVE_SEQUENCES",
    "STEP_TYPES",
    "SUPERSEDED",
    "CannotActivate",
    "NotADraft",
    "Problem",
    "SequenceDefinition",
    "SequenceError",
    "preview",
    "problems",
    "walk",
]
