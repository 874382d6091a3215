"""Conditions over lead facts and seller attributes: equals / in / gte / lte / contains,
grouped with all_of / any_of. Pure: a criteria tree is plain JSON-shaped data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

OPERATORS = ("equals", "in", "gte", "lte", "contains")

LEAD_FIELDS = (
    "country",
    "region",
    "city",
    "source",
    "type",
    "score",
    "campaign",
    "industry",
    "company_size",
    "lifecycle_stage",
    "product_interest",
)
"""Named lead facts; any other name (or `attributes.<name>`) reads the lead's extra attributes."""

Resolver = Callable[[str], Any]

MAX_CONDITION_DEPTH = 5
"""How deeply groups (all_of / any_of / a bare list) may nest: deeper trees are refused. Five
levels say anything a person can still read; the limit also keeps evaluation's recursion short."""


class InvalidCriteria(ValueError):
    """A criteria tree that cannot be evaluated."""


class CriteriaTooDeep(InvalidCriteria):
    """Groups nested deeper than MAX_CONDITION_DEPTH."""


def check_criteria(criteria: Any, *, allow_lead_field: bool = False, _depth: int = 0) -> None:
    """Raise InvalidCriteria unless `criteria` is a well-formed tree (None means "always") whose
    groups nest at most MAX_CONDITION_DEPTH deep."""
    if criteria is None:
        return
    is_group = isinstance(criteria, list) or (
        isinstance(criteria, Mapping) and ("all_of" in criteria or "any_of" in criteria)
    )
    if is_group and _depth >= MAX_CONDITION_DEPTH:
        raise CriteriaTooDeep(f"groups nest more than {MAX_CONDITION_DEPTH} deep (all_of / any_of / lists)")
    if isinstance(criteria, list):
        for part in criteria:
            check_criteria(part, allow_lead_field=allow_lead_field, _depth=_depth + 1)
        return
    if not isinstance(criteria, Mapping):
        raise InvalidCriteria(f"a condition must be an object, not {type(criteria).__name__}")
    groups = [k for k in ("all_of", "any_of") if k in criteria]
    if groups:
        if len(criteria) != 1 or not isinstance(criteria[groups[0]], list):
            raise InvalidCriteria("a group is exactly one of all_of / any_of holding a list")
        for part in criteria[groups[0]]:
            check_criteria(part, allow_lead_field=allow_lead_field, _depth=_depth + 1)
        return
    if not isinstance(criteria.get("field"), str) or not criteria["field"]:
        raise InvalidCriteria("a condition names a field")
    if criteria.get("op") not in OPERATORS:
        raise InvalidCriteria(f"op must be one of {', '.join(OPERATORS)}")
    has_value, has_lead_field = "value" in criteria, "lead_field" in criteria
    if has_lead_field and not allow_lead_field:
        raise InvalidCriteria("lead_field (a dynamic condition) is only for seller conditions")
    if has_value == has_lead_field:
        raise InvalidCriteria("a condition has either value or lead_field")
    if criteria["op"] in ("gte", "lte") and has_value and not isinstance(criteria["value"], int | float):
        raise InvalidCriteria(f"{criteria['op']} compares numbers")


def matches_everything(criteria: Any) -> bool:
    """True when a (well-formed) tree holds for any subject whatever its fields: none at all,
    an empty list or all_of, or groups made only of such parts."""
    if criteria is None:
        return True
    if isinstance(criteria, list):
        return all(matches_everything(part) for part in criteria)
    if isinstance(criteria, Mapping) and isinstance(criteria.get("all_of"), list):
        return all(matches_everything(part) for part in criteria["all_of"])
    if isinstance(criteria, Mapping) and isinstance(criteria.get("any_of"), list):
        return any(matches_everything(part) for part in criteria["any_of"])
    return False


def lead_fact(lead: Mapping[str, Any], name: str) -> Any:
    if name.startswith("attributes."):
        return lead.get("attributes", {}).get(name.removeprefix("attributes."))
    if name in LEAD_FIELDS:
        return lead.get(name)
    return lead.get("attributes", {}).get(name)


def matches(criteria: Any, resolve: Resolver, lead: Mapping[str, Any] | None = None) -> bool:
    """Evaluate a criteria tree; `resolve` reads the subject's fields, `lead` feeds dynamic ones."""
    if criteria is None:
        return True
    if isinstance(criteria, list):
        return all(matches(part, resolve, lead) for part in criteria)
    if "all_of" in criteria:
        return all(matches(part, resolve, lead) for part in criteria["all_of"])
    if "any_of" in criteria:
        return any(matches(part, resolve, lead) for part in criteria["any_of"])
    expected = lead_fact(lead or {}, criteria["lead_field"]) if "lead_field" in criteria else criteria["value"]
    return compare(criteria["op"], resolve(criteria["field"]), expected)


def compare(op: str, actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return False
    if op in ("gte", "lte"):
        try:
            a, e = float(actual), float(expected)
        except (TypeError, ValueError):
            return False
        return a >= e if op == "gte" else a <= e
    actual_items = [_norm(x) for x in actual] if isinstance(actual, list | tuple | set) else None
    expected_items = [_norm(x) for x in expected] if isinstance(expected, list | tuple | set) else None
    if op == "equals":
        return (actual_items or _norm(actual)) == (expected_items or _norm(expected))
    if op == "in":
        options = expected_items if expected_items is not None else [_norm(expected)]
        if actual_items is not None:
            return any(a in options for a in actual_items)
        return _norm(actual) in options
    # contains: a list holds the value (any of them), or a text contains it
    wanted = expected_items if expected_items is not None else [_norm(expected)]
    if actual_items is not None:
        return any(w in actual_items for w in wanted)
    return any(str(w) in str(_norm(actual)) for w in wanted)


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value
