"""Which of intake's stored values are personal data, and whose (docs/security.md, "Erasure").

A lead's contact (names, email, phone, job title), its company's name and the free text about it
(upstream notes, follow-up and disqualification notes) are encrypted in the stored events and
snapshots with the lead's data key. A customer's contact details came from the lead it was made
from, and use that lead's key. Erasing the lead destroys the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from leadflow_shared.personal import PersonalData, PersonalFields

from .customers import Customer
from .lead import Lead

LeadEvent: Any = Lead
CustomerEvent: Any = Customer

_UPSTREAM: dict[str, Any] = {"contact": {}, "company.name": None, "details.notes": None}
"""The personal values of a lead's upstream attributes → what they read as once erased."""
_CUSTOMER: dict[str, Any] = {"name": None, "email": None, "phone": None, "company": None}


def _under(prefix: str, paths: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{path}": erased for path, erased in paths.items()}


def _customer_subject(_originator_id: UUID, state: Mapping[str, Any]) -> UUID | None:
    lead = state.get("from_lead_id") or (state.get("lead_ids") or [None])[0]
    return None if lead is None else lead if isinstance(lead, UUID) else UUID(str(lead))


PERSONAL_DATA = PersonalData(
    events={
        LeadEvent.Received: PersonalFields(_UPSTREAM),
        LeadEvent.UpstreamUpdated: PersonalFields({**_under("changes", _UPSTREAM), **_under("snapshot", _UPSTREAM)}),
        LeadEvent.FollowedUp: PersonalFields({"note": ""}),
        LeadEvent.Disqualified: PersonalFields({"note": None}),
        CustomerEvent.Created: PersonalFields(_CUSTOMER, subject=_customer_subject),
    },
    snapshots={
        Lead: PersonalFields(_UPSTREAM),
        Customer: PersonalFields(_CUSTOMER, subject=_customer_subject),
    },
)
