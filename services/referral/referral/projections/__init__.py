"""referral's read models: the referral list (tabs, filters, counts, favorites, response-time
figures), rebuildable from the events, and the views of one referral and its events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import ReadStore
from leadflow_shared.views import event_view

from .queries import InvalidQuery, ReferralFilters, ReferralList, ReferralPage
from .referral_list import PRIMARY_KEYS, TABLES, ReferralListProjection
from .views import etag, referral_view


@dataclass
class ReferralReadModel:
    """The referral list's runner (which fills it) and queries (which read it)."""

    runner: ProjectionRunner
    referrals: ReferralList

    @classmethod
    def of(cls, runner: ProjectionRunner) -> ReferralReadModel:
        return cls(runner=runner, referrals=ReferralList(runner.store))

    @property
    def store(self) -> ReadStore:
        return self.runner.store

    def rebuild(self, progress: Any = None) -> dict[str, int]:
        return self.runner.rebuild(progress)

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        with self.store.transaction(write=False) as tx:
            return {t: tx.fetchall(f"SELECT * FROM {t} ORDER BY {PRIMARY_KEYS[t]}") for t in TABLES}


__all__ = [
    "InvalidQuery",
    "ReferralFilters",
    "ReferralList",
    "ReferralListProjection",
    "ReferralPage",
    "ReferralReadModel",
    "etag",
    "event_view",
    "referral_view",
]
