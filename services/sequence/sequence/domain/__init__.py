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
    NotActive,
    NotADraft,
    Problem,
    SequenceDefinition,
    SequenceError,
    problems,
    walk,
)
from .enrolment import (
    EXIT_CAUSES,
    SYSTEM,
    Context,
    Enrolment,
    EnrolmentEnded,
    InvalidSignal,
    NotCurrent,
    enrolment_id_for,
)
from .leads import AlreadyEnrolled, LeadFile
from .plan import Plan
from .preview import preview
from .settings import (
    DEFAULT_CALENDAR,
    HOLIDAYS_ID,
    LINKS_ID,
    Holidays,
    SegmentLinks,
    SellerCalendar,
    seller_calendar_id,
)

__all__ = [
    "ACTIVE",
    "CATALOG_ID",
    "CONDITIONS",
    "DEFAULT_CALENDAR",
    "DRAFT",
    "EXIT_CAUSES",
    "HOLIDAYS_ID",
    "INACTIVE",
    "LINKS_ID",
    "MAX_ACTIVE_SEQUENCES",
    "STEP_TYPES",
    "SUPERSEDED",
    "SYSTEM",
    "AlreadyEnrolled",
    "CannotActivate",
    "Catalog",
    "Context",
    "Enrolment",
    "EnrolmentEnded",
    "Holidays",
    "InvalidSignal",
    "LeadFile",
    "NotADraft",
    "NotActive",
    "NotCurrent",
    "Plan",
    "Problem",
    "SegmentLinks",
    "SellerCalendar",
    "SequenceDefinition",
    "SequenceError",
    "TooManyActive",
    "enrolment_id_for",
    "preview",
    "problems",
    "seller_calendar_id",
    "walk",
]
