"""Tenants: a referral belongs to one partner organisation (its target). A partner's admins and
users see and act only on their own organisation's referrals: anything else is answered 404, as
if it did not exist. Admins see every organisation."""

from __future__ import annotations

from uuid import UUID

from fastapi import HTTPException

from leadflow_shared.auth import Principal, Role
from leadflow_shared.auth.policy import referral_visible
from leadflow_shared.store import StoreWorker

from ...application import ReferralApplication, ReferralNotFound
from ...domain import favorites_id


def organisation_of(caller: Principal, asked: str | None, *, required: bool = False) -> str | None:
    """The organisation a request is about: a partner's own (asking for another one: 404); for an
    admin, the one asked for (None: every organisation, unless `required`)."""
    if caller.has(Role.ADMIN):
        if asked is None and required:
            raise HTTPException(
                422, detail=[{"loc": ["query", "org"], "msg": "name the partner organisation", "type": "missing"}]
            )
        return asked
    if caller.org is None:
        raise HTTPException(403, detail="a partner's token names its organisation (claim `org`); this one does not")
    if asked is not None and asked != caller.org:
        raise HTTPException(404, detail=f"organisation {asked!r} not found")
    return caller.org


async def check_visible(app: ReferralApplication, worker: StoreWorker, caller: Principal, referral_id: UUID) -> None:
    """A referral of another organisation is answered exactly like one that does not exist."""
    org = await worker.call(app.referral_org, referral_id)
    if not referral_visible(caller, org):
        raise ReferralNotFound(referral_id)


def favorites_key(caller: Principal) -> str:
    """Whose favorites, as the list keeps them: the user's favorites aggregate (their favorites
    are invisible to everyone else)."""
    return favorites_id(caller.subject).hex
