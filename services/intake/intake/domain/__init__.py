"""intake's domain: the Lead, lead settings, customers and the contact index."""

from typing import Any

from .contact_index import ContactIndexEntry, index_id
from .customers import Customer
from .deals import Deal, deal_id_for
from .errors import (
    AlreadyDone,
    DocumentAlreadyLinked,
    DocumentNotLinked,
    DuplicateCustomerPhone,
    IllegalTransition,
    LeadError,
    LinkedDocuments,
    SettingConflict,
    SettingRequirement,
)
from .lead import (
    ASSIGNED,
    CLOSED_INVALID,
    CONTACT_SLA,
    CONVERTED,
    DISQUALIFIED,
    QUALIFIED,
    UNASSIGNED,
    Lead,
    lead_id_for,
)
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
    "DISQUALIFIED",
    "MOVED_TOPICS",
    "PERSONAL_DATA",
    "QUALIFIED",
    "SETTINGS_ID",
    "UNASSIGNED",
    "AlreadyDone",
    "ContactIndexEntry",
    "Customer",
    "Deal",
    "DocumentAlreadyLinked",
    "DocumentNotLinked",
    "DuplicateCustomerPhone",
    "IllegalTransition",
    "Lead",
    "LeadError",
    "LeadSettings",
    "LinkedDocuments",
    "SettingConflict",
    "SettingRequirement",
    "TeamMembers",
    "deal_id_for",
    "index_id",
    "lead_id_for",
    "team_id_for",
]
