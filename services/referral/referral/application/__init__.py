"""referral's use cases (none yet: the skeleton only stores and relays)."""

from __future__ import annotations

from leadflow_shared.store import ServiceApplication


class ReferralApplication(ServiceApplication):
    name = "referral"
