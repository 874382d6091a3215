"""Replaying the log: determinism checks and what-if simulations. Read-only by design: the
history is rebuilt into private aggregate copies from the notification log, and nothing is
ever saved, so live state cannot change.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
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


def simulate(
    app: AssignmentApplication,
    ruleset: dict[str, Any],
    *,
    last: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """What the given rule set would have decided for the last `last` leads (or the leads that
    arrived in [since, until)), each at the moment it was first decided, against sellers as they
    were then, with the simulated decisions' own effects on capacity and round robin.

    Compared with what actually happened: a lead's actual owner is the seller (or team, or
    queue) its first engine decision that placed it gave it, or none if it is still unplaced.
    """
    events = list(history(app))
    arrivals = [e for e in events if isinstance(e, Assignment.Opened)]
    if since is not None or until is not None:
        arrivals = [
            e for e in arrivals if (since is None or e.arrived_at >= since) and (until is None or e.arrived_at < until)
        ]
    if last is not None:
        arrivals = arrivals[-last:] if last > 0 else []
    window = {e.originator_id for e in arrivals}
    window_keys = {str(lead_id) for lead_id in window}

    state = History()
    held: dict[str, set[str]] = {}
    owner: dict[str, str] = {}
    turns: dict[str, tuple[datetime | None, int]] = {}
    simulated: dict[UUID, dict[str, Any]] = {}
    actual: dict[UUID, str | None] = {}
    rules_matched: Counter[str] = Counter()
    started = False

    actually_held: dict[str, set[str]] = {}

    def sim_state(s: SellerState) -> SellerState:
        last_at, last_turn = turns.get(s.seller_id, (s.last_assigned_at, s.last_turn))
        return dataclasses.replace(
            s,
            open_count=s.open_count - len(actually_held.get(s.seller_id, ())) + len(held.get(s.seller_id, ())),
            last_assigned_at=last_at,
            last_turn=last_turn,
        )

    def place(lead_key: str, seller_id: str | None) -> None:
        previous = owner.pop(lead_key, None)
        if previous is not None:
            held[previous].discard(lead_key)
        if seller_id is not None:
            owner[lead_key] = seller_id
            held.setdefault(seller_id, set()).add(lead_key)

    for event in events:
        lead_id, lead_key = event.originator_id, str(event.originator_id)
        if isinstance(event, Assignment.Opened) and lead_id in window and not started:
            started = True
            turns = {s.seller_id: (s.last_assigned_at, s.last_turn) for s in state.seller_states()}
        if isinstance(event, Seller.LeadTaken) and event.lead_id in window_keys:
            actually_held.setdefault(state.aggregates[event.originator_id].seller_id, set()).add(event.lead_id)
        if isinstance(event, Seller.LeadReleased) and event.lead_id in window_keys:
            actually_held.get(state.aggregates[event.originator_id].seller_id, set()).discard(event.lead_id)
        if isinstance(event, Seller.LeadTaken) and (event.lead_id not in window_keys or event.manual):
            seller_id = state.aggregates[event.originator_id].seller_id
            _, last_turn = turns.get(seller_id, (None, 0))
            turns[seller_id] = (event.at, max(last_turn, event.turn))
        if lead_id in window and isinstance(event, Assignment.Released):
            place(lead_key, None)
        if lead_id in window and isinstance(event, Assignment.Decided) and event.manual:
            place(lead_key, event.seller_id)
        if lead_id in window and is_engine_decision(event):
            recorded = recorded_outcome(event)
            placed = recorded["seller_id"] or recorded["team_id"] or recorded["queue_id"]
            if actual.get(lead_id) is None:
                actual[lead_id] = placed
            if lead_id not in simulated:
                assignment = state.aggregates[lead_id]
                now = decision_time(event)
                decision = choose_owner(
                    lead=assignment.lead,
                    segment=assignment.segment,
                    ruleset=ruleset,
                    sellers=[sim_state(s) for s in state.seller_states()],
                    teams=state.teams(),
                    now=now,
                    exclude=frozenset(event.explanation.get("excluded_sellers", [])),
                )
                simulated[lead_id] = {
                    "owner": decision.seller_id or decision.team_id or decision.queue_id,
                    "seller_id": decision.seller_id,
                    "rule": (decision.explanation.get("rule") or {}).get("name"),
                }
                rules_matched[simulated[lead_id]["rule"] or "(no rule matched)"] += 1
                if decision.seller_id is not None:
                    place(lead_key, decision.seller_id)
                    turns[decision.seller_id] = (now, decision.turn)
        state.apply(event)

    per_seller: dict[str, dict[str, int]] = {}
    for sim in simulated.values():
        if sim["seller_id"] is not None:
            per_seller.setdefault(sim["seller_id"], {"simulated": 0, "actual": 0})["simulated"] += 1
    actual_sellers = {s.seller_id for s in state.seller_states()}
    for placed in actual.values():
        if placed in actual_sellers:
            per_seller.setdefault(placed, {"simulated": 0, "actual": 0})["actual"] += 1
    changes = [
        {"lead_id": str(lead_id), "actual": actual.get(lead_id), "simulated": sim["owner"]}
        for lead_id, sim in simulated.items()
        if sim["owner"] != actual.get(lead_id)
    ]
    return {
        "ruleset_version": ruleset["version"],
        "leads": len(simulated),
        "per_seller": dict(sorted(per_seller.items())),
        "unassigned": {
            "simulated": sum(1 for s in simulated.values() if s["owner"] is None),
            "actual": sum(1 for lead_id in simulated if actual.get(lead_id) is None),
        },
        "different_owner": len(changes),
        "rules_matched": dict(rules_matched),
        "changes": changes[:100],
    }


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
