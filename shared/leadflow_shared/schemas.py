"""Generate the contract documents from the models: `python -m leadflow_shared.schemas <dir>`.

Writes one JSON Schema per contract and an AsyncAPI 3.0 document that names every topic and
the messages on it, so neither is ever written by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from . import topics
from .contracts import ALL_CONTRACTS, json_schemas

# Which contract module's models travel on which topic.
_TOPIC_OF_MODULE = {
    "leadflow_shared.contracts.inbound": topics.LEADS_INBOUND,
    "leadflow_shared.contracts.leads": topics.LEADS_EVENTS,
    "leadflow_shared.contracts.assignments": topics.ASSIGNMENTS_EVENTS,
}


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 document of leadflow's topics and CloudEvents messages."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for model in ALL_CONTRACTS:
        topic = _TOPIC_OF_MODULE.get(model.__module__)
        if topic is None:
            continue
        name = model.__name__
        schemas[name] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schemas[name].pop("$defs", {}))
        messages[name] = {
            "name": _ce_type(model),
            "title": name,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else name,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "description": "CloudEvents binary mode: ce_id, ce_source, ce_type, "
                "ce_subject (= aggregate id), ce_time, ce_specversion=1.0",
            },
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        channel = channels.setdefault(topic.replace(".", "_"), {"address": topic, "messages": {}})
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "leadflow",
            "version": "1",
            "description": "Topics and CloudEvents messages of leadflow (generated from the models).",
        },
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def _ce_type(model: type[BaseModel]) -> str:
    return str(getattr(model, "cloudevents_type", model.__name__))


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    path = directory.parent / "asyncapi.json"
    path.write_text(json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n")
    written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contracts/schemas")):
        print(written_path)
