"""assignment's application layer: the use cases, the engine's seller views, replays and what-if,
and the periodic re-run of waiting leads."""

from .jobs import PeriodicRerun, StageChangeRuns
from .revenue import LeadNotKnown, RevenueModels, RunNotFound
from .sellers import SellerNotFound, SellerViews
from .use_cases import AssignmentApplication, AssignmentNotFound, AssignmentPolicy, AssignmentReads, lead_facts

__all__ = [
    "AssignmentApplication",
    "AssignmentNotFound",
    "AssignmentPolicy",
    "AssignmentReads",
    "LeadNotKnown",
    "PeriodicRerun",
    "RevenueModels",
    "RunNotFound",
    "SellerNotFound",
    "SellerViews",
    "StageChangeRuns",
    "lead_facts",
]
