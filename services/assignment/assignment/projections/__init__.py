"""assignment's read models (assignments.py: the SQL read model and its queries) and views."""

from .assignments import AssignmentQueries, AssignmentReadModel, AssignmentsProjection
from .views import assignment_view, fairness, load_report, roster_view, seller_view

__all__ = [
    "AssignmentQueries",
    "AssignmentReadModel",
    "AssignmentsProjection",
    "assignment_view",
    "fairness",
    "load_report",
    "roster_view",
    "seller_view",
]
