"""Assignment's domain. Pure: standard library and eventsourcing.domain only."""

from typing import Any

from .assignments import Assignment, AssignmentError, LeadClosed, NotInPool
from .criteria import MAX_CONDITION_DEPTH, InvalidCriteria, check_criteria, lead_fact, matches, matches_everything
from .engine import REASONS, Decision, choose_owner, round_robin_key
from .holidays import (
    HOLIDAYS_ID,
    LIST_ID_PATTERN,
    MAX_HOLIDAYS,
    ORGANISATION_HOLIDAYS,
    HolidayListInUse,
    HolidayListNotFound,
    HolidayLists,
    InvalidHolidays,
)
from .queues import QUEUES_ID, QueueCatalog, QueueInUse, QueueNotFound
from .rulesets import (
    DEFAULT_RULESET,
    RULEBOOK_ID,
    InvalidRuleSet,
    References,
    RuleBook,
    RuleError,
    RuleProblem,
    RuleSetNotDraft,
    RuleSetNotFound,
)
from .schedule import InvalidSchedule, availability, in_working_hours
from .segments import SEGMENTS_ID, SegmentCatalog, SegmentNotFound, segment_for
from .sellers import (
    PROFILE_DEFAULTS,
    ROSTER_ID,
    InvalidProfile,
    Roster,
    Seller,
    SellerDeleted,
    SellerError,
    SellerNotTakingLeads,
    SellerOverCapacity,
    SellerState,
    SellerStillOwnsLeads,
    StillInUse,
    UnknownTeam,
    check_profile,
    seller_uuid,
)

MOVED_TOPICS: dict[str, type[Any]] = {
    # Until Spine v2 segments and rule sets shared one module.
    "assignment.domain.rules:SegmentCatalog": SegmentCatalog,
    "assignment.domain.rules:RuleBook": RuleBook,
}
"""Old stored topic of an aggregate → where it lives now (registered by the application)."""

__all__ = [
    "DEFAULT_RULESET",
    "HOLIDAYS_ID",
    "LIST_ID_PATTERN",
    "MAX_CONDITION_DEPTH",
    "MAX_HOLIDAYS",
    "MOVED_TOPICS",
    "ORGANISATION_HOLIDAYS",
    "PROFILE_DEFAULTS",
    "QUEUES_ID",
    "REASONS",
    "ROSTER_ID",
    "RULEBOOK_ID",
    "SEGMENTS_ID",
    "Assignment",
    "AssignmentError",
    "Decision",
    "HolidayListInUse",
    "HolidayListNotFound",
    "HolidayLists",
    "InvalidCriteria",
    "InvalidHolidays",
    "InvalidProfile",
    "InvalidRuleSet",
    "InvalidSchedule",
    "LeadClosed",
    "NotInPool",
    "QueueCatalog",
    "QueueInUse",
    "QueueNotFound",
    "References",
    "Roster",
    "RuleBook",
    "RuleError",
    "RuleProblem",
    "RuleSetNotDraft",
    "RuleSetNotFound",
    "SegmentCatalog",
    "SegmentNotFound",
    "Seller",
    "SellerDeleted",
    "SellerError",
    "SellerNotTakingLeads",
    "SellerOverCapacity",
    "SellerState",
    "SellerStillOwnsLeads",
    "StillInUse",
    "UnknownTeam",
    "availability",
    "check_criteria",
    "check_profile",
    "choose_owner",
    "in_working_hours",
    "lead_fact",
    "matches",
    "matches_everything",
    "round_robin_key",
    "segment_for",
    "seller_uuid",
]
