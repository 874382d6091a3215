"""The sequence service's authorization matrix: every operation, asked by each kind of caller about
their own lead's enrolment and about somebody else's (the same callers as intake's and
assignment's matrix: an admin; a sales manager of team `emea`; seller `sam`, who owns the lead,
placed in `emea`; seller `olga`, who owns another lead in `apac`; an API key with scope
`sequences:signal`; a token without any role). A 404 for an enrolment that exists is the object
rule at work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from auth_helpers import bearer
from sequence_world import TRADE_SHOW, SequenceWorld

from leadflow_shared.auth.http import PUBLIC_PATHS, create_api_key

pytestmark = pytest.mark.unit
CALLERS = ("admin", "mgr", "own", "other", "key", "none")
SIGNAL = {"step_id": "e1", "kind": "email_opened"}

# (method, path, body, answers for admin mgr own other key none). {sid}: an active sequence;
# {eid}: the enrolment of sam's lead {lead}; {apac}: olga's lead.
MATRIX = [
    ("GET", "/v1/sequences", None, "200 200 200 200 403 403"),
    ("POST", "/v1/sequences", {"name": "x"}, "201 403 403 403 403 403"),
    ("GET", "/v1/sequences/{sid}", None, "200 200 200 200 403 403"),
    ("PATCH", "/v1/sequences/{sid}", {"name": "y"}, "409 403 403 403 403 403"),
    ("POST", "/v1/sequences/{sid}/activate", None, "409 403 403 403 403 403"),
    ("POST", "/v1/sequences/{sid}/versions", None, "201 403 403 403 403 403"),
    ("GET", "/v1/sequences/{sid}/preview?start=2026-12-02T09:00:00Z", None, "200 200 200 200 403 403"),
    ("PUT", "/v1/sequences/{sid}/segments/uk", None, "200 403 403 403 403 403"),
    ("DELETE", "/v1/sequences/{sid}/segments/uk", None, "200 403 403 403 403 403"),
    ("GET", "/v1/sequences/{sid}/enrolments", None, "200 200 403 403 403 403"),
    ("GET", "/v1/sequences/{sid}/figures", None, "200 200 403 403 403 403"),
    ("POST", "/v1/sequences/{sid}/enrolments", {"lead_id": "{apac}"}, "409 404 404 201 403 403"),
    ("GET", "/v1/enrolments/{eid}", None, "200 200 200 404 403 403"),
    ("GET", "/v1/leads/{lead}/enrolments", None, "200 200 200 404 403 403"),
    ("POST", "/v1/enrolments/{eid}/steps/e1/snooze", {"until": "2026-12-03T09:00:00Z"}, "200 200 200 404 403 403"),
    ("POST", "/v1/enrolments/{eid}/steps/e1/complete", {}, "409 200 409 404 403 403"),
    ("POST", "/v1/enrolments/{eid}/signals", SIGNAL, "202 403 403 403 202 403"),
    ("POST", "/v1/enrolments/{eid}/steps/w1/skip-wait", None, "409 200 409 404 403 403"),
    ("POST", "/v1/enrolments/{eid}/steps/c1/skip", None, "409 200 409 404 403 403"),
    ("GET", "/v1/work?seller_id=sam", None, "200 200 200 404 403 403"),
    ("GET", "/v1/settings/holidays", None, "200 200 200 200 403 403"),
    ("PUT", "/v1/settings/holidays", {"holidays": []}, "200 403 403 403 403 403"),
    ("DELETE", "/v1/enrolments/{eid}", None, "204 204 204 404 403 403"),
    ("POST", "/v1/sequences/{sid}/deactivate", None, "200 403 403 403 403 403"),
    ("DELETE", "/v1/sequences/{sid}", None, "204 403 403 403 403 403"),
]


@pytest.fixture
async def world() -> AsyncIterator[SequenceWorld]:
    w = SequenceWorld()
    yield w
    await w.close()


def fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids) if "{" in template else template
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    return template


async def test_every_operation_answers_each_caller_as_the_matrix_says(world: SequenceWorld) -> None:
    sid = world.sequence(TRADE_SHOW)
    lead, apac = uuid4(), uuid4()
    world.assign(lead, "sam", segment_id=None, team_id="emea")
    world.assign(apac, "olga", segment_id=None, team_id="apac")
    eid = world.app.execute(world.app.enrol, lead, sid, actor="admin")
    _, key = world.app.execute(create_api_key, "tracking", ["sequences:signal"], "test")
    callers = {
        "admin": bearer("admin", "ada"),
        "mgr": bearer("sales_manager", "max", teams=["emea"]),
        "own": bearer("seller", "sam"),
        "other": bearer("seller", "olga"),
        "key": {"X-API-Key": key},
        "none": bearer("partner_user", "pat", org="x"),
    }
    ids = {"sid": str(sid), "eid": str(eid), "lead": str(lead), "apac": str(apac)}
    failures = []
    # each row is asked by the others first and the admin last: the first caller allowed to act
    # changes the state the later ones meet (the 409s after a manager's 200)
    for method, path, body, expected in MATRIX:
        for caller in (*CALLERS[1:], "admin"):
            want = dict(zip(CALLERS, expected.split(), strict=True))[caller]
            response = await world.http.request(
                method, fill(path, ids), json=fill(body, ids), headers={"Authorization": "", **callers[caller]}
            )
            world.read_model.runner.catch_up()
            if str(response.status_code) != want:
                failures.append(
                    f"{method} {path} as {caller}: {response.status_code} (want {want}) {response.text[:120]}"
                )
    assert not failures, "\n".join(failures)


def test_the_matrix_covers_every_operation(world: SequenceWorld) -> None:
    covered = {
        (m, p.split("?")[0].replace("{sid}", "{sequence_id}").replace("{eid}", "{enrolment_id}"))
        for m, p, _, _ in MATRIX
    }
    operations = {
        (method.upper(), path)
        for path, item in world.api.openapi()["paths"].items()
        for method in item
        if path not in PUBLIC_PATHS and "api-keys" not in path
    }
    normalise = {
        "/v1/sequences/{sequence_id}/segments/uk": "/v1/sequences/{sequence_id}/segments/{segment_id}",
        "/v1/leads/{lead}/enrolments": "/v1/leads/{lead_id}/enrolments",
    }
    covered = {(m, normalise.get(p, p)) for m, p in covered}
    covered = {
        (
            m,
            p.replace("/steps/e1/", "/steps/{step_id}/")
            .replace("/steps/w1/", "/steps/{step_id}/")
            .replace("/steps/c1/", "/steps/{step_id}/"),
        )
        for m, p in covered
    }
    assert operations <= covered, sorted(operations - covered)
