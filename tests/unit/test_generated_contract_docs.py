"""The committed JSON Schemas and AsyncAPI document are what the models generate (`make schemas`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow_shared.contracts import json_schemas
from leadflow_shared.schemas import asyncapi

pytestmark = pytest.mark.unit
DOCS = Path(__file__).resolve().parents[2] / "docs" / "contracts"


def test_every_contract_schema_is_generated_and_current() -> None:
    for name, schema in json_schemas().items():
        path = DOCS / "schemas" / f"{name}.schema.json"
        assert path.exists(), f"{path.name} missing: run `make schemas`"
        assert json.loads(path.read_text()) == schema, f"{path.name} is stale: run `make schemas`"


def test_the_asyncapi_document_is_current_and_names_every_topic_with_messages() -> None:
    document = json.loads((DOCS / "asyncapi.json").read_text())
    assert document == asyncapi(), "asyncapi.json is stale: run `make schemas`"
    addresses = {c["address"] for c in document["channels"].values()}
    assert {"leads.inbound.v1", "leads.events.v1", "assignments.events.v1"} <= addresses
    assert "LeadAssignedV1" in document["components"]["messages"]
