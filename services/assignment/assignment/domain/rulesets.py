"""Versioned rule sets: an ordered list of rules, first match wins; drafted, revised, then
activated, and the previously active version stays in the book, retired."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .criteria import InvalidCriteria, check_criteria

RULEBOOK_ID = uuid5(NAMESPACE_URL, "leadflow:assignment:rulebook")

METHODS = ("round_robin", "load_balancing", "direct")
TARGET_KINDS = ("sellers", "team", "seller", "queue")

DEFAULT_RULESET: dict[str, Any] = {
    "version": 0,
    "name": "built-in default",
    "status": "active",
    "rules": [
        {
            "name": "everyone, round robin",
            "segment": None,
            "conditions": None,
            "target": {"kind": "sellers", "seller_conditions": None},
            "method": "round_robin",
            "available_within_hours": None,
        }
    ],
}
"""Used until a rule set is activated: every lead goes round robin to every seller."""


class RuleError(Exception):
    """A rule-set or segment command broke a rule."""


class InvalidRuleSet(RuleError, ValueError):
    pass


class RuleSetNotFound(RuleError, LookupError):
    def __init__(self, version: int) -> None:
        super().__init__(f"no rule set version {version}")
        self.version = version


class RuleSetNotDraft(RuleError):
    def __init__(self, version: int, status: str) -> None:
        super().__init__(f"rule set version {version} is {status}, not a draft")


def check_rules(rules: list[dict[str, Any]]) -> None:
    names = [r.get("name") for r in rules]
    if len(set(names)) != len(names):
        raise InvalidRuleSet("rule names are unique within a rule set")
    for rule in rules:
        target = rule.get("target") or {}
        kind, method = target.get("kind"), rule.get("method")
        if kind not in TARGET_KINDS:
            raise InvalidRuleSet(f"rule {rule.get('name')!r}: target kind must be one of {', '.join(TARGET_KINDS)}")
        if method not in METHODS:
            raise InvalidRuleSet(f"rule {rule.get('name')!r}: method must be one of {', '.join(METHODS)}")
        if kind == "seller" and not target.get("seller_id"):
            raise InvalidRuleSet(f"rule {rule['name']!r}: a seller target names seller_id")
        if kind == "team" and not target.get("team_id"):
            raise InvalidRuleSet(f"rule {rule['name']!r}: a team target names team_id")
        if kind == "queue" and not target.get("queue_id"):
            raise InvalidRuleSet(f"rule {rule['name']!r}: a queue target names queue_id")
        if kind == "seller" and method != "direct":
            raise InvalidRuleSet(f"rule {rule['name']!r}: a named seller is assigned directly (method direct)")
        try:
            check_criteria(rule.get("conditions"))
            check_criteria(target.get("seller_conditions"), allow_lead_field=True)
        except InvalidCriteria as exc:
            raise InvalidRuleSet(f"rule {rule['name']!r}: {exc}") from None


class RuleBook(Aggregate):
    """Every rule-set version ever written, and which one is active."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return RULEBOOK_ID

    @event("Opened")
    def __init__(self) -> None:
        self.versions: list[dict[str, Any]] = []
        self.active_version: int | None = None

    def draft(self, name: str, rules: list[dict[str, Any]], at: datetime) -> int:
        check_rules(rules)
        version = len(self.versions) + 1
        self._drafted(version, name, rules, at)
        return version

    @event("Drafted")
    def _drafted(self, version: int, name: str, rules: list[dict[str, Any]], at: datetime) -> None:
        self.versions.append(
            {
                "version": version,
                "name": name,
                "rules": rules,
                "status": "draft",
                "created_at": at,
                "activated_at": None,
            }
        )

    def revise(self, version: int, name: str, rules: list[dict[str, Any]]) -> None:
        self.check_is_draft(version)
        check_rules(rules)
        self._revised(version, name, rules)

    @event("Revised")
    def _revised(self, version: int, name: str, rules: list[dict[str, Any]]) -> None:
        self.versions[version - 1].update(name=name, rules=rules)

    def activate(self, version: int, at: datetime) -> None:
        self.check_is_draft(version)
        self._activated(version, self.active_version, at)

    @event("Activated")
    def _activated(self, version: int, previous: int | None, at: datetime) -> None:
        if previous is not None:
            self.versions[previous - 1]["status"] = "retired"
        self.versions[version - 1].update(status="active", activated_at=at)
        self.active_version = version

    def check_is_draft(self, version: int) -> None:
        status = self.get(version)["status"]
        if status != "draft":
            raise RuleSetNotDraft(version, status)

    def get(self, version: int) -> dict[str, Any]:
        if version == 0:
            return DEFAULT_RULESET
        if not 1 <= version <= len(self.versions):
            raise RuleSetNotFound(version)
        return self.versions[version - 1]

    def active(self) -> dict[str, Any]:
        return DEFAULT_RULESET if self.active_version is None else self.versions[self.active_version - 1]
