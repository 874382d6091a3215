"""The what-if's replay (whatif.py): the period in log order over private copies of sellers,
roster and holiday lists, each lead's first automatic decision made again with the rule set
simulated, and the answer.

Sellers change as they did, except for what the simulated first decisions change instead of
the real ones: each seller's open leads and round robin (last assigned at, turn) are counted
here. A lead of the window is held by the seller the simulation gave it until a later real
change of that lead (released, recycled, decided again, moved by hand, claimed) puts it where
it really went. With the rule set that really decided, every simulated decision equals the
real one, so the replay sees exactly what the engine saw.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from leadflow_shared.calendars import NO_HOLIDAYS
from leadflow_shared.moves import stored_topics

from ..domain import Assignment, HolidayLists, Roster, Seller, SellerState
from ..domain.engine import choose_owner_outcome, ranking_key
from .sellers import SELLER_AND_ROSTER_EVENTS

LISTED = 100
"""How many changes, and lead ids of re-runs and manual changes, an answer lists."""

AssignmentEvent: Any = Assignment
SellerEvent: Any = Seller
RosterEvent: Any = Roster
HolidaysEvent: Any = HolidayLists
ASSIGNMENT_EVENTS = tuple(
    v for v in vars(Assignment).values() if isinstance(v, type) and issubclass(v, Aggregate.Event)
)
"""Every event of a lead's assignment stream (which of them matter is decided per event)."""
ASSIGNMENT_TOPICS = frozenset(stored_topics(ASSIGNMENT_EVENTS))
RELEASED_TOPICS = frozenset(stored_topics([AssignmentEvent.Released]))
TOPICS = sorted(ASSIGNMENT_TOPICS | set(stored_topics(SELLER_AND_ROSTER_EVENTS)))
"""What the replay reads of the log."""
_KINDS = {"manual": "by_hand", "self": "claimed"}


def by_the_rules(event: Any) -> bool:
    """A decision the rules made (the engine's explanation names its rule set), not a person's,
    not a lead given back to its seller, not a wait while automatic assignment is off."""
    if isinstance(event, AssignmentEvent.Decided) and event.manual:
        return False
    if not isinstance(event, AssignmentEvent.Decided | AssignmentEvent.Waited):
        return False
    return "ruleset_version" in event.explanation


def _owner(seller_id: str | None, team_id: str | None, queue_id: str | None) -> str | None:
    return seller_id or team_id or queue_id


@dataclass
class _Lead:
    """What the replay knows of one lead of the window."""

    lead: dict[str, Any]
    segment: str | None
    arrived_at: datetime
    actual: dict[str, Any] | None = None
    """Its first automatic decision as recorded: owner, seller, rule set version, rule."""
    simulated: dict[str, Any] | None = None
    taking: bool = False
    """The seller of its first automatic decision has yet to record taking it (the simulated
    decision stands in for that)."""
    last_event: str = ""
    reruns: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)


class Replay:
    """The period in log order over private copies, with the simulated first decisions."""

    def __init__(
        self,
        ruleset: dict[str, Any],
        roster: Roster | None,
        holidays: HolidayLists | None,
        sellers: dict[UUID, Seller],
        lead_ids: list[UUID],
    ) -> None:
        self.ruleset = ruleset
        self.roster = roster
        self.holidays = holidays
        self.sellers = sellers
        self.window = set(lead_ids)
        self.window_keys = {str(lead_id): lead_id for lead_id in lead_ids}
        """The window's leads by the text seller events name them with."""
        self.order = lead_ids
        self.leads: dict[UUID, _Lead] = {}
        self.holder: dict[UUID, str] = {}
        """Which seller holds each lead of the window in the simulation."""
        self.open: dict[str, int] = {}
        self.turns: dict[str, tuple[datetime | None, int]] = {}
        """Round robin in the simulation: (last assigned at, last turn) per seller."""
        for seller in sellers.values():
            self._counters_from(seller)
        self._view: list[SellerState] | None = None
        self._position: dict[str, int] = {}
        self._stale: set[str] = set()
        """Sellers whose open leads or round robin changed since the engine last read them."""
        self._rankings: dict[Callable[[SellerState], tuple[Any, ...]], _Ranking] = {}
        self._teams: dict[str, list[str]] | None = None

    # -- sellers, roster, holiday lists: as they happened ---------------------------------

    def seller_event(self, event: Any) -> None:
        if isinstance(event, RosterEvent.Event):
            self.roster = event.mutate(self.roster)
            self._view = self._teams = None
            return
        if isinstance(event, HolidaysEvent.Event):
            self.holidays = event.mutate(self.holidays)
            self._view = None
            return
        aggregate_id = event.originator_id
        seller = self.sellers.get(aggregate_id)
        if seller is None:
            seller = self.sellers[aggregate_id] = event.mutate(None)  # registered in the window
            self._counters_from(seller)
            self._view = None
            return
        seller_id = seller.seller_id
        if isinstance(event, SellerEvent.LeadTaken):
            lead_id = self.window_keys.get(event.lead_id)
            lead = self.leads.get(lead_id) if lead_id is not None else None
            if lead is not None and lead.taking:
                lead.taking = False  # the simulated first decision was counted instead
                return
            if lead_id is not None:
                self._hold(lead_id, seller_id)
            else:
                self.open[seller_id] += 1
            _, turn = self.turns[seller_id]
            self.turns[seller_id] = (event.at, max(turn, event.turn))
            self._stale.add(seller_id)
        elif isinstance(event, SellerEvent.LeadReleased):
            lead_id = self.window_keys.get(event.lead_id)
            if lead_id is not None:
                self._hold(lead_id, None)
            else:
                self.open[seller_id] = max(0, self.open[seller_id] - 1)
                self._stale.add(seller_id)
        else:
            # The replay counts open leads and turns itself (above): the seller's copy follows
            # only the rest (its profile), so its version lags and the event is applied unchecked.
            event.apply(seller)
            self._view = None  # the seller's whole state is read again

    def _counters_from(self, seller: Seller) -> None:
        self.open[seller.seller_id] = seller.open_count
        self.turns[seller.seller_id] = (seller.last_assigned_at, seller.last_turn)

    # -- the leads of the window ------------------------------------------------------------

    def lead_event(self, event: Any) -> None:
        lead_id = event.originator_id
        if isinstance(event, AssignmentEvent.Opened):
            self.leads[lead_id] = _Lead(dict(event.lead), event.segment, event.arrived_at)
            return
        lead = self.leads.get(lead_id)
        if lead is None:
            return
        if isinstance(event, AssignmentEvent.Decided | AssignmentEvent.Waited):
            if lead.actual is None and by_the_rules(event):
                self._first_decision(lead_id, lead, event)
            else:
                self._later_decision(lead_id, lead, event)
        elif isinstance(event, AssignmentEvent.LeadChanged) and lead.actual is None:
            lead.lead = dict(event.lead)
        elif isinstance(event, AssignmentEvent.SegmentChanged) and lead.actual is None:
            lead.segment = event.segment
        lead.last_event = type(event).__name__

    def released(self, lead_id: UUID) -> None:
        """The lead was recycled or closed: whoever held it in the simulation lets it go. (Which of
        the two does not matter: only a recycled lead is decided again, unless reopened first.)"""
        lead = self.leads.get(lead_id)
        if lead is not None:
            self._hold(lead_id, None)
            lead.last_event = "Released"

    def _first_decision(self, lead_id: UUID, lead: _Lead, event: Any) -> None:
        decided = isinstance(event, AssignmentEvent.Decided)
        seller_id, team_id = (event.seller_id, event.team_id) if decided else (None, None)
        lead.actual = {
            "owner": _owner(seller_id, team_id, None if decided else event.queue_id),
            "seller_id": seller_id,
            "at": (event.decided_at if decided else event.since).isoformat(),
            "ruleset_version": event.explanation["ruleset_version"],
            "rule": (event.explanation.get("rule") or {}).get("name"),
        }
        lead.taking = seller_id is not None
        now = event.decided_at if decided else event.since
        decision = choose_owner_outcome(
            lead=lead.lead,
            segment=lead.segment,
            ruleset=self.ruleset,
            sellers=self._engine_view(),
            teams=self._team_members(),
            now=now,
            exclude=frozenset(event.explanation.get("excluded_sellers", [])),
            ranked=self._ranked,
        )
        lead.simulated = {
            "owner": _owner(decision.seller_id, decision.team_id, decision.queue_id),
            "seller_id": decision.seller_id,
            "rule": (decision.explanation.get("rule") or {}).get("name"),
        }
        self._hold(lead_id, decision.seller_id)
        if decision.seller_id is not None:
            _, turn = self.turns[decision.seller_id]
            self.turns[decision.seller_id] = (now, max(turn, decision.turn))

    def _later_decision(self, lead_id: UUID, lead: _Lead, event: Any) -> None:
        """A person's decision, or the rules' again: the lead goes where it really went."""
        decided = isinstance(event, AssignmentEvent.Decided)
        if decided and event.manual:
            lead.manual.append(_KINDS.get(event.method, event.method))
        elif decided or by_the_rules(event):  # the rules again, or a reopened lead given back
            lead.reruns.append({"Released": "recycled", "Reopened": "reopened"}.get(lead.last_event, "queue"))
        # (a wait while automatic assignment is off is neither)
        self._hold(lead_id, event.seller_id if decided else None)

    # -- the simulated sellers ------------------------------------------------------------

    def _hold(self, lead_id: UUID, seller_id: str | None) -> None:
        previous = self.holder.pop(lead_id, None)
        if previous == seller_id:
            if seller_id is not None:
                self.holder[lead_id] = seller_id
            return
        if previous is not None:
            self.open[previous] = max(0, self.open[previous] - 1)
            self._stale.add(previous)
        if seller_id is not None:
            self.holder[lead_id] = seller_id
            self.open[seller_id] = self.open.get(seller_id, 0) + 1
            self._stale.add(seller_id)

    def _engine_view(self) -> list[SellerState]:
        """Every seller as the engine reads them (the seller views' construction), with the
        simulation's open leads and round robin."""
        if self._view is not None:
            for seller_id in self._stale:
                position = self._position.get(seller_id)
                if position is not None:
                    last_assigned_at, last_turn = self.turns[seller_id]
                    before = self._view[position]
                    self._view[position] = dataclasses.replace(
                        before,
                        open_count=self.open[seller_id],
                        last_assigned_at=last_assigned_at,
                        last_turn=last_turn,
                    )
                    for ranking in self._rankings.values():
                        ranking.replace(before, self._view[position])
            self._stale.clear()
        else:
            self._stale.clear()
            self._rankings = {}
            order = self.roster.order if self.roster is not None else []
            by_id = {s.seller_id: s for s in self.sellers.values()}
            self._view, self._position = [], {}
            for join_index, seller_id in enumerate(order):
                seller = by_id.get(seller_id)
                if seller is None:
                    continue
                lists = self.holidays
                holidays = lists.holidays_of(seller.holiday_list) if lists is not None else NO_HOLIDAYS
                state = seller.state(join_index, self.roster.teams_of(seller_id), holidays)  # type: ignore[union-attr]
                last_assigned_at, last_turn = self.turns[seller_id]
                self._position[seller_id] = len(self._view)
                self._view.append(
                    dataclasses.replace(
                        state, open_count=self.open[seller_id], last_assigned_at=last_assigned_at, last_turn=last_turn
                    )
                )
        return self._view

    def _ranked(self, method: str) -> Iterable[SellerState]:
        """The engine view best first for `method`: ranked once, then kept in order."""
        key = ranking_key(method)
        if key not in self._rankings:
            self._rankings[key] = _Ranking(key, self._engine_view())
        return self._rankings[key]

    def _team_members(self) -> dict[str, list[str]]:
        if self._teams is None:
            teams = self.roster.teams if self.roster is not None else {}
            self._teams = {team_id: list(team["members"]) for team_id, team in teams.items()}
        return self._teams

    # -- the answer -----------------------------------------------------------------------

    def report(self, window: dict[str, Any]) -> dict[str, Any]:
        compared = [(lead_id, self.leads[lead_id]) for lead_id in self.order if lead_id in self.leads]
        decided = [
            (lead_id, lead.actual, lead.simulated)
            for lead_id, lead in compared
            if lead.actual is not None and lead.simulated is not None
        ]
        per_seller: dict[str, dict[str, int]] = {}
        for _, actual, simulated in decided:
            for side, outcome in (("actual", actual), ("simulated", simulated)):
                if outcome["seller_id"] is not None:
                    per_seller.setdefault(outcome["seller_id"], {"simulated": 0, "actual": 0})[side] += 1
        different = [(lead_id, a, s) for lead_id, a, s in decided if a["owner"] != s["owner"]]
        arrivals = [lead.arrived_at for _, lead in compared]
        return {
            "ruleset_version": self.ruleset["version"],
            "ruleset_name": self.ruleset["name"],
            "window": window,
            "period": {"from": min(arrivals).isoformat(), "to": max(arrivals).isoformat()} if arrivals else None,
            "compared": "each lead's first automatic decision",
            "leads": len(decided),
            "decided_under": dict(Counter(str(a["ruleset_version"]) for _, a, _ in decided)),
            "per_seller": dict(sorted(per_seller.items())),
            "unassigned": {
                "simulated": sum(1 for _, _, s in decided if s["owner"] is None),
                "actual": sum(1 for _, a, _ in decided if a["owner"] is None),
            },
            "different_owner": len(different),
            "rules_matched": dict(Counter(s["rule"] or "(no rule matched)" for _, _, s in decided)),
            "changes": [
                {
                    "lead_id": str(lead_id),
                    "decided_at": a["at"],
                    "actual": a["owner"],
                    "simulated": s["owner"],
                    "actual_rule": a["rule"],
                    "simulated_rule": s["rule"],
                }
                for lead_id, a, s in different[:LISTED]
            ],
            "reruns": _listed(compared, "reruns"),
            "manual_changes": _listed(compared, "manual"),
            "not_compared": {
                "count": len(compared) - len(decided),
                "lead_ids": [str(lead_id) for lead_id, lead in compared if lead.actual is None][:LISTED],
            },
        }


class _Ranking:
    """Sellers best first by one ranking key; a changed seller moves to its new place."""

    def __init__(self, key: Callable[[SellerState], tuple[Any, ...]], sellers: Iterable[SellerState]) -> None:
        self._key = key
        self._entries = sorted(((key(s), s) for s in sellers), key=_rank)
        self._keys = {s.seller_id: k for k, s in self._entries}

    def replace(self, before: SellerState, after: SellerState) -> None:
        entries, key = self._entries, self._key(after)
        del entries[bisect_left(entries, self._keys[before.seller_id], key=_rank)]
        insort(entries, (key, after), key=_rank)
        self._keys[after.seller_id] = key

    def __iter__(self) -> Iterator[SellerState]:
        return map(_seller, self._entries)


_rank = itemgetter(0)
_seller = itemgetter(1)


def _listed(leads: list[tuple[UUID, _Lead]], kind: str) -> dict[str, Any]:
    """Leads of the window with later decisions of this kind: how many leads, how many
    decisions of each kind, and the first lead ids."""
    having = [(lead_id, getattr(lead, kind)) for lead_id, lead in leads if getattr(lead, kind)]
    return {
        "count": len(having),
        "decisions": dict(Counter(k for _, kinds in having for k in kinds)),
        "lead_ids": [str(lead_id) for lead_id, _ in having][:LISTED],
    }
