"""Segments: a segment groups leads by criteria; a lead belongs to the highest-priority
segment it matches."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .criteria import InvalidCriteria, check_criteria, lead_fact, matches, matches_everything
from .rulesets import InvalidRuleSet, RuleError

SEGMENTS_ID = uuid5(NAMESPACE_URL, "leadflow:assignment:segments")


class SegmentNotFound(RuleError, LookupError):
    pass


class SegmentCatalog(Aggregate):
    @staticmethod
    def create_id(**_: Any) -> UUID:
        return SEGMENTS_ID

    @event("Opened")
    def __init__(self) -> None:
        self.segments: dict[str, dict[str, Any]] = {}

    def define(self, name: str, priority: int, criteria: Any, *, match_all: bool = False) -> None:
        """A segment that holds every lead says so (`match_all`): criteria left out or empty by
        mistake would otherwise swallow every lead below its priority. Stored as no criteria."""
        try:
            check_criteria(criteria)
        except InvalidCriteria as exc:
            raise InvalidRuleSet(f"segment {name!r}: criteria: {exc}") from None
        if match_all and criteria is not None:
            raise InvalidRuleSet(f"segment {name!r}: criteria: match_all holds every lead, so it takes no criteria")
        if not match_all and matches_everything(criteria):
            raise InvalidRuleSet(
                f"segment {name!r}: criteria: give criteria, or match_all: true for a segment that holds every lead"
            )
        if self.segments.get(name) != {"priority": priority, "criteria": criteria}:
            self._defined(name, priority, criteria)

    @event("SegmentDefined")
    def _defined(self, name: str, priority: int, criteria: Any) -> None:
        self.segments[name] = {"priority": priority, "criteria": criteria}

    def remove(self, name: str) -> None:
        self.check_exists(name)
        self._removed(name)

    def check_exists(self, name: str) -> None:
        if name not in self.segments:
            raise SegmentNotFound(f"no segment {name!r}")

    @event("SegmentRemoved")
    def _removed(self, name: str) -> None:
        del self.segments[name]

    def segment_for(self, lead: dict[str, Any]) -> str | None:
        return segment_for(self.segments, lead)


def segment_for(segments: dict[str, dict[str, Any]], lead: dict[str, Any]) -> str | None:
    """The highest-priority matching segment (ties: the name first in alphabetical order)."""
    ranked = sorted(segments.items(), key=lambda item: (-item[1]["priority"], item[0]))
    for name, segment in ranked:
        if matches(segment["criteria"], lambda f: lead_fact(lead, f)):
            return name
    return None
