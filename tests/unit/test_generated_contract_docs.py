"""The committed JSON Schemas and AsyncAPI documents are what the models and the services' FastStream
declarations generate (`make schemas`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow_shared.contracts import json_schemas
from leadflow_tools.schemas import SERVICES, documents

pytestmark = pytest.mark.unit
DOCS = Path(__file__).resolve().parents[2] / "docs" / "contracts"


def test_every_contract_schema_is_generated_and_current() -> None:
    for name, schema in json_schemas().items():
        path = DOCS / "schemas" / f"{name}.schema.json"
        assert path.exists(), f"{path.name} missing: run `make schemas`"
        assert json.loads(path.read_text()) == schema, f"{path.name} is stale: run `make schemas`"


def test_each_services_asyncapi_document_is_generated_by_faststream_and_current() -> None:
    generated = documents()
    assert set(generated) == set(SERVICES)
    for name, document in generated.items():
        path = DOCS / "asyncapi" / f"{name}.json"
        assert path.exists(), f"{path.name} missing: run `make schemas`"
        assert json.loads(path.read_text()) == document, f"asyncapi/{name}.json is stale: run `make schemas`"
    intake, assignment = generated["intake"], generated["assignment"]
    operations = {(op["action"], op["channel"]["$ref"].split("/")[-1]) for op in intake["operations"].values()}
    assert {
        ("receive", "leads.inbound.v1:intake"),
        ("receive", "assignments.events.v1:intake"),
        ("send", "leads.events.v1:intake"),
        ("send", "leads.inbound.v1.dlq:intake"),
    } <= operations
    inbound = intake["components"]["messages"]["leads.inbound.v1:intake:SubscribeMessage"]["payload"]
    assert inbound["oneOf"] == [
        {"$ref": "#/components/schemas/InboundLeadV1"},
        {"$ref": "#/components/schemas/ContactLifecycleChangedV1"},
    ]
    assert "LeadAssignedV1" in assignment["components"]["schemas"]
