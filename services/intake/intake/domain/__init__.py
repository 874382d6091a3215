"""intake's domain: the Lead, lead settings, customers and the contact index."""

from typing import Any

from .contact_index import ContactIndexEntry, index_id
from .customers import Customer
from .errors import DuplicateCustomerPhone, IllegalTransition, LeadError, SettingConflict, SettingRequirement
from .lead import ASSIGNED, CLOSED_INVALID, CONTACT_SLA, CONVERTED, UNASSIGNED, Lead, lead_id_for
from .personal import PERSONAL_DATA
from .settings import SETTINGS_ID, LeadSettings
from .teams import TeamMembers, team_id_for

MOVED_TOPICS: dict[str, type[Any]] = {
    # Until Spine v2 customers and the contact index shared one module.
    "intake.domain.contacts:ContactIndexEntry": ContactIndexEntry,
    "intake.domain.contacts:Customer": Customer,
}
"""Old stored topic of an aggregate → where it lives now (registered by the application)."""

__all__ = [
    "ASSIGNED",
    "CLOSED_INVALID",
    "CONTACT_SLA",
    "CONVERTED",
    "MOVED_TOPICS",
    "PERSONAL_DATA",
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
    "TeamMembers",
    "index_id",
    "lead_id_for",
    "team_id_for",
]
