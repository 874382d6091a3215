from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from referral_world import ReferralWorld


@pytest.fixture
async def world() -> AsyncIterator[ReferralWorld]:
    w = ReferralWorld()
    yield w
    await w.close()
