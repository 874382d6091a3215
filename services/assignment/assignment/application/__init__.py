"""assignment's application layer: use cases (use_cases.py) over a store shared safely
between processes (store.py)."""

from .store import SellerNotFound, SharedStoreApplication, seller_states, team_map
from .use_cases import AssignmentApplication, AssignmentNotFound, AssignmentPolicy, lead_facts

__all__ = [
    "AssignmentApplication",
    "AssignmentNotFound",
    "AssignmentPolicy",
    "SellerNotFound",
    "SharedStoreApplication",
    "lead_facts",
    "seller_states",
    "team_map",
]
