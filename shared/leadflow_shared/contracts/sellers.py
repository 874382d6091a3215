"""Events assignment publishes on `sellers.events.v1` about its sellers and teams.

Key and subject = the aggregate that changed: the roster's id for team membership (every
membership change is on one partition, in the order assignment recorded it, so a consumer's copy
of the teams converges on assignment's), the seller's id for a seller's calendar (in order per
seller).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

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


class SellerProfileChangedV1(IntegrationEvent):
    """A seller was registered or their profile changed: their whole calendar as it stands after
    the change, so a consumer replaces its copy (the sequence service computes due times with it).

    Key and subject = the seller's aggregate id (`aggregate_id`; `seller_id` is assignment's name
    for them), so one seller's changes arrive in order. `working_hours` is
    `{"mon": [["09:00", "17:00"]], ...}` in `time_zone` (an interval whose end is not after its
    start runs past midnight; empty: always working); `out_of_office` the seller's ranges as
    `{"start", "end"}` (RFC 3339 with an offset); `holiday_list` the list of days off they follow
    (null: none); `active` false: assignment gives the seller no leads. No personal data: a
    range's free-text note stays in assignment (the topic is kept for good, nothing on it can be
    erased).
    """

    cloudevents_type: ClassVar[str] = "seller.profile-changed.v1"

    seller_id: Identifier
    name: str = ""
    time_zone: str
    working_hours: dict[str, list[list[str]]]
    out_of_office: list[dict[str, Any]]
    holiday_list: str | None
    active: bool
    changed_at: datetime
