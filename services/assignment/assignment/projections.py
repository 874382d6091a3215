"""Read models of assignment, folded from the service's own notification log.

`AssignmentReadModel` catches up on read: it keeps its position in the log and folds only
what is new, so it costs nothing to drop and rebuild (a new process simply starts at 1).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from .domain import Assignment, Roster, Seller, SellerState

if TYPE_CHECKING:
    from .application import AssignmentApplication

_ASSIGNMENT_TOPIC_PREFIX = Assignment.__module__ + ":Assignment."


class AssignmentReadModel:
    """Leads in arrival order with segment, status and owner; per-rule decision counts."""

    page_size = 1000

    def __init__(self) -> None:
        self.position = 0
        self.leads: dict[UUID, dict[str, Any]] = {}
        self.rules: dict[tuple[int, str], dict[str, Counter[str]]] = defaultdict(
            lambda: {"assigned": Counter(), "eligible": Counter()}
        )

    def catch_up(self, app: AssignmentApplication) -> None:
        while True:
            notifications = app.recorder.select_notifications(self.position + 1, self.page_size)
            for notification in notifications:
                if notification.topic.startswith(_ASSIGNMENT_TOPIC_PREFIX):
                    self.fold(app.mapper.to_domain_event(notification))
                self.position = notification.id
            if len(notifications) < self.page_size:
                return

    def fold(self, event: Any) -> None:
        lead_id = event.originator_id
        if isinstance(event, Assignment.Opened):
            self.leads[lead_id] = {
                "lead_id": str(lead_id),
                "lead": event.lead,
                "segment": event.segment,
                "arrived_at": event.arrived_at,
                "status": "new",
                "seller_id": None,
                "team_id": None,
                "queue_id": None,
                "waiting_reason": None,
                "arrival": len(self.leads),
            }
            return
        row = self.leads.get(lead_id)
        if row is None:
            return
        if isinstance(event, Assignment.LeadChanged):
            row["lead"] = event.lead
        elif isinstance(event, Assignment.SegmentChanged):
            row["segment"] = event.segment
        elif isinstance(event, Assignment.Decided):
            row.update(status="assigned", seller_id=event.seller_id, team_id=event.team_id, queue_id=None)
            row["waiting_reason"] = None
            self._count(event.explanation, event.seller_id)
        elif isinstance(event, Assignment.Waited):
            row.update(status="waiting", seller_id=None, team_id=None, queue_id=event.queue_id)
            row["waiting_reason"] = event.reason
            self._count(event.explanation, None)
        elif isinstance(event, Assignment.Released):
            row.update(status="closed" if event.closed else "released", seller_id=None, team_id=None, queue_id=None)

    def _count(self, explanation: dict[str, Any], seller_id: str | None) -> None:
        rule = explanation.get("rule")
        if rule is None:
            return
        stats = self.rules[(explanation["ruleset_version"], rule["name"])]
        for candidate in explanation.get("candidates", []):
            if candidate["eligible"]:
                stats["eligible"][candidate["seller_id"]] += 1
        if seller_id is not None:
            stats["assigned"][seller_id] += 1

    def leads_in_order(self) -> list[dict[str, Any]]:
        return sorted(self.leads.values(), key=lambda row: row["arrival"])

    def waiting_in_arrival_order(self) -> list[UUID]:
        return [
            UUID(row["lead_id"])
            for row in self.leads_in_order()
            if row["status"] == "waiting" and row["queue_id"] is None
        ]

    def queue(self) -> list[dict[str, Any]]:
        return [
            {k: row[k] for k in ("lead_id", "segment", "arrived_at", "queue_id", "waiting_reason")}
            for row in self.leads_in_order()
            if row["status"] == "waiting"
        ]


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


def load_report(sellers: list[Seller], read_model: AssignmentReadModel, now: datetime) -> dict[str, Any]:
    day, week = now - timedelta(hours=24), now - timedelta(days=7)
    return {
        "as_of": now.isoformat(),
        "sellers": [
            {
                "seller_id": s.seller_id,
                "name": s.profile["name"],
                "open_leads": len(s.open_leads),
                "capacity": s.profile["capacity"],
                "remaining_capacity": None
                if s.profile["capacity"] is None
                else max(0, s.profile["capacity"] - len(s.open_leads)),
                "assigned_last_24h": sum(1 for t in s.recent if day < t <= now),
                "assigned_last_7d": sum(1 for t in s.recent if week < t <= now),
                "last_assigned_at": s.last_assigned_at.isoformat() if s.last_assigned_at else None,
            }
            for s in sellers
        ],
        "fairness": [
            {"ruleset_version": version, "rule": rule, **fairness(stats)}
            for (version, rule), stats in sorted(read_model.rules.items())
        ],
    }


def seller_view(state: SellerState, seller: Seller) -> dict[str, Any]:
    return {
        "seller_id": state.seller_id,
        **seller.profile,
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
