# ruff: noqa: E501  (the matrix reads best one operation per line)
"""The authorization matrix: every operation of intake and assignment, asked by each kind of
caller, about their own object and about somebody else's. The expected answers are the table
below (docs/security.md shows the same matrix).

Callers, in the order of each row's answers:
  admin    an admin
  mgr      a sales manager of team `emea`
  own      seller `sam`, who owns the lead (placed in team `emea`)
  other    seller `olga`, who owns another lead (team `apac`), asking about sam's
  key      an API key with scope `leads:write`
  none     a valid token without any role

Both services run with self-assignment allowed (sellers see and take leads nobody owns);
`test_self_assignment_off` shows what changes without it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

import httpx
import pytest
from assignment_scenario import Scenario
from auth_helpers import authenticator, token
from intake_world import assigned, lead_list_of

from assignment.domain.revenue import default_definition
from assignment.entrypoints.api import create_api as assignment_api
from assignment.projections import RevenueProjection, RevenueReadModel
from intake.application import IntakeApplication
from intake.entrypoints.api import create_api as intake_api
from leadflow_shared.auth.http import PUBLIC_PATHS, create_api_key
from leadflow_shared.contracts import TeamMembershipChangedV1
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit
CALLERS = ("admin", "mgr", "own", "other", "key", "none")
LEAD = {"source": "web-form", "external_id": "m-new", "occurred_at": "2026-11-01T10:00:00Z"}
CSV = "source,external_id,occurred_at\nweb-form,csv-1,2026-11-01T10:00:00Z\n"
RULE = {"name": "all", "target": {"kind": "sellers"}, "method": "round_robin"}

# (method, path, body, answers for admin mgr own other key none). {lead} is sam's lead (team
# emea), {apac} olga's (team apac), {direct} sam's placed in no team (the manager sees it because
# sam is a member of emea, as assignment published), {unassigned} nobody's (the pool). A 404 for
# a lead that exists is the object rule at work; a 409 is the lead's own rules, once the caller
# may act on it.
INTAKE = [
    ("POST", "/v1/leads", LEAD, "201 201 201 201 201 403"),
    ("GET", "/v1/leads", None, "200 200 200 200 403 403"),
    ("GET", "/v1/leads/{lead}", None, "200 200 200 404 403 403"),
    ("GET", "/v1/leads/{apac}", None, "200 404 404 200 403 403"),
    ("GET", "/v1/leads/{direct}", None, "200 200 200 404 403 403"),
    ("GET", "/v1/leads/{unassigned}", None, "200 404 200 200 403 403"),
    ("POST", "/v1/leads/{unassigned}/follow-ups", {"note": "called"}, "201 404 201 201 403 403"),
    ("GET", "/v1/leads/{lead}/events", None, "200 200 200 404 403 403"),
    ("POST", "/v1/leads/{lead}/follow-ups", {"note": "called"}, "201 201 201 404 403 403"),
    ("POST", "/v1/leads/{lead}/documents", {"kind": "quote", "number": "Q-1"}, "201 201 201 404 403 403"),
    ("DELETE", "/v1/leads/{converted}/documents/Q-0", None, "200 200 200 404 403 403"),
    ("POST", "/v1/leads/{lead}/associations", {"kind": "contact", "id": "c-1"}, "201 201 201 404 403 403"),
    ("POST", "/v1/leads/{lead}/stage", {"stage_id": "connected"}, "200 200 200 404 403 403"),
    ("POST", "/v1/leads/{lead}/qualify", {}, "200 200 200 404 403 403"),
    ("POST", "/v1/leads/{lead}/disqualify", {}, "200 200 200 404 403 403"),
    ("PUT", "/v1/leads/{lead}/favorite", None, "200 200 200 404 403 403"),
    ("DELETE", "/v1/leads/{lead}/favorite", None, "200 200 200 404 403 403"),
    ("POST", "/v1/leads/{lead}/recycle", {}, "200 200 200 404 403 403"),
    ("POST", "/v1/leads/{lead}/convert", {}, "200 200 200 404 403 403"),
    ("POST", "/v1/leads/{lead}/close-invalid", {"reason": "spam"}, "200 200 200 404 403 403"),
    ("POST", "/v1/leads/{unassigned}/void", {}, "200 404 403 403 403 403"),
    ("POST", "/v1/leads/{lead}/void", {}, "200 200 403 403 403 403"),  # junk is voided from any open status
    ("POST", "/v1/leads/{lead}/reopen", {}, "409 409 409 404 403 403"),  # only a (dis)qualified lead
    ("POST", "/v1/leads/{qualified}/reopen", {}, "200 200 200 404 403 403"),
    ("GET", "/v1/deals/{deal}", None, "200 200 200 404 403 403"),  # seen by whoever sees its lead
    ("POST", "/v1/leads/{lead}/unvoid", None, "409 409 403 403 403 403"),
    ("DELETE", "/v1/leads/{lead}", None, "409 409 403 403 403 403"),  # nor deleted
    ("DELETE", "/v1/leads/{unassigned}", None, "204 404 403 403 403 403"),
    ("POST", "/v1/leads/{lead}/merge", {"merged_lead_id": "{apac}"}, "200 404 403 403 403 403"),
    ("POST", "/v1/leads/{lead}/unmerge", None, "409 409 403 403 403 403"),
    ("POST", "/v1/leads/{apac}/erasure", {"reason": "asked"}, "200 403 403 403 403 403"),
    ("GET", "/v1/leads/{lead}/contact", None, "200 403 403 403 403 403"),  # keys need scope leads:contact
    ("POST", "/v1/leads/import", "csv", "200 403 403 403 200 403"),
    ("GET", "/v1/leads/import-template", None, "200 403 403 403 200 403"),
    # a customer is seen by whoever sees one of its leads ({customer}: made of sam's {converted})
    ("GET", "/v1/customers/{customer}", None, "200 200 200 404 403 403"),
    ("GET", "/v1/customers?phone=%2B442079460123", None, "200 200 200 200 403 403"),  # olga finds nothing
    ("POST", "/v1/contacts/lifecycle-changes", "contact", "200 403 403 403 403 403"),
    ("GET", "/v1/settings/leads", None, "200 200 200 200 403 403"),
    ("POST", "/v1/settings/leads/stages", {"id": "demo", "name": "Demo"}, "201 403 403 403 403 403"),
    ("PATCH", "/v1/settings/leads/stages/new", {"name": "Fresh"}, "200 403 403 403 403 403"),
    ("PUT", "/v1/settings/leads/stages/order", {"order": ["new", "connected", "attempting"]}, "200 403 403 403 403 403"),
    ("DELETE", "/v1/settings/leads/stages/attempting", None, "200 403 403 403 403 403"),
    ("PUT", "/v1/settings/leads/qualification", {"require_deal_to_qualify": False, "require_reason_to_disqualify": False}, "200 403 403 403 403 403"),
    ("POST", "/v1/settings/leads/reasons", {"id": "budget", "label": "Budget"}, "201 403 403 403 403 403"),
    ("PATCH", "/v1/settings/leads/reasons/no_budget", {"label": "Money"}, "200 403 403 403 403 403"),
    ("DELETE", "/v1/settings/leads/reasons/no_budget", None, "200 403 403 403 403 403"),
    ("PUT", "/v1/settings/leads/reasons/order", {"order": ["x"]}, "422 403 403 403 403 403"),
    ("PUT", "/v1/settings/leads/lifecycle", {}, "200 403 403 403 403 403"),
    ("GET", "/v1/api-keys", None, "200 403 403 403 403 403"),
    ("POST", "/v1/api-keys", {"name": "crm", "scopes": ["leads:write"]}, "201 403 403 403 403 403"),
    ("DELETE", "/v1/api-keys/nokey", None, "404 403 403 403 403 403"),
]  # fmt: skip

ASSIGNMENT = [
    ("GET", "/v1/sellers", None, "200 200 200 200 403 403"),
    ("GET", "/v1/sellers/sam", None, "200 200 200 404 403 403"),
    ("GET", "/v1/sellers/sam/availability", None, "200 200 200 404 403 403"),
    ("POST", "/v1/sellers", [{"seller_id": "new", "name": "New"}], "200 403 403 403 403 403"),
    ("PUT", "/v1/sellers/new", {"name": "New"}, "200 403 403 403 403 403"),
    ("PATCH", "/v1/sellers/sam", {"capacity": 5}, "200 403 403 403 403 403"),
    ("POST", "/v1/sellers/sam/deactivate", None, "200 403 403 403 403 403"),
    ("POST", "/v1/sellers/sam/activate", None, "200 403 403 403 403 403"),
    ("DELETE", "/v1/sellers/sam", None, "409 403 403 403 403 403"),  # sam still owns open leads
    ("GET", "/v1/sellers/load", None, "200 200 403 403 403 403"),
    ("GET", "/v1/teams", None, "200 200 200 200 403 403"),
    ("PUT", "/v1/teams/emea", {"name": "EMEA", "members": ["sam"]}, "200 403 403 403 403 403"),
    ("DELETE", "/v1/teams/emea", None, "204 403 403 403 403 403"),
    ("PUT", "/v1/holiday-lists/organisation", {"name": "Org", "holidays": []}, "200 403 403 403 403 403"),
    ("GET", "/v1/holiday-lists", None, "200 200 200 200 403 403"),
    ("GET", "/v1/holiday-lists/organisation", None, "404 404 404 404 403 403"),
    ("DELETE", "/v1/holiday-lists/organisation", None, "404 403 403 403 403 403"),
    ("PUT", "/v1/queues/later", {"name": "Call back later"}, "200 403 403 403 403 403"),
    ("GET", "/v1/queues", None, "200 200 403 403 403 403"),
    ("DELETE", "/v1/queues/none", None, "404 403 403 403 403 403"),
    ("PUT", "/v1/segments/big", {"priority": 1, "criteria": {"field": "score", "op": "gte", "value": 50}}, "200 403 403 403 403 403"),
    ("GET", "/v1/segments", None, "200 200 403 403 403 403"),
    ("DELETE", "/v1/segments/none", None, "404 403 403 403 403 403"),
    ("GET", "/v1/segments/none/preview", None, "404 404 403 403 403 403"),
    ("POST", "/v1/segments/big/preview", {"priority": 1, "match_all": True}, "200 200 403 403 403 403"),
    ("POST", "/v1/rulesets", {"name": "r", "rules": [RULE]}, "201 403 403 403 403 403"),
    ("GET", "/v1/rulesets", None, "200 200 403 403 403 403"),
    ("GET", "/v1/rulesets/1", None, "200 200 403 403 403 403"),
    ("PUT", "/v1/rulesets/1", {"name": "r", "rules": [RULE]}, "200 403 403 403 403 403"),
    ("DELETE", "/v1/rulesets/1", None, "204 403 403 403 403 403"),  # a draft
    ("POST", "/v1/rulesets/1/activate", None, "200 403 403 403 403 403"),
    ("POST", "/v1/rulesets/1/simulate", {"last": 10}, "200 200 403 403 403 403"),
    ("GET", "/v1/leads/{lead}/assignment", None, "200 200 200 404 403 403"),
    ("GET", "/v1/leads/{apac}/assignment", None, "200 404 404 200 403 403"),
    ("GET", "/v1/leads/{direct}/assignment", None, "200 200 200 404 403 403"),
    ("GET", "/v1/leads/{waiting}/assignment", None, "200 404 200 200 403 403"),
    ("POST", "/v1/leads/{waiting}/assignment/claim", None, "403 403 200 200 403 403"),
    ("POST", "/v1/leads/{lead}/assignment/claim", None, "403 403 200 404 403 403"),
    ("POST", "/v1/leads/{lead}/assignment", {"seller_id": "olga", "reason": "cover"}, "200 200 403 403 403 403"),
    ("POST", "/v1/leads/{apac}/assignment", {"seller_id": "sam", "reason": "cover"}, "200 404 403 403 403 403"),
    ("GET", "/v1/queue", None, "200 200 200 200 403 403"),
    ("POST", "/v1/queue/rerun", None, "200 200 403 403 403 403"),
    # revenue models: admins shape them; admins and sales managers move leads and read the figures;
    # a lead's revenue stage and activity are read like its assignment. {model} is a draft.
    ("POST", "/v1/revenue/models", {"name": "M"}, "201 403 403 403 403 403"),
    ("GET", "/v1/revenue/models", None, "200 200 403 403 403 403"),
    ("GET", "/v1/revenue/models/{model}", None, "200 200 403 403 403 403"),
    ("PUT", "/v1/revenue/models/{model}", "definition", "200 403 403 403 403 403"),
    ("PUT", "/v1/revenue/models/{model}/draft", "draft", "409 403 403 403 403 403"),  # only an approved model has one
    ("POST", "/v1/revenue/models/{model}/approve-draft", None, "409 403 403 403 403 403"),
    ("POST", "/v1/revenue/models/{model}/validate", None, "200 200 403 403 403 403"),
    ("POST", "/v1/revenue/models/{model}/approve-stages", None, "200 403 403 403 403 403"),
    ("POST", "/v1/revenue/models/{model}/approve", None, "409 403 403 403 403 403"),  # stages not approved yet
    ("POST", "/v1/revenue/models/{model}/unapprove", None, "409 403 403 403 403 403"),
    ("PATCH", "/v1/revenue/models/{model}/stages/new", {"name": "Fresh"}, "200 403 403 403 403 403"),
    ("POST", "/v1/revenue/models/{model}/stages/new/merge", {"into": "prospect"}, "409 403 403 403 403 403"),
    ("POST", "/v1/revenue/models/{model}/stage-changes", {"stage": "new"}, "409 409 403 403 403 403"),  # a draft moves nobody
    ("GET", "/v1/revenue/models/{model}/stage-changes/{model}", None, "404 404 403 403 403 403"),
    ("POST", "/v1/revenue/models/{model}/leads/{lead}/stage", {"stage": "new"}, "409 409 403 403 403 403"),
    ("POST", "/v1/revenue/models/{model}/leads/{apac}/stage", {"stage": "new"}, "409 404 403 403 403 403"),
    ("GET", "/v1/revenue/models/{model}/activity", None, "200 200 403 403 403 403"),
    ("GET", "/v1/revenue/models/{model}/analysis?from=2026-11-01&to=2026-11-08", None, "200 200 403 403 403 403"),
    ("GET", "/v1/revenue/models/{model}/analysis.svg?from=2026-11-01&to=2026-11-08", None, "200 200 403 403 403 403"),
    ("GET", "/v1/leads/{lead}/revenue-activity", None, "200 200 200 404 403 403"),
    ("GET", "/v1/leads/{lead}/revenue-stage?model_id={model}", None, "200 200 200 404 403 403"),
    ("GET", "/v1/api-keys", None, "200 403 403 403 403 403"),
    ("POST", "/v1/api-keys", {"name": "crm", "scopes": ["leads:write"]}, "201 403 403 403 403 403"),
    ("DELETE", "/v1/api-keys/nokey", None, "404 403 403 403 403 403"),
]  # fmt: skip


@cache
def tokens() -> dict[str, dict[str, str]]:
    def bearer(role: str, sub: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, sub=sub, **claims)}"}

    return {
        "admin": bearer("admin", "ada"),
        "mgr": bearer("sales_manager", "max", teams=["emea"]),
        "own": bearer("seller", "sam"),
        "other": bearer("seller", "olga"),
        "none": bearer("", "nobody"),
    }


def credentials(key: str) -> dict[str, dict[str, str]]:
    return {**tokens(), "key": {"X-API-Key": key}}


async def request(http: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]) -> int:
    if body == "csv":
        files = {"file": ("leads.csv", CSV.encode(), "text/csv")}
        return (await http.request(method, path, files=files, headers=headers)).status_code
    if body in ("definition", "draft"):
        definition = default_definition()
        body = {"name": "M", "definition": definition} if body == "definition" else {"definition": definition}
    if body == "contact":
        body = {"source": "crm", "contact_id": "c-9", "lifecycle_stage": "lead", "occurred_at": "2026-11-01T10:00:00Z"}
    return (await http.request(method, path, json=body, headers=headers)).status_code


@pytest.fixture(scope="module")
def worker() -> AsyncIterator[StoreWorker]:
    w = StoreWorker("matrix")
    yield w
    w.shutdown()


def membership(team_id: str, *members: str, version: int) -> TeamMembershipChangedV1:
    """What assignment publishes when sellers join a team."""
    return TeamMembershipChangedV1(
        aggregate_id=ROSTER, version=version, team_id=team_id, added=list(members), changed_at="2026-11-01T09:00:00Z"
    )


ROSTER = uuid.uuid4()


async def intake_world(
    worker: StoreWorker, *, self_assignment: bool = True
) -> tuple[httpx.AsyncClient, dict[str, str], dict[str, dict[str, str]]]:
    """A fresh intake with sam's lead (team emea), olga's (team apac), sam's placed in no team,
    one nobody owns, sam's converted into a customer (team emea, quote Q-0 linked) and sam's
    qualified with a deal; sam is in emea, olga in apac."""
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    api = intake_api(app, worker, {}, lead_list_of(app), authenticator(app, worker), self_assignment=self_assignment)
    _, key = app.execute(create_api_key, "crm", ["leads:write"], "test")
    app.execute(app.on_team_membership_changed, membership("emea", "sam", version=1))
    app.execute(app.on_team_membership_changed, membership("apac", "olga", version=2))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://intake")
    ids = {}
    for name, seller, team in (
        ("lead", "sam", "emea"),
        ("apac", "olga", "apac"),
        ("direct", "sam", None),
        ("unassigned", None, None),
    ):
        body = {**LEAD, "external_id": name}
        lead_id = (await http.post("/v1/leads", json=body, headers=credentials(key)["admin"])).json()["lead"]["lead_id"]
        if seller is not None:
            app.execute(app.on_assignment_decided, assigned(uuid.UUID(lead_id), seller, team))
        ids[name] = lead_id
    body = {**LEAD, "external_id": "converted", "contact": {"phone": "+442079460123"}}
    converted = (await http.post("/v1/leads", json=body, headers=credentials(key)["admin"])).json()["lead"]["lead_id"]
    app.execute(app.on_assignment_decided, assigned(uuid.UUID(converted), "sam", "emea"))
    ids["customer"] = str(app.execute(app.convert, uuid.UUID(converted), actor="ada"))
    app.execute(app.link_document, uuid.UUID(converted), actor="ada", kind="quote", number="Q-0")
    ids["converted"] = converted
    body = {**LEAD, "external_id": "qualified"}
    qualified = (await http.post("/v1/leads", json=body, headers=credentials(key)["admin"])).json()["lead"]["lead_id"]
    app.execute(app.on_assignment_decided, assigned(uuid.UUID(qualified), "sam", "emea"))
    deal = app.execute(app.qualify, uuid.UUID(qualified), actor="sam", deal={"name": "Pilot", "amount": 10.0})
    ids["qualified"], ids["deal"] = qualified, str(deal)
    return http, ids, credentials(key)


async def assignment_world(
    worker: StoreWorker, *, self_assignment: bool = True
) -> tuple[httpx.AsyncClient, dict[str, str], dict[str, dict[str, str]]]:
    """A fresh assignment with sam (emea) and olga (apac), one lead placed with each, one with
    sam in no team, and one waiting in the unassigned queue."""
    s = Scenario()
    waiting = s.lead("waiting")  # before any seller exists: it waits in the unassigned queue
    s.seller("sam", teams=["emea"]).seller("olga", teams=["apac"])
    s.rules({"name": "emea", "target": {"kind": "team", "team_id": "emea"}, "method": "round_robin"}, activate=False)
    lead, apac, direct = s.lead("lead"), s.lead("apac"), s.lead("direct")
    s.app.execute(s.app.assign_by_hand, lead, seller_id="sam", team_id="emea", reason="setup")
    s.app.execute(s.app.assign_by_hand, apac, seller_id="olga", team_id="apac", reason="setup")
    s.app.execute(s.app.assign_by_hand, direct, seller_id="sam", team_id=None, reason="setup")
    _, key = s.app.execute(create_api_key, "crm", ["leads:write"], "test")
    revenue_reads = RevenueReadModel(ProjectionRunner(s.app, SQLiteReadStore.in_memory(), RevenueProjection()))
    s.app.revenue.leads, s.app.revenue.counts = s.read_model, revenue_reads
    model = s.app.execute(s.app.revenue.create_model, "Funnel", "", None, "ada").id
    api = assignment_api(
        s.app,
        worker,
        {},
        s.read_model,
        authenticator(s.app, worker),
        self_assignment=self_assignment,
        revenue_reads=revenue_reads,
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://assignment")
    return (
        http,
        {"lead": str(lead), "apac": str(apac), "direct": str(direct), "waiting": str(waiting), "model": str(model)},
        credentials(key),
    )


@pytest.mark.parametrize(("method", "path", "body", "answers"), INTAKE, ids=[f"{m} {p}" for m, p, _, _ in INTAKE])
async def test_intake(worker: StoreWorker, method: str, path: str, body: Any, answers: str) -> None:
    await check(intake_world, worker, method, path, body, answers)


@pytest.mark.parametrize(
    ("method", "path", "body", "answers"), ASSIGNMENT, ids=[f"{m} {p}" for m, p, _, _ in ASSIGNMENT]
)
async def test_assignment(worker: StoreWorker, method: str, path: str, body: Any, answers: str) -> None:
    await check(assignment_world, worker, method, path, body, answers)


async def check(world: Any, worker: StoreWorker, method: str, path: str, body: Any, answers: str) -> None:
    got = {}
    for caller, expected in zip(CALLERS, answers.split(), strict=True):
        http, ids, headers = await world(worker)  # a fresh world per call: no call sees another's effects
        try:
            concrete = path.format(**ids)
            payload = body
            if isinstance(body, dict) and "merged_lead_id" in body:
                payload = {"merged_lead_id": ids["apac"]}
            got[caller] = (await request(http, method, concrete, payload, headers[caller]), int(expected))
        finally:
            await http.aclose()
    assert {c: g for c, (g, _) in got.items()} == {c: e for c, (_, e) in got.items()}


def test_the_table_names_every_operation_of_both_services(worker: StoreWorker) -> None:
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    s = Scenario()
    apis = {
        "intake": (intake_api(app, worker, {}, lead_list_of(app), authenticator(app, worker)), INTAKE),
        "assignment": (
            assignment_api(
                s.app,
                worker,
                {},
                s.read_model,
                authenticator(s.app, worker),
                revenue_reads=RevenueReadModel(
                    ProjectionRunner(s.app, SQLiteReadStore.in_memory(), RevenueProjection())
                ),
            ),
            ASSIGNMENT,
        ),
    }
    for name, (api, table) in apis.items():
        operations = {
            (method.upper(), path)
            for path, item in api.openapi()["paths"].items()
            for method in item
            if path not in PUBLIC_PATHS
        }
        named = {(method, _template(path)) for method, path, _, _ in table}
        assert operations - named == set(), f"{name}: operations missing from the matrix"


def _template(path: str) -> str:
    """The table's concrete path as the OpenAPI names it."""
    for concrete, template in (
        ("{lead}", "{lead_id}"),
        ("{apac}", "{lead_id}"),
        ("{unassigned}", "{lead_id}"),
        ("{direct}", "{lead_id}"),
        ("{waiting}", "{lead_id}"),
        ("{converted}", "{lead_id}"),
        ("{customer}", "{customer_id}"),
        ("{qualified}", "{lead_id}"),
        ("{deal}", "{deal_id}"),
        ("/documents/Q-0", "/documents/{number}"),
        ("/stage-changes/{model}", "/stage-changes/{run_id}"),
        ("{model}", "{model_id}"),
        ("/v1/sellers/sam", "/v1/sellers/{seller_id}"),
        ("/v1/sellers/new", "/v1/sellers/{seller_id}"),
        ("/v1/teams/emea", "/v1/teams/{team_id}"),
        ("/v1/holiday-lists/organisation", "/v1/holiday-lists/{list_id}"),
        ("/v1/queues/later", "/v1/queues/{queue_id}"),
        ("/v1/queues/none", "/v1/queues/{queue_id}"),
        ("/v1/segments/big", "/v1/segments/{name}"),
        ("/v1/segments/none", "/v1/segments/{name}"),
        ("/v1/rulesets/1", "/v1/rulesets/{version}"),
        ("/stages/new", "/stages/{stage_id}"),
        ("/stages/attempting", "/stages/{stage_id}"),
        ("/reasons/no_budget", "/reasons/{reason_id}"),
        ("/v1/api-keys/nokey", "/v1/api-keys/{key_id}"),
    ):
        if concrete in path and not path.endswith("/order"):
            path = path.replace(concrete, template)
    return path.split("?")[0]


async def test_self_assignment_off(worker: StoreWorker) -> None:
    """The default: sellers neither see nor take leads nobody owns; managers and admins are
    unaffected."""
    http, ids, headers = await intake_world(worker, self_assignment=False)
    try:
        got = [(await http.get(f"/v1/leads/{ids['unassigned']}", headers=headers[c])).status_code for c in CALLERS]
        assert got == [200, 404, 404, 404, 403, 403]
    finally:
        await http.aclose()
    http, ids, headers = await assignment_world(worker, self_assignment=False)
    try:
        queue = [(await http.get("/v1/queue", headers=headers[c])).status_code for c in CALLERS]
        assert queue == [200, 200, 403, 403, 403, 403]
        claim = await http.post(f"/v1/leads/{ids['waiting']}/assignment/claim", headers=headers["own"])
        assert claim.status_code == 403 and "ASSIGNMENT_SELF_ASSIGNMENT" in claim.json()["detail"]
        seen = await http.get(f"/v1/leads/{ids['waiting']}/assignment", headers=headers["own"])
        assert seen.status_code == 404
    finally:
        await http.aclose()
