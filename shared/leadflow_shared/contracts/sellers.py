"""Events assignment publishes on `sellers.events.v1` about its sellers and teams.

Key and subject = the roster's id: every membership change is on one partition, in the order
assignment recorded it, so a consumer's copy of the teams converges on assignment's.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from .base import Identifier, IntegrationEvent


class TeamMembershipChangedV1(IntegrationEvent):
    """Sellers joined or left a team.

    `added` joined, `removed` left. `replaced` true: the team now holds exactly `added` (whoever
    was in it before and is not listed left). A consumer applies them in version order.
    """

    cloudevents_type: ClassVar[str] = "team.membership-changed.v1"

    team_id: Identifier
    added: list[Identifier] = Field(default_factory=list)
    removed: list[Identifier] = Field(default_factory=list)
    replaced: bool = False
    changed_at: datetime
