"""Views of assignment's state for the API: sellers, the roster, one lead's decisions, the load report."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from ..domain import Assignment, Roster, Seller, SellerState, seller_uuid
from .assignments import AssignmentQueries


def fairness(stats: dict[str, Counter[str]]) -> dict[str, Any]:
    """Spread of assignments among the sellers that were eligible under one rule.

    `spread` is max - min assignments over those sellers (0 is perfectly even);
    `jain_index` is (Σx)² / (n·Σx²), 1.0 when even, 1/n when one seller got everything.
    """
    sellers = sorted(set(stats["eligible"]) | set(stats["assigned"]))
    counts = [stats["assigned"][s] for s in sellers]
    total, squares = sum(counts), sum(c * c for c in counts)
    return {
        "assigned": dict(sorted(stats["assigned"].items())),
        "eligible_sellers": len(sellers),
        "decisions": total,
        "spread": (max(counts) - min(counts)) if counts else 0,
        "jain_index": round(total * total / (len(counts) * squares), 4) if squares else None,
    }


def load_report(sellers: list[Seller], queries: AssignmentQueries, now: datetime) -> dict[str, Any]:
    last_day = queries.assigned_since(now - timedelta(hours=24))
    last_week = queries.assigned_since(now - timedelta(days=7))
    rows = []
    for seller in sellers:
        key = str(seller_uuid(seller.seller_id))
        capacity = seller.profile["capacity"]
        rows.append(
            {
                "seller_id": seller.seller_id,
                "name": seller.profile["name"],
                "open_leads": seller.open_count,
                "capacity": capacity,
                "remaining_capacity": None if capacity is None else max(0, capacity - seller.open_count),
                "assigned_last_24h": last_day[key],
                "assigned_last_7d": last_week[key],
                "last_assigned_at": seller.last_assigned_at.isoformat() if seller.last_assigned_at else None,
            }
        )
    return {
        "as_of": now.isoformat(),
        "sellers": rows,
        "fairness": [
            {"ruleset_version": version, "rule": rule, **fairness(stats)}
            for (version, rule), stats in sorted(queries.rule_stats().items())
        ],
    }


def seller_view(state: SellerState, seller: Seller) -> dict[str, Any]:
    return {
        "seller_id": state.seller_id,
        **seller.profile,
        "holiday_list": seller.holiday_list,
        "teams": list(state.teams),
        "open_leads": state.open_count,
        "last_assigned_at": state.last_assigned_at.isoformat() if state.last_assigned_at else None,
    }


def roster_view(roster: Roster, sellers: list[SellerState]) -> list[dict[str, Any]]:
    return [
        {
            "seller_id": s.seller_id,
            "name": s.name,
            "teams": list(s.teams),
            "active": s.active,
            "accepts_assignments": s.accepts_assignments,
            "capacity": s.capacity,
            "open_leads": s.open_count,
        }
        for s in sellers
    ]


def assignment_view(assignment: Assignment) -> dict[str, Any]:
    """The current owner, and every decision in the lead's history with its explanation."""
    return {
        "lead_id": str(assignment.lead_id),
        "status": assignment.status,
        "seller_id": assignment.seller_id,
        "team_id": assignment.team_id,
        "queue_id": assignment.queue_id,
        "method": assignment.method,
        "segment": assignment.segment,
        "decided_at": assignment.decided_at.isoformat() if assignment.decided_at else None,
        "waiting_reason": assignment.waiting_reason,
        "waiting_since": assignment.waiting_since.isoformat() if assignment.waiting_since else None,
        "history": [{**entry, "at": entry["at"].isoformat()} for entry in assignment.history],
    }
