"""Versioned rule sets: an ordered list of rules, first match wins; drafted, revised, then
activated, and the previously active version stays in the book, retired. A draft may be deleted;
a retired version comes back as a new version (a copy). Every problem of a rule set is named
at once (`rule_problems`), when it is saved and again when it is activated."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .criteria import CriteriaTooDeep, InvalidCriteria, check_criteria, matches_everything

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


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with a rule set: which rule (its index; None: the set as a whole), where
    in the rule, a short machine-readable type and what is wrong."""

    rule: int | None
    where: tuple[str, ...]
    type: str
    msg: str

    def as_dict(self) -> dict[str, Any]:
        loc: list[Any] = ["rules"] if self.rule is None else ["rules", self.rule, *self.where]
        return {"loc": loc, "rule": self.rule, "msg": self.msg, "type": self.type}

    def __str__(self) -> str:
        return f"rule {self.rule}: {self.msg}" if self.rule is not None else self.msg


@dataclass(frozen=True)
class References:
    """What rules may name as it stands now: the sellers (deleted ones are not), the teams, the
    segments and the named queues."""

    sellers: frozenset[str]
    teams: frozenset[str]
    segments: frozenset[str]
    queues: frozenset[str] = frozenset()


class InvalidRuleSet(RuleError, ValueError):
    def __init__(self, message: str | None = None, problems: Sequence[RuleProblem] = ()) -> None:
        self.problems = list(problems)
        super().__init__(message or "; ".join(str(p) for p in self.problems))


class RuleSetNotFound(RuleError, LookupError):
    def __init__(self, version: int, *, deleted: bool = False) -> None:
        super().__init__(f"rule set version {version} was deleted" if deleted else f"no rule set version {version}")
        self.version = version


class RuleSetNotDraft(RuleError):
    def __init__(self, version: int, status: str, message: str | None = None) -> None:
        super().__init__(message or f"rule set version {version} is {status}, not a draft")


def check_rules(rules: list[dict[str, Any]], references: References | None = None) -> None:
    """Raise InvalidRuleSet naming every problem of the rule set at once (see `rule_problems`)."""
    problems = rule_problems(rules, references)
    if problems:
        raise InvalidRuleSet(problems=problems)


def rule_problems(rules: Sequence[Any], references: References | None = None) -> list[RuleProblem]:
    """Everything wrong with a rule set: no rules; per rule, a name used twice, a target or
    method the engine cannot use or that contradict each other, conditions that cannot be
    evaluated (or nest too deep), a rule no lead can reach (after a rule that takes every lead,
    or every lead of its segment) and, with `references`, a seller, team or segment that does
    not exist now."""
    if not rules:
        return [RuleProblem(None, (), "empty", "a rule set holds at least one rule")]
    problems: list[RuleProblem] = []
    first_named: dict[Any, int] = {}
    takes_every_lead: int | None = None
    takes_segment: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            problems.append(RuleProblem(index, (), "not_a_rule", "a rule is an object"))
            continue

        def problem(where: tuple[str, ...], kind: str, msg: str, index: int = index) -> None:
            problems.append(RuleProblem(index, where, kind, msg))

        name = rule.get("name")
        if name in first_named:
            problem(("name",), "duplicate_name", f"name {_short(name)} is used by rule {first_named[name]} too")
        else:
            first_named[name] = index
        problems_of_target(rule, problem)
        for key, allow_lead_field in (("conditions", False), ("seller_conditions", True)):
            criteria = rule.get(key) if key == "conditions" else (rule.get("target") or {}).get(key)
            try:
                check_criteria(criteria, allow_lead_field=allow_lead_field)
            except InvalidCriteria as exc:
                where = (key,) if key == "conditions" else ("target", key)
                problem(where, "depth" if isinstance(exc, CriteriaTooDeep) else "invalid_criteria", str(exc))
        segment = rule.get("segment")
        if takes_every_lead is not None:
            problem((), "unreachable", f"unreachable: rule {takes_every_lead} before it takes every lead")
        elif segment is not None and segment in takes_segment:
            problem(
                (),
                "unreachable",
                f"unreachable: rule {takes_segment[segment]} before it takes every lead of segment {_short(segment)}",
            )
        if _always(rule.get("conditions")):
            if segment is None and takes_every_lead is None:
                takes_every_lead = index
            elif segment is not None:
                takes_segment.setdefault(segment, index)
        if references is not None:
            problems_of_references(rule, references, problem)
    return problems


def _short(value: Any) -> str:
    """A name as a problem quotes it: never a whole oversized input."""
    text = repr(value)
    return text if len(text) <= 100 else text[:100] + "…"


def _always(conditions: Any) -> bool:
    try:
        check_criteria(conditions)
    except InvalidCriteria:
        return False
    return matches_everything(conditions)


TARGET_FIELDS = {"sellers": "seller_conditions", "team": "team_id", "seller": "seller_id", "queue": "queue_id"}
Report = Callable[[tuple[str, ...], str, str], None]
"""Records one problem of the rule being checked: (where in the rule, type, what is wrong)."""


def problems_of_target(rule: Mapping[str, Any], problem: Report) -> None:
    """A target the engine can use with this method, and nothing the engine would ignore."""
    target = rule.get("target")
    if not isinstance(target, Mapping):
        problem(("target",), "invalid_target", "a rule has a target object")
        return
    kind, method = target.get("kind"), rule.get("method")
    if kind not in TARGET_KINDS:
        problem(("target", "kind"), "invalid_target", f"target kind must be one of {', '.join(TARGET_KINDS)}")
        return
    if method not in METHODS:
        problem(("method",), "invalid_method", f"method must be one of {', '.join(METHODS)}")
    named = TARGET_FIELDS[kind]
    if kind != "sellers" and not target.get(named):
        problem(("target", named), "missing", f"a {kind} target names {named}")
    for other in ("team_id", "seller_id", "queue_id"):
        if other != named and target.get(other) is not None:
            problem(("target", other), "contradiction", f"a {kind} target does not take {other}")
    filtered = target.get("seller_conditions") is not None
    waits = rule.get("available_within_hours") is not None
    if kind == "seller" and method != "direct":
        problem(("method",), "contradiction", "a named seller is assigned directly (method direct)")
    if kind == "seller" and filtered:
        problem(
            ("target", "seller_conditions"),
            "contradiction",
            "a named seller is assigned directly: seller_conditions would make the lead wait instead "
            "(put them in the rule's conditions)",
        )
    if kind == "sellers" and method == "direct":
        problem(
            ("method",),
            "contradiction",
            "direct names one seller or hands the lead to a team: use target seller or team, or "
            "round_robin / load_balancing among sellers",
        )
    if kind == "team" and method == "direct" and filtered:
        problem(
            ("target", "seller_conditions"),
            "contradiction",
            "direct hands the lead to the team itself: no seller is chosen, so seller_conditions do not apply",
        )
    if kind == "team" and method == "direct" and waits:
        problem(
            ("available_within_hours",),
            "contradiction",
            "direct hands the lead to the team itself: no seller is chosen, so available_within_hours does not apply",
        )
    if kind == "queue" and filtered:
        problem(
            ("target", "seller_conditions"), "contradiction", "a queue target chooses no seller: no seller_conditions"
        )
    if kind == "queue" and waits:
        problem(
            ("available_within_hours",),
            "contradiction",
            "a queue target chooses no seller: available_within_hours does not apply",
        )


def problems_of_references(rule: Mapping[str, Any], references: References, problem: Report) -> None:
    found = rule.get("target")
    target: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    segment = rule.get("segment")
    if segment is not None and segment not in references.segments:
        problem(("segment",), "unknown_segment", f"unknown segment {_short(segment)}")
    if target.get("kind") == "seller" and target.get("seller_id") and target["seller_id"] not in references.sellers:
        problem(("target", "seller_id"), "unknown_seller", f"unknown seller {_short(target['seller_id'])}")
    if target.get("kind") == "team" and target.get("team_id") and target["team_id"] not in references.teams:
        problem(("target", "team_id"), "unknown_team", f"unknown team {_short(target['team_id'])}")
    if target.get("kind") == "queue" and target.get("queue_id") and target["queue_id"] not in references.queues:
        problem(
            ("target", "queue_id"),
            "unknown_queue",
            f"unknown queue {_short(target['queue_id'])} (define it first: PUT /v1/queues/{{queue_id}})",
        )


class RuleBook(Aggregate):
    """Every rule-set version ever written, and which one is active."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return RULEBOOK_ID

    @event("Opened")
    def __init__(self) -> None:
        self.versions: list[dict[str, Any]] = []
        self.active_version: int | None = None

    def draft(self, name: str, rules: list[dict[str, Any]], at: datetime, references: References) -> int:
        check_rules(rules, references)
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

    def revise(self, version: int, name: str, rules: list[dict[str, Any]], references: References) -> None:
        self.check_is_draft(version)
        check_rules(rules, references)
        self._revised(version, name, rules)

    @event("Revised")
    def _revised(self, version: int, name: str, rules: list[dict[str, Any]]) -> None:
        self.versions[version - 1].update(name=name, rules=rules)

    def activate(self, version: int, at: datetime, references: References) -> int:
        """Make a draft active, checked against what exists now (a seller, team or segment may
        have gone since it was saved). A retired version comes back as a new version, a copy, so
        the history of what was active stays a line. Returns the version now active."""
        found = self.get(version)
        if version == 0:
            raise RuleSetNotDraft(0, "built-in", "version 0 is the built-in default: draft a rule set to activate")
        if found["status"] == "active":
            raise RuleSetNotDraft(version, "active", f"rule set version {version} is active already")
        check_rules(found["rules"], references)
        if found["status"] == "retired":
            copy = len(self.versions) + 1
            self._copied(copy, version, at)
            version = copy
        self._activated(version, self.active_version, at)
        return version

    @event("Copied")
    def _copied(self, version: int, copy_of: int, at: datetime) -> None:
        source = self.versions[copy_of - 1]
        self.versions.append(
            {
                "version": version,
                "name": source["name"],
                "rules": deepcopy(source["rules"]),
                "status": "draft",
                "created_at": at,
                "activated_at": None,
                "copy_of": copy_of,
            }
        )

    def delete_draft(self, version: int) -> None:
        """Only a draft goes; its number is never given again (the history keeps it)."""
        self.check_is_draft(version)
        self._draft_deleted(version)

    @event("DraftDeleted")
    def _draft_deleted(self, version: int) -> None:
        self.versions[version - 1]["status"] = "deleted"

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
        if self.versions[version - 1]["status"] == "deleted":
            raise RuleSetNotFound(version, deleted=True)
        return self.versions[version - 1]

    def listed(self) -> list[dict[str, Any]]:
        """Every version but the deleted drafts."""
        return [v for v in self.versions if v["status"] != "deleted"]

    def references_in_active(
        self, *, seller_id: str | None = None, team_id: str | None = None, queue_id: str | None = None
    ) -> list[str]:
        """The rules of the active rule set that name this seller, team or queue (to refuse removing it)."""
        wanted = {"seller": seller_id, "team": team_id, "queue": queue_id}
        named = []
        for index, rule in enumerate(self.active()["rules"]):
            target = rule.get("target") or {}
            kind = target.get("kind")
            if kind in wanted and wanted[kind] is not None and target.get(f"{kind}_id") == wanted[kind]:
                named.append(f"rule {index} ({rule.get('name')!r})")
        return named

    def active(self) -> dict[str, Any]:
        return DEFAULT_RULESET if self.active_version is None else self.versions[self.active_version - 1]
