"""schemathesis over the four services' OpenAPI documents, authenticated as an admin: whatever
the generated input, no operation answers with a 5xx (issue 9). A bounded number of examples
per operation, derandomized, so a run is repeatable and short."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from assignment_scenario import Scenario
from auth_helpers import authenticator, token
from hypothesis import HealthCheck, settings
from intake_world import lead_list_of
from referral_world import referral_list_of
from sequence_world import SequenceWorld

from assignment.entrypoints.api import create_api as assignment_api
from assignment.projections import RevenueProjection, RevenueReadModel
from intake.application import IntakeApplication
from intake.entrypoints.api import create_api as intake_api
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import StoreWorker
from referral.application import ReferralApplication
from referral.entrypoints.api import create_api as referral_api

pytestmark = pytest.mark.unit
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
EXAMPLES = 15

_worker = StoreWorker("schemathesis")
_intake = IntakeApplication(env=POPO)
_lead_list = lead_list_of(_intake)
_scenario = Scenario()
_revenue_reads = RevenueReadModel(ProjectionRunner(_scenario.app, SQLiteReadStore.in_memory(), RevenueProjection()))
_scenario.app.revenue.leads, _scenario.app.revenue.counts = _scenario.read_model, _revenue_reads
_sequence, _referral = SequenceWorld(), ReferralApplication(env=POPO)
APIS = {
    "intake": intake_api(_intake, _worker, {}, _lead_list, authenticator(_intake, _worker)),
    "assignment": assignment_api(
        _scenario.app,
        _worker,
        {},
        _scenario.read_model,
        authenticator(_scenario.app, _worker),
        revenue_reads=_revenue_reads,
    ),
    "sequence": _sequence.api,
    "referral": referral_api(_referral, _worker, {}, referral_list_of(_referral), authenticator(_referral, _worker)),
}
ADMIN = {"Authorization": f"Bearer {token('admin', sub='schemathesis')}"}
_run = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _no_server_error(case: Any) -> None:
    response = case.call(headers=ADMIN)
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:500])


intake_schema = schemathesis.openapi.from_asgi("/openapi.json", APIS["intake"])
assignment_schema = schemathesis.openapi.from_asgi("/openapi.json", APIS["assignment"])
sequence_schema = schemathesis.openapi.from_asgi("/openapi.json", APIS["sequence"])
referral_schema = schemathesis.openapi.from_asgi("/openapi.json", APIS["referral"])


@intake_schema.parametrize()
@_run
def test_intake(case: Any) -> None:
    _lead_list.runner.catch_up()  # what the service's projection runner does as commands commit
    _no_server_error(case)


@assignment_schema.parametrize()
@_run
def test_assignment(case: Any) -> None:
    _no_server_error(case)


@sequence_schema.parametrize()
@_run
def test_sequence(case: Any) -> None:
    _sequence.read_model.runner.catch_up()
    _no_server_error(case)


@referral_schema.parametrize()
@_run
def test_referral(case: Any) -> None:
    _no_server_error(case)
