"""intake's application layer: the use cases (leads.py) and the template import (importing/)."""

from .leads import SYSTEM, IntakeApplication, LeadNotFound, Receipt, upstream_fields

__all__ = ["SYSTEM", "IntakeApplication", "LeadNotFound", "Receipt", "upstream_fields"]
