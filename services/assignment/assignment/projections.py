"""Read-side shapes of assignment. The first slice reads aggregates directly."""

from __future__ import annotations

from typing import Any

from .domain import Assignment, Roster


def assignment_view(assignment: Assignment) -> dict[str, Any]:
    return {
        "lead_id": str(assignment.lead_id),
        "seller_id": assignment.seller_id,
        "method": assignment.method,
        "decided_at": assignment.decided_at.isoformat() if assignment.decided_at else None,
        "waiting_reason": assignment.waiting_reason,
    }


def roster_view(roster: Roster) -> list[dict[str, Any]]:
    return [{"seller_id": s, "name": roster.sellers[s]["name"]} for s in roster.order]
