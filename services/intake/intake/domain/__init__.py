"""intake's domain: the Lead, lead settings, customers and the contact index."""

from .contacts import ContactIndexEntry, Customer, index_id
from .errors import DuplicateCustomerPhone, IllegalTransition, LeadError, SettingConflict, SettingRequirement
from .lead import ASSIGNED, CLOSED_INVALID, CONVERTED, UNASSIGNED, Lead, lead_id_for
from .settings import SETTINGS_ID, LeadSettings

__all__ = [
    "ASSIGNED",
    "CLOSED_INVALID",
    "CONVERTED",
    "SETTINGS_ID",
    "UNASSIGNED",
    "ContactIndexEntry",
    "Customer",
    "DuplicateCustomerPhone",
    "IllegalTransition",
    "Lead",
    "LeadError",
    "LeadSettings",
    "SettingConflict",
    "SettingRequirement",
    "index_id",
    "lead_id_for",
]
