"""intake's copy of assignment's teams: who is in each, so a sales manager sees the leads their
team members own (the policy's manager rule) without intake ever asking assignment.

One aggregate per team, changed only by assignment's `team.membership-changed.v1` events, in
the order assignment recorded them; the lead list projects the members into a table the lead
queries join.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_TEAM_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:intake:team")


@lru_cache(maxsize=10_000)
def team_id_for(team_id: str) -> UUID:
    return uuid5(_TEAM_NAMESPACE, team_id)


class TeamMembers(Aggregate):
    """The sellers in one of assignment's teams, as its published changes say."""

    @staticmethod
    def create_id(team_id: str) -> UUID:
        return team_id_for(team_id)

    @event("Opened")
    def __init__(self, team_id: str) -> None:
        self.team_id = team_id
        self.members: set[str] = set()

    def change(self, added: list[str], removed: list[str], replaced: bool) -> None:
        """Apply one published change; nothing is recorded when it changes nothing."""
        wanted = set(added)
        joined = wanted - self.members
        left = (self.members - wanted) if replaced else (self.members & set(removed))
        if joined or left:
            self._changed(team_id=self.team_id, joined=sorted(joined), left=sorted(left))

    @event("Changed")
    def _changed(self, team_id: str, joined: list[str], left: list[str]) -> None:
        # `team_id` is recorded again so the projection needs nothing but this event.
        self.members.difference_update(left)
        self.members.update(joined)
