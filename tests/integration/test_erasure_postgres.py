"""Erasure on PostgreSQL (issue 9): two replicas of intake share one store; personal data is never
in any table in plain text, a data key made concurrently by two writers is a conflict (retried, never
two keys), and an erasure by one replica leaves nothing readable in any table, for either."""

from __future__ import annotations

import os
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import RecordConflictError
from harness import postgres_settings

from intake.application import IntakeApplication
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

VALUES = ("Zelda", "Quuxley", "zelda.pg@example.org", "+442079460124", "Zeldacorp", "prefers mornings", "tea at 4")


def everything_stored(database: dict[str, Any]) -> str:
    """Every row of every table of the database, as text."""
    conninfo = " ".join(f"{k}={database[k]}" for k in ("host", "port", "user", "password", "dbname"))
    with psycopg.connect(conninfo) as db:
        tables = db.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert tables
        text = []
        for schema, table in tables:
            for row in db.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                text.append(
                    " ".join(bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row)
                )
        return "\n".join(text)


def test_two_replicas_share_keys_and_an_erasure_leaves_nothing_readable(postgres_database: dict[str, Any]) -> None:
    settings = ServiceSettings(service_name="intake", **postgres_settings(postgres_database))
    env = {**settings.eventsourcing_env(), "LEADFLOW_SNAPSHOT_EVERY": "2"}
    one, two = IntakeApplication(env=env), IntakeApplication(env=env)
    inbound = InboundLeadV1.model_validate(
        {
            "source": "web-form",
            "external_id": f"pg-{uuid4().hex[:6]}",
            "notes": "prefers mornings",
            "contact": {
                "first_name": "Zelda",
                "last_name": "Quuxley",
                "email": "zelda.pg@example.org",
                "phone": "+442079460124",
            },
            "company": {"name": "Zeldacorp"},
            "occurred_at": "2026-11-01T10:00:00Z",
        }
    )
    lead_id = one.execute(one.receive_lead, inbound, via="http").lead_id
    two.execute(two.follow_up, lead_id, actor="sam", note="tea at 4")  # the other replica reads the key
    assert two.get_lead(lead_id).contact["email"] == "zelda.pg@example.org"
    stored = everything_stored(postgres_database)
    assert lead_id.hex in stored.replace("-", "")  # the lead is there (the search looks at the right place)
    assert [v for v in VALUES if v in stored] == []

    # A key made concurrently for the same subject: the later writer's transaction records nothing.
    with pytest.raises(RecordConflictError):
        two.recorder.insert_events([], keys={lead_id: os.urandom(32)})
    assert two.data_keys.for_reading(lead_id) == one.data_keys.for_reading(lead_id)

    two.execute(two.erase, lead_id, actor="admin")
    fresh = IntakeApplication(env=env)
    assert fresh.get_lead(lead_id).contact == {} and fresh.get_lead(lead_id).erased_at is not None
    assert fresh.data_keys.for_reading(lead_id) is None
    assert [e.note for e in fresh.events.get(lead_id) if hasattr(e, "note")] == [""]
    assert [v for v in VALUES if v in everything_stored(postgres_database)] == []
