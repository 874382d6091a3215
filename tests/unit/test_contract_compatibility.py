"""A published V1 contract only gains optional fields: every contract's schema now is compared
with its schema as first published (tests/fixtures/contracts/, frozen — never regenerated)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from leadflow_shared.contracts import json_schemas
from leadflow_shared.contracts.compatibility import breaking_changes

pytestmark = pytest.mark.unit
BASELINES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"


def baseline(name: str) -> dict[str, Any]:
    return json.loads((BASELINES / f"{name}.schema.json").read_text())  # type: ignore[no-any-return]


def test_every_published_contract_is_still_compatible_with_its_first_published_schema() -> None:
    current = json_schemas()
    published = sorted(p.name.removesuffix(".schema.json") for p in BASELINES.glob("*.schema.json"))
    assert published, "no baselines"
    for name in published:
        assert name in current, f"{name} was published and is gone: consumers still read it"
        assert breaking_changes(baseline(name), current[name]) == [], name
    # A new contract is published by freezing its first schema beside the others.
    unfrozen = sorted(set(current) - set(published))
    assert not unfrozen, f"copy docs/contracts/schemas/{unfrozen[0]}.schema.json to {BASELINES}"


# -- the check itself catches what it should ---------------------------------------------------

INBOUND = "InboundLeadV1"


def changed(edit: Any) -> list[str]:
    schema = copy.deepcopy(baseline(INBOUND))
    edit(schema)
    return breaking_changes(baseline(INBOUND), schema)


def test_a_new_optional_field_is_fine_at_the_top_and_nested() -> None:
    def add_optional(schema: dict[str, Any]) -> None:
        schema["properties"]["priority"] = {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
        schema["$defs"]["Contact"]["properties"]["mobile"] = {"type": "string", "default": ""}
        schema["properties"]["notes"]["description"] = "reworded"

    assert changed(add_optional) == []


def test_removing_renaming_retyping_or_requiring_a_field_is_breaking() -> None:
    def remove(schema: dict[str, Any]) -> None:
        del schema["properties"]["campaign_id"]

    def rename(schema: dict[str, Any]) -> None:
        schema["properties"]["campaign"] = schema["properties"].pop("campaign_id")

    def retype(schema: dict[str, Any]) -> None:
        schema["properties"]["score"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}

    def new_required(schema: dict[str, Any]) -> None:
        schema["properties"]["region_code"] = {"type": "string"}
        schema["required"].append("region_code")

    def nested_removal(schema: dict[str, Any]) -> None:
        del schema["$defs"]["Contact"]["properties"]["email"]

    def tighter(schema: dict[str, Any]) -> None:
        schema["$defs"]["Company"]["properties"]["country"]["anyOf"][0]["pattern"] = "^[A-Z]{3}$"

    def now_optional(schema: dict[str, Any]) -> None:
        schema["required"].remove("source")

    assert changed(remove) == ["campaign_id: removed (or renamed)"]
    assert changed(rename) == ["campaign_id: removed (or renamed)"]
    assert changed(retype) == ["score[0]: schema changed"]
    assert changed(new_required) == ["region_code: added without a default (a new field must be optional)"]
    assert changed(nested_removal) == ["contact.email: removed (or renamed)"]
    assert changed(tighter) == ["company.country[0]: schema changed"]
    assert changed(now_optional) == ["source: is no longer required"]
