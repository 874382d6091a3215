"""Replaying the log: determinism checks and full explanations. Read-only by design: the
history is rebuilt into private aggregate copies from the notification log, and nothing is
ever saved, so live state cannot change. (What-if simulations: whatif.py.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from leadflow_shared.moves import stored_topics

from ..domain import (
    DEFAULT_RULESET,
    HOLIDAYS_ID,
    RULEBOOK_ID,
    Assignment,
    Decision,
    HolidayLists,
    Roster,
    RuleBook,
    Seller,
    SellerState,
    choose_owner,
    seller_uuid,
)
from ..domain.sellers import ROSTER_ID
from .sellers import SELLER_AND_ROSTER_EVENTS

if TYPE_CHECKING:
    from .use_cases import AssignmentApplication

SellerEvent: Any = Seller
RosterEvent: Any = Roster


def history(
    app: AssignmentApplication, page: int = 1000, *, topics: list[str] | None = None, stop: int | None = None
) -> Iterator[Any]:
    """Every domain event (of the given stored topics) in the order it was recorded, up to `stop`."""
    position = 0
    while True:
        notifications = app.recorder.select_notifications(position + 1, page, stop=stop, topics=topics or ())
        for notification in notifications:
            yield app.mapper.to_domain_event(notification)
            position = notification.id
        if len(notifications) < page:
            return


class History:
    """Aggregates rebuilt event by event: the service's state as of any point in its log."""

    def __init__(self) -> None:
        self.aggregates: dict[UUID, Any] = {}

    def apply(self, event: Any) -> None:
        self.aggregates[event.originator_id] = event.mutate(self.aggregates.get(event.originator_id))

    def rulebook(self) -> RuleBook | None:
        return self.aggregates.get(RULEBOOK_ID)

    def active_ruleset(self) -> dict[str, Any]:
        book = self.rulebook()
        return DEFAULT_RULESET if book is None else book.active()

    def roster(self) -> Roster | None:
        return self.aggregates.get(ROSTER_ID)

    def seller(self, seller_id: str) -> Seller:
        return self.aggregates[seller_uuid(seller_id)]  # type: ignore[no-any-return]

    def seller_states(self) -> list[SellerState]:
        roster = self.roster()
        if roster is None:
            return []
        lists: HolidayLists = self.aggregates.get(HOLIDAYS_ID) or HolidayLists()
        return [
            (seller := self.seller(s)).state(i, roster.teams_of(s), lists.holidays_of(seller.holiday_list))
            for i, s in enumerate(roster.order)
        ]

    def teams(self) -> dict[str, list[str]]:
        roster = self.roster()
        return {} if roster is None else {t: team["members"] for t, team in roster.teams.items()}


def is_engine_decision(event: Any) -> bool:
    return isinstance(event, Assignment.Waited) or (isinstance(event, Assignment.Decided) and not event.manual)


def decision_time(event: Any) -> datetime:
    return event.decided_at if isinstance(event, Assignment.Decided) else event.since  # type: ignore[no-any-return]


def recorded_outcome(event: Any) -> dict[str, Any]:
    if isinstance(event, Assignment.Decided):
        outcome = {"seller_id": event.seller_id, "team_id": event.team_id, "queue_id": None, "method": event.method}
    else:
        outcome = {"seller_id": None, "team_id": None, "queue_id": event.queue_id, "method": None}
    return {**outcome, "explanation": event.explanation}


def decision_outcome(decision: Decision) -> dict[str, Any]:
    return {
        "seller_id": decision.seller_id,
        "team_id": decision.team_id,
        "queue_id": decision.queue_id,
        "method": None if decision.outcome in ("waiting", "queue") else decision.method,
        "explanation": json.loads(json.dumps(decision.explanation)),
    }


@dataclass(frozen=True)
class Replayed:
    lead_id: UUID
    recorded: dict[str, Any]
    replayed: dict[str, Any]

    @property
    def same(self) -> bool:
        if "candidates" in self.recorded["explanation"]:
            # Recorded before Spine v2, when every candidate went into the event: the outcome
            # must match; the explanation has a different (smaller) shape now.
            return _outcome(self.recorded) == _outcome(self.replayed)
        return self.recorded == self.replayed


def _outcome(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k != "explanation"}


def replay_decisions(app: AssignmentApplication) -> list[Replayed]:
    """Recompute every engine decision in the log from the state just before it was made."""
    state = History()
    results = []
    for event in history(app):
        if is_engine_decision(event):
            assignment = state.aggregates[event.originator_id]
            decision = choose_owner(
                lead=assignment.lead,
                segment=assignment.segment,
                ruleset=state.active_ruleset(),
                sellers=state.seller_states(),
                teams=state.teams(),
                now=decision_time(event),
                exclude=frozenset(event.explanation.get("excluded_sellers", [])),
            )
            results.append(Replayed(event.originator_id, recorded_outcome(event), decision_outcome(decision)))
        state.apply(event)
    return results


def explain_in_full(app: AssignmentApplication, lead_id: UUID) -> list[dict[str, Any]]:
    """Every engine decision about one lead, recomputed with every candidate and its reasons.

    The decision events record a small explanation; the full one comes back from the pure
    decision function and the recorded inputs: the lead and its segment as they were, the rule
    set version the decision names, and the sellers as the log says they were just before the
    decision (seller, roster and holiday-list events replayed up to it).
    """
    decisions = [e for e in app.events.get(lead_id) if is_engine_decision(e)]
    positions = [app.recorder.notification_id_of(lead_id, e.originator_version) or 0 for e in decisions]
    state = History()
    replayed = _numbered(app, stored_topics(SELLER_AND_ROSTER_EVENTS), stop=max(positions, default=0))
    pending = next(replayed, None)
    book = app.rulebook()
    explained = []
    for event, position in sorted(zip(decisions, positions, strict=True), key=lambda pair: pair[1]):
        while pending is not None and pending[0] < position:
            state.apply(pending[1])
            pending = next(replayed, None)
        before: Assignment = app.repository.get(lead_id, version=event.originator_version - 1)
        version = event.explanation.get("ruleset_version", 0)
        decision = choose_owner(
            lead=before.lead,
            segment=before.segment,
            ruleset=book.get(version),
            sellers=state.seller_states(),
            teams=state.teams(),
            now=decision_time(event),
            exclude=frozenset(event.explanation.get("excluded_sellers", [])),
            with_candidates=True,
        )
        recorded = recorded_outcome(event)
        explained.append(
            {
                "version": event.originator_version,
                "at": decision_time(event).isoformat(),
                "recorded": recorded,
                "recomputed": decision_outcome(decision),
                "same_outcome": {k: v for k, v in recorded.items() if k != "explanation"}
                == {k: v for k, v in decision_outcome(decision).items() if k != "explanation"},
                "candidates": decision.candidates,
            }
        )
    return explained


def _numbered(app: AssignmentApplication, topics: list[str], stop: int, page: int = 1000) -> Iterator[tuple[int, Any]]:
    position = 0
    while position < stop:
        notifications = app.recorder.select_notifications(position + 1, page, stop=stop, topics=topics)
        for notification in notifications:
            yield notification.id, app.mapper.to_domain_event(notification)
        if len(notifications) < page:
            return
        position = notifications[-1].id
