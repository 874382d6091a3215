"""sequence's aggregates. Pure: standard library and eventsourcing.domain only."""

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
    "problems",
    "walk",
]
