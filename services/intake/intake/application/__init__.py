"""intake's application layer: the use cases (leads.py) and the template import (importing/)."""

from .customers import CustomerNotFound, Customers
from .leads import SYSTEM, DealNotFound, IntakeApplication, LeadNotFound, Receipt, upstream_fields

__all__ = [
    "SYSTEM",
    "CustomerNotFound",
    "Customers",
    "DealNotFound",
    "IntakeApplication",
    "LeadNotFound",
    "Receipt",
    "upstream_fields",
]
