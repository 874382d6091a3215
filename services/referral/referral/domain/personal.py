"""Which of referral's stored values are personal data (docs/security.md, "Erasure"): the
customer's contacts, the people on the referral (the sender's team, the partner's team members,
extra contacts given when accepting) and free-text notes. Each is encrypted in the stored events
with the referral's own data key."""

from __future__ import annotations

from typing import Any

from leadflow_shared.personal import PersonalData, PersonalFields

from .referral import Referral

ReferralEvent: Any = Referral

PERSONAL_DATA = PersonalData(
    events={
        ReferralEvent.Received: PersonalFields(
            {
                "details.customer.contacts": [],
                "details.team": [],
                "details.details.notes": None,
                "details.invite.notes": None,
            }
        ),
        ReferralEvent.Accepted: PersonalFields({"deal.notes": None, "deal.contacts": []}),
        ReferralEvent.Updated: PersonalFields({"changes.notes": None}),
        ReferralEvent.Closed: PersonalFields({"notes": None}),
        ReferralEvent.TeamMemberAdded: PersonalFields({"member": {}}),
    }
)
