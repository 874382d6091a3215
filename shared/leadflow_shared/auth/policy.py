"""The one authorization policy: which roles may do what, and which objects a caller may see.

Every route of every service names one `Permission`. A caller holding none of the roles the
permission lists gets 403; an API key (role `integration`) must also carry the permission's
scope. Object rules (`lead_visible`) answer "may this caller see this lead at all?"; a caller
who may not is answered 404 by the route, exactly as if the lead did not exist, so ids cannot
be probed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .principal import Principal, Role

A, M, S, KEY, PA, PU = (
    Role.ADMIN,
    Role.SALES_MANAGER,
    Role.SELLER,
    Role.INTEGRATION,
    Role.PARTNER_ADMIN,
    Role.PARTNER_USER,
)


@dataclass(frozen=True)
class Permission:
    name: str
    roles: frozenset[Role]
    scope: str | None = None
    """The API-key scope that grants it to an integration (None: keys never may)."""
    scoped_to_objects: bool = False
    """The route also applies an object rule (own leads, team's leads, own organisation)."""


def _p(name: str, *roles: Role, scope: str | None = None, objects: bool = False) -> Permission:
    return Permission(name, frozenset(roles), scope, objects)


POLICY: Mapping[str, Permission] = {
    p.name: p
    for p in (
        # intake
        _p("leads:create", A, M, S, KEY, scope="leads:write"),
        _p("leads:import", A, KEY, scope="leads:write"),
        _p("leads:read", A, M, S, objects=True),
        _p("leads:work", A, M, S, objects=True),
        _p("leads:manage", A, M, objects=True),
        _p("leads:erase", A),
        # a lead's personal fields, to address a message (sequence's mailer): no object rule
        _p("leads:contact", A, KEY, scope="leads:contact"),
        _p("contacts:write", A, KEY, scope="contacts:write"),
        _p("settings:read", A, M, S),
        _p("settings:write", A),
        # assignment
        _p("sellers:read", A, M, S, objects=True),
        _p("sellers:write", A),
        _p("sellers:report", A, M),
        _p("rules:read", A, M),
        _p("rules:write", A),
        _p("rules:simulate", A, M),
        _p("assignments:read", A, M, S, objects=True),
        _p("assignments:assign", A, M),
        _p("assignments:claim", S, objects=True),
        # revenue models (assignment's own module); a lead's revenue stage is read as its assignment
        _p("revenue:read", A, M),
        _p("revenue:write", A),
        _p("revenue:move", A, M),
        _p("revenue:report", A, M),
        # sequence
        _p("sequences:read", A, M, S),
        _p("sequences:write", A),
        _p("sequences:enrol", A, M, S, objects=True),
        _p("sequences:work", A, M, S, objects=True),
        _p("sequences:report", A, M),
        _p("sequences:signal", A, KEY, scope="sequences:signal"),
        # referral (partners see their own organisation's referrals only)
        _p("referrals:receive", A, KEY, scope="referrals:write"),
        _p("referrals:read", A, PA, PU, objects=True),
        _p("referrals:work", A, PA, PU, objects=True),
        _p("referrals:team", A, PA, objects=True),
        _p("referrals:settings", A, PA),
        # every service
        _p("api-keys:manage", A),
    )
}

SCOPES = frozenset(p.scope for p in POLICY.values() if p.scope is not None)
"""Every scope an API key may be given."""


def allowed(principal: Principal, permission: Permission) -> bool:
    for role in principal.roles & permission.roles:
        if role is not Role.INTEGRATION or (permission.scope is not None and permission.scope in principal.scopes):
            return True
    return False


def lead_visible(
    principal: Principal,
    owner_id: str | None,
    team_id: str | None,
    *,
    owner_teams: Collection[str] = (),
    claimable: bool = False,
) -> bool:
    """May the caller see (and, with the right permission, act on) a lead with this owner?

    Admins: every lead. Sales managers: leads placed in one of their teams, and leads owned by a
    member of one of them (`owner_teams`: the teams the owner is in). Sellers: the leads they
    own, and leads in the unassigned pool they may take (`claimable`: the service found that
    nobody owns it, self-assignment is allowed, and the lead's team, if any, is the seller's).
    Anyone else: none."""
    if principal.has(Role.ADMIN):
        return True
    if principal.has(Role.SALES_MANAGER) and (
        (team_id is not None and team_id in principal.teams) or not principal.teams.isdisjoint(owner_teams)
    ):
        return True
    if not principal.has(Role.SELLER):
        return False
    return (owner_id is not None and owner_id == principal.subject) or (owner_id is None and claimable)


def referral_visible(principal: Principal, target_org: str) -> bool:
    """May the caller see (and, with the right permission, act on) a referral for `target_org`?
    Admins: every referral. A partner's admins and users: their own organisation's only."""
    if principal.has(Role.ADMIN):
        return True
    return (
        principal.org is not None
        and principal.org == target_org
        and (principal.has(Role.PARTNER_ADMIN) or principal.has(Role.PARTNER_USER))
    )
