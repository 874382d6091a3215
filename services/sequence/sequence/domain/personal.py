"""Which of sequence's stored values are personal data (docs/security.md, "Erasure"): the free-text
note a seller leaves when completing a step. It is encrypted in the stored events with the
enrolment's own data key. Everything else the service keeps is ids, types, times and outcomes; a
lead's contact details are read from intake when an e-mail is sent and never stored here."""

from __future__ import annotations

from typing import Any

from leadflow_shared.personal import PersonalData, PersonalFields

from .enrolment import Enrolment

EnrolmentEvent: Any = Enrolment

PERSONAL_DATA = PersonalData(events={EnrolmentEvent.StepCompleted: PersonalFields({"note": None})})
