"""What a published contract may still become: a V1 only gains optional fields.

`breaking_changes(baseline, current)` compares a contract's JSON Schema as first published (the
frozen copy under tests/fixtures/contracts/) with the one the model generates now, and lists
every change a consumer written against the baseline could trip on:

- a field removed or renamed (renamed = removed + added);
- a field's schema changed (type, format, constraints, enum values, default), titles and
  descriptions aside;
- a new field that is required, or one without a default;
- a field that became required, or stopped being required.

Nested objects (`$ref` to `$defs`) follow the same rules, so `contact` may gain an optional
`mobile` but not lose `email`. Any other change of a non-object schema is breaking.
"""

from __future__ import annotations

from typing import Any

_COSMETIC = frozenset({"title", "description", "examples"})


def breaking_changes(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every breaking change from `baseline` to `current` (both whole JSON Schemas), as text."""
    problems: list[str] = []
    _compare(_resolve(baseline, baseline), _resolve(current, current), baseline, current, "", problems)
    return problems


def _compare(
    old: dict[str, Any],
    new: dict[str, Any],
    old_root: dict[str, Any],
    new_root: dict[str, Any],
    where: str,
    out: list[str],
) -> None:
    if _is_object(old) and _is_object(new):
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name, old_schema in old_props.items():
            path = f"{where}.{name}" if where else name
            if name not in new_props:
                out.append(f"{path}: removed (or renamed)")
                continue
            if (name in old_required) != (name in new_required):
                out.append(f"{path}: {'became' if name in new_required else 'is no longer'} required")
            _compare(_resolve(old_schema, old_root), _resolve(new_props[name], new_root), old_root, new_root, path, out)
        for name in new_props.keys() - old_props.keys():
            path = f"{where}.{name}" if where else name
            if name in new_required or "default" not in _resolve(new_props[name], new_root):
                out.append(f"{path}: added without a default (a new field must be optional)")
        return
    old_any, new_any = old.get("anyOf"), new.get("anyOf")
    if isinstance(old_any, list) and isinstance(new_any, list) and len(old_any) == len(new_any):
        # An optional nested object (`anyOf: [{$ref}, {type: null}]`): each branch by the same rules.
        rest_old = {k: v for k, v in old.items() if k != "anyOf"}
        rest_new = {k: v for k, v in new.items() if k != "anyOf"}
        if _essential(rest_old, old_root) != _essential(rest_new, new_root):
            out.append(f"{where or '(root)'}: schema changed")
        for i, (a, b) in enumerate(zip(old_any, new_any, strict=True)):
            _compare(_resolve(a, old_root), _resolve(b, new_root), old_root, new_root, f"{where}[{i}]", out)
        return
    if _essential(old, old_root) != _essential(new, new_root):
        out.append(f"{where or '(root)'}: schema changed")


def _is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" and "properties" in schema


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` into `$defs` (pydantic's shape), keeping sibling keys such as a default."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return schema
    target = root.get("$defs", {})[ref.removeprefix("#/$defs/")]
    siblings = {k: v for k, v in schema.items() if k != "$ref"}
    return {**_resolve(target, root), **siblings}


def _essential(schema: Any, root: dict[str, Any]) -> Any:
    """The schema with references resolved and titles/descriptions dropped."""
    if isinstance(schema, dict):
        resolved = _resolve(schema, root)
        return {k: _essential(v, root) for k, v in resolved.items() if k not in _COSMETIC and k != "$defs"}
    if isinstance(schema, list):
        return [_essential(item, root) for item in schema]
    return schema
