"""The assignment decision: a pure function of (lead, segment, rule set version, seller
state, round-robin state, clock). Replaying the same inputs gives the same decision and the
same explanation, which is what makes the explanation trustworthy and what-if possible."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from .criteria import lead_fact, matches
from .schedule import availability, on_holiday
from .sellers import SellerState

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

REASONS = (
    "inactive",
    "not_accepting_assignments",
    "attribute_mismatch",
    "previous_owner",
    "capacity_full",
    "out_of_office",
    "holiday",
    "outside_hours",
)
"""Every reason a candidate can be excluded for, in the order they are checked."""


TOP_RANKED = 10
"""How many of the ranking a decision records (with each one's standing)."""
ELIGIBLE_RECORDED = 100
"""Eligible sellers named in a decision (fairness reports count them); beyond that, a count."""
RULES_SKIPPED_RECORDED = 20
_last_turn = attrgetter("last_turn")


@dataclass(frozen=True)
class Decision:
    outcome: str
    """"seller" (with team_id when the rule targeted a team), "team", "queue" or "waiting"."""
    method: str
    seller_id: str | None = None
    team_id: str | None = None
    queue_id: str | None = None
    reason: str | None = None
    turn: int = 0
    explanation: dict[str, Any] = field(default_factory=dict)
    """What the decision event records: small whatever the roster's size."""
    candidates: list[dict[str, Any]] = field(default_factory=list, compare=False)
    """Every candidate and why it was or was not eligible: recomputed on demand, never stored."""


def round_robin_key(seller: SellerState) -> tuple[Any, ...]:
    """Longest wait first: never assigned, then the oldest last assignment; equal times fall
    back to the round-robin turn, then the order sellers joined."""
    assigned = seller.last_assigned_at
    return (assigned is not None, assigned or EPOCH, seller.last_turn, seller.join_index, seller.seller_id)


def _remaining(seller: SellerState) -> float:
    return float("inf") if seller.capacity is None else seller.capacity - seller.open_count


def _exclusions(
    seller: SellerState, rule: Mapping[str, Any], lead: Mapping[str, Any], now: datetime, exclude: frozenset[str]
) -> tuple[list[str], datetime | None]:
    reasons = []
    if not seller.active:
        reasons.append("inactive")
    if not seller.accepts_assignments:
        reasons.append("not_accepting_assignments")
    conditions = rule["target"].get("seller_conditions")
    if conditions is not None and not matches(conditions, seller.field, lead):
        reasons.append("attribute_mismatch")
    if seller.seller_id in exclude:
        reasons.append("previous_owner")
    if seller.capacity is not None and seller.open_count >= seller.capacity:
        reasons.append("capacity_full")
    blocked, available_at = availability(
        seller.working_hours,
        seller.time_zone,
        seller.out_of_office,
        now,
        rule.get("available_within_hours"),
        seller.week,
        seller.holidays,
    )
    if blocked is not None:
        reasons.append(blocked)
    return reasons, available_at


def _standing(seller: SellerState) -> dict[str, Any]:
    return {
        "seller_id": seller.seller_id,
        "open_leads": seller.open_count,
        "capacity": seller.capacity,
        "last_assigned_at": seller.last_assigned_iso,
        "turn": seller.last_turn,
    }


def _candidate(seller: SellerState, reasons: list[str], available_at: datetime | None, now: datetime) -> dict[str, Any]:
    candidate = {
        **_standing(seller),
        "eligible": not reasons,
        "reasons": reasons,
        "available_from": available_at.isoformat() if available_at is not None and available_at > now else None,
    }
    if "holiday" in reasons:
        candidate["holiday"] = {
            "list": seller.holiday_list,
            "name": on_holiday(seller.working_hours, seller.time_zone, now, seller.holidays),
        }
    return candidate


def choose_owner(
    *,
    lead: Mapping[str, Any],
    segment: str | None,
    ruleset: Mapping[str, Any],
    sellers: Sequence[SellerState],
    teams: Mapping[str, Sequence[str]],
    now: datetime,
    exclude: frozenset[str] = frozenset(),
    with_candidates: bool = False,
) -> Decision:
    """Walk the rules in order; the first that matches decides (or sends the lead to wait).

    The explanation names the rule set and rule, the rules skipped and why, how many sellers
    were considered, how many were excluded for each reason, the eligible sellers, the top of
    the ranking with each one's standing, and the winner. `with_candidates` also lists every
    candidate with its reasons (for `?full=true`; never stored).
    """
    explanation: dict[str, Any] = {
        "ruleset_version": ruleset["version"],
        "ruleset_name": ruleset["name"],
        "segment": segment,
        "rule": None,
        "rules_skipped": [],
        "excluded_sellers": sorted(exclude),
        "decided_at": now.isoformat(),
    }
    rule: Mapping[str, Any] | None = None
    skipped = 0
    for index, candidate_rule in enumerate(ruleset["rules"]):
        wanted_segment = candidate_rule.get("segment")
        if wanted_segment is not None and wanted_segment != segment:
            why = f"wants segment {wanted_segment}, lead is in {segment}"
        elif not matches(candidate_rule.get("conditions"), lambda f: lead_fact(lead, f)):
            why = "conditions not met"
        else:
            rule = candidate_rule
            explanation["rule"] = {"index": index, "name": candidate_rule["name"]}
            break
        skipped += 1
        if skipped <= RULES_SKIPPED_RECORDED:
            explanation["rules_skipped"].append({"rule": candidate_rule["name"], "why": why})
    if skipped > RULES_SKIPPED_RECORDED:
        explanation["rules_skipped_count"] = skipped
    if rule is None:
        return _waiting("no rule matched", explanation)

    target, method = rule["target"], rule["method"]
    explanation.update(
        target={k: target.get(k) for k in ("kind", "team_id", "seller_id", "queue_id") if target.get(k) is not None},
        method=method,
    )
    team_id = target.get("team_id") if target["kind"] == "team" else None

    if target["kind"] == "queue":
        explanation["outcome"] = "queue"
        return Decision(
            "queue",
            "queue",
            queue_id=target["queue_id"],
            reason=f"routed to queue {target['queue_id']}",
            explanation=explanation,
        )
    if team_id is not None and team_id not in teams:
        return _waiting(f"rule {rule['name']}: unknown team {team_id}", explanation)
    if team_id is not None and method == "direct":
        explanation["outcome"] = "team"
        return Decision("team", "direct", team_id=team_id, explanation=explanation)

    if target["kind"] == "seller":
        scope = [s for s in sellers if s.seller_id == target["seller_id"]]
    elif team_id is not None:
        members = set(teams[team_id])
        scope = [s for s in sellers if s.seller_id in members]
    else:
        scope = list(sellers)

    candidates: list[dict[str, Any]] = []
    eligible: list[SellerState] = []
    excluded: Counter[str] = Counter()
    for seller in scope:
        reasons, available_at = _exclusions(seller, rule, lead, now, exclude)
        excluded.update(reasons)
        if with_candidates:
            candidates.append(_candidate(seller, reasons, available_at, now))
        if not reasons:
            eligible.append(seller)
    explanation["considered"] = len(scope)
    explanation["exclusions"] = {reason: excluded[reason] for reason in REASONS if excluded[reason]}
    explanation["eligible"] = sorted(s.seller_id for s in eligible[:ELIGIBLE_RECORDED])
    if len(eligible) > ELIGIBLE_RECORDED:
        explanation["eligible_count"] = len(eligible)
    if not eligible:
        summary = ", ".join(f"{reason} {excluded[reason]}" for reason in REASONS if excluded[reason])
        return _waiting(
            f"rule {rule['name']}: no eligible seller ({summary or 'no candidates'})", explanation, candidates
        )

    if method == "load_balancing":
        top = heapq.nsmallest(TOP_RANKED, eligible, key=lambda s: (-_remaining(s), round_robin_key(s)))
        rank_key = "most remaining capacity, then longest wait since last assignment"
    else:
        top = heapq.nsmallest(TOP_RANKED, eligible, key=round_robin_key)
        rank_key = "longest wait since last assignment (last_assigned_at, turn, join order)"
    chosen = top[0]
    explanation["tie_break"] = {
        "method": method,
        "key": rank_key if method != "direct" else "the named seller",
        "top": [_standing(s) for s in top],
        "winner": chosen.seller_id,
    }
    explanation["outcome"] = "seller"
    turn = max((s.last_turn for s in sellers), default=0) + 1
    return Decision(
        "seller",
        method,
        seller_id=chosen.seller_id,
        team_id=team_id,
        turn=turn,
        explanation=explanation,
        candidates=candidates,
    )


def _waiting(reason: str, explanation: dict[str, Any], candidates: list[dict[str, Any]] | None = None) -> Decision:
    explanation["outcome"] = "waiting"
    explanation["reason"] = reason
    return Decision("waiting", "none", reason=reason, explanation=explanation, candidates=candidates or [])


def load_balancing_key(seller: SellerState) -> tuple[Any, ...]:
    """Most remaining capacity first, then round robin's order (as `choose_owner` ranks)."""
    return (-_remaining(seller), *round_robin_key(seller))


def ranking_key(method: str) -> Callable[[SellerState], tuple[Any, ...]]:
    """How a rule's method ranks eligible sellers (best first, no two keys equal)."""
    return load_balancing_key if method == "load_balancing" else round_robin_key


def choose_owner_outcome(
    *,
    lead: Mapping[str, Any],
    segment: str | None,
    ruleset: Mapping[str, Any],
    sellers: Sequence[SellerState],
    teams: Mapping[str, Sequence[str]],
    now: datetime,
    exclude: frozenset[str] = frozenset(),
    ranked: Callable[[str], Iterable[SellerState]] | None = None,
) -> Decision:
    """The owner `choose_owner` would choose — outcome, seller, team, queue, turn, and the rule
    (`explanation["rule"]`) — without the rest of its explanation, for replays of many leads.

    The sellers in scope are tried best first and the first eligible one wins: the one
    `choose_owner` ranks first among all eligible sellers, as ranking keys never tie (they end
    with the seller's id). Eligibility is `choose_owner`'s own check. `ranked(method)`, if given,
    yields `sellers` already in `ranking_key(method)` order (a replay keeps that order as sellers
    change, instead of ranking them all again for every lead).
    """
    rule: Mapping[str, Any] | None = None
    index = 0
    for index, candidate_rule in enumerate(ruleset["rules"]):  # noqa: B007 (the index names the rule)
        wanted_segment = candidate_rule.get("segment")
        if (wanted_segment is None or wanted_segment == segment) and matches(
            candidate_rule.get("conditions"), lambda f: lead_fact(lead, f)
        ):
            rule = candidate_rule
            break
    if rule is None:
        return Decision("waiting", "none", reason="no rule matched", explanation={"rule": None})
    explanation = {"rule": {"index": index, "name": rule["name"]}}
    target, method = rule["target"], rule["method"]
    team_id = target.get("team_id") if target["kind"] == "team" else None
    if target["kind"] == "queue":
        return Decision("queue", "queue", queue_id=target["queue_id"], explanation=explanation)
    if team_id is not None and team_id not in teams:
        return Decision("waiting", "none", reason=f"unknown team {team_id}", explanation=explanation)
    if team_id is not None and method == "direct":
        return Decision("team", "direct", team_id=team_id, explanation=explanation)
    if target["kind"] == "seller":
        scope: Collection[str] | None = {target["seller_id"]}
    elif team_id is not None:
        scope = set(teams[team_id])
    else:
        scope = None
    conditions = target.get("seller_conditions")
    for seller in _best_first(ranked(method) if ranked is not None else None, sellers, scope, exclude, method):
        if conditions is not None and not matches(conditions, seller.field, lead):
            continue  # attribute mismatch: quicker to see than all of `_exclusions`
        if not _exclusions(seller, rule, lead, now, exclude)[0]:
            turn = max(map(_last_turn, sellers), default=0) + 1
            return Decision(
                "seller", method, seller_id=seller.seller_id, team_id=team_id, turn=turn, explanation=explanation
            )
    return Decision("waiting", "none", reason=f"rule {rule['name']}: no eligible seller", explanation=explanation)


def _best_first(
    ranked: Iterable[SellerState] | None,
    sellers: Sequence[SellerState],
    scope: Collection[str] | None,
    exclude: frozenset[str],
    method: str,
) -> Iterator[SellerState]:
    """The sellers in scope that no cheap reason excludes (inactive, not accepting, excluded,
    full), best first; `_exclusions` has the last word on each."""
    candidates = (
        s
        for s in (ranked if ranked is not None else sellers)
        if (scope is None or s.seller_id in scope)
        and s.active
        and s.accepts_assignments
        and s.seller_id not in exclude
        and (s.capacity is None or s.open_count < s.capacity)
    )
    if ranked is not None:
        yield from candidates
        return
    key = ranking_key(method)
    heap = [(key(s), s) for s in candidates]  # ranked lazily: usually the first one or two are eligible
    heapq.heapify(heap)
    while heap:
        yield heapq.heappop(heap)[1]
