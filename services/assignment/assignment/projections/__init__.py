"""assignment's read models (assignments.py: the SQL read model and its queries) and views."""

from .analysis import InvalidWindow
from .assignments import AssignmentQueries, AssignmentReadModel, AssignmentsProjection
from .revenue import RevenueProjection, RevenueQueries
from .revenue_reads import RevenueReadModel
from .views import assignment_view, fairness, load_report, roster_view, seller_view

__all__ = [
    "AssignmentQueries",
    "AssignmentReadModel",
    "AssignmentsProjection",
    "InvalidWindow",
    "RevenueProjection",
    "RevenueQueries",
    "RevenueReadModel",
    "assignment_view",
    "fairness",
    "load_report",
    "roster_view",
    "seller_view",
]
