"""Who may see a lead (the object rules of docs/security.md), asked by every route that shows
one, or something made of one (its customer, its deal)."""

from __future__ import annotations

import asyncio
from uuid import UUID

from leadflow_shared.auth import Principal, Role, lead_visible
from leadflow_shared.store import StoreWorker

from ...application import IntakeApplication
from ...projections import LeadReadModel


class LeadVisibility:
    """`sees(caller, lead_id)`: an admin every lead, a sales manager their teams' members' leads,
    a seller their own (and, with self-assignment, the pool leads they may take)."""

    def __init__(
        self, app: IntakeApplication, worker: StoreWorker, read_model: LeadReadModel, *, self_assignment: bool = False
    ) -> None:
        self._app, self._worker, self._read_model = app, worker, read_model
        self._self_assignment = self_assignment

    async def sees(self, caller: Principal, lead_id: UUID) -> bool:
        """Raises LeadNotFound for a lead that does not exist (or was deleted), whoever asks."""
        owner_id, team_id, unassigned = await self._worker.call(self._app.lead_owner, lead_id)
        owner_teams: frozenset[str] = frozenset()
        claimable = False
        if caller.has(Role.SALES_MANAGER) and owner_id is not None:
            owner_teams = await asyncio.to_thread(self._read_model.teams_of, owner_id)
        if caller.has(Role.SELLER) and self._self_assignment and unassigned:
            claimable = team_id is None or team_id in await asyncio.to_thread(self._read_model.teams_of, caller.subject)
        return lead_visible(caller, owner_id, team_id, owner_teams=owner_teams, claimable=claimable)
