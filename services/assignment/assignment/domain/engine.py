"""The assignment decision: a pure function of (lead, segment, rule set version, seller
state, round-robin state, clock). Replaying the same inputs gives the same decision and the
same explanation, which is what makes the explanation trustworthy and what-if possible."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .criteria import lead_fact, matches
from .schedule import availability
from .sellers import SellerState

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

REASONS = (
    "inactive",
    "not_accepting_assignments",
    "attribute_mismatch",
    "previous_owner",
    "capacity_full",
    "out_of_office",
    "outside_hours",
)
"""Every reason a candidate can be excluded for, in the order they are checked."""


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
    )
    if blocked is not None:
        reasons.append(blocked)
    return reasons, available_at


def _candidate(seller: SellerState, reasons: list[str], available_at: datetime | None, now: datetime) -> dict[str, Any]:
    return {
        "seller_id": seller.seller_id,
        "eligible": not reasons,
        "reasons": reasons,
        "open_leads": seller.open_count,
        "capacity": seller.capacity,
        "last_assigned_at": seller.last_assigned_iso,
        "turn": seller.last_turn,
        "available_from": available_at.isoformat() if available_at is not None and available_at > now else None,
    }


def choose_owner(
    *,
    lead: Mapping[str, Any],
    segment: str | None,
    ruleset: Mapping[str, Any],
    sellers: Sequence[SellerState],
    teams: Mapping[str, Sequence[str]],
    now: datetime,
    exclude: frozenset[str] = frozenset(),
) -> Decision:
    """Walk the rules in order; the first that matches decides (or sends the lead to wait)."""
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
    for index, candidate_rule in enumerate(ruleset["rules"]):
        wanted_segment = candidate_rule.get("segment")
        if wanted_segment is not None and wanted_segment != segment:
            explanation["rules_skipped"].append(
                {"rule": candidate_rule["name"], "why": f"wants segment {wanted_segment}, lead is in {segment}"}
            )
            continue
        if not matches(candidate_rule.get("conditions"), lambda f: lead_fact(lead, f)):
            explanation["rules_skipped"].append({"rule": candidate_rule["name"], "why": "conditions not met"})
            continue
        rule = candidate_rule
        explanation["rule"] = {"index": index, "name": candidate_rule["name"]}
        break
    if rule is None:
        return _waiting("no rule matched", explanation)

    target, method = rule["target"], rule["method"]
    explanation.update(target=dict(target), method=method)
    by_id = {s.seller_id: s for s in sellers}
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
        scope = [by_id[target["seller_id"]]] if target["seller_id"] in by_id else []
    elif team_id is not None:
        scope = [by_id[m] for m in teams[team_id] if m in by_id]
    else:
        scope = list(sellers)

    candidates, eligible = [], []
    for seller in scope:
        reasons, available_at = _exclusions(seller, rule, lead, now, exclude)
        candidates.append(_candidate(seller, reasons, available_at, now))
        if not reasons:
            eligible.append(seller)
    explanation["candidates"] = candidates
    if not eligible:
        counts = Counter(r for c in candidates for r in c["reasons"])
        summary = ", ".join(f"{reason} {counts[reason]}" for reason in REASONS if counts[reason])
        return _waiting(f"rule {rule['name']}: no eligible seller ({summary or 'no candidates'})", explanation)

    if method == "load_balancing":
        ranked = sorted(eligible, key=lambda s: (-_remaining(s), round_robin_key(s)))
        rank_key = "most remaining capacity, then longest wait since last assignment"
    else:
        ranked = sorted(eligible, key=round_robin_key)
        rank_key = "longest wait since last assignment (last_assigned_at, turn, join order)"
    chosen = ranked[0]
    explanation["tie_break"] = {
        "method": method,
        "key": rank_key if method != "direct" else "the named seller",
        "ranking": [s.seller_id for s in ranked],
        "winner": chosen.seller_id,
    }
    explanation["outcome"] = "seller"
    turn = max((s.last_turn for s in sellers), default=0) + 1
    return Decision("seller", method, seller_id=chosen.seller_id, team_id=team_id, turn=turn, explanation=explanation)


def _waiting(reason: str, explanation: dict[str, Any]) -> Decision:
    explanation["outcome"] = "waiting"
    explanation["reason"] = reason
    return Decision("waiting", "none", reason=reason, explanation=explanation)
