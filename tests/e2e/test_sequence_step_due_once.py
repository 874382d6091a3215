"""A step falls due exactly once, across a SIGKILL in the middle of firing: 6,000 enrolments in a
running sequence process have their call snoozed to the same moment; the process is killed while
it fires them and started again. Every enrolment then has exactly one StepDue for that moment in
its stream, and sequences.events.v1 carries exactly one StepDue (aggregate id, version) for it
(a re-sent copy after the crash repeats the same version: the consumers' idempotency key)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from harness import new_prefix, read_topic

from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import INTEGRATION_EVENTS
from leadflow_tools import free_port
from leadflow_tools.stack import ServiceStack
from sequence.application import SequenceApplication
from sequence.domain import Enrolment
from sequence.settings import SequenceSettings

ENROLMENTS = 6_000
BATCH = 500
LEAD_TIME = 25.0
"""Seconds from seeding to the moment every call falls due again (the process starts meanwhile)."""


def seed(run_dir: Path, due: datetime) -> list[UUID]:
    """The sequence's store, as a running service would have it: one active sequence of a call,
    ENROLMENTS leads enrolled, each call snoozed until `due`."""
    app = SequenceApplication(
        env=SequenceSettings(run_dir=run_dir).eventsourcing_env(), clock=FixedClock(datetime.now(UTC))
    )
    steps = [{"id": "c1", "type": "call"}, {"id": "t1", "type": "task"}]
    sid = app.execute(app.create, name="calls", description="", steps=steps, settings={}, actor="admin")
    app.execute(app.activate, sid, actor="admin")
    enrolments: list[UUID] = []

    def batch(uow: Any) -> list[UUID]:
        made = []
        for _ in range(BATCH):
            enrolment_id = app.enrol(uow, uuid4(), sid, actor="admin")
            app.snooze(uow, enrolment_id, "c1", until=due, actor="sam")
            made.append(enrolment_id)
        return made

    for _ in range(ENROLMENTS // BATCH):
        enrolments += app.execute(batch)
    app.close()
    return enrolments


def step_dues(run_dir: Path, enrolments: list[UUID], due: datetime) -> dict[UUID, int]:
    app = SequenceApplication(env=SequenceSettings(run_dir=run_dir).eventsourcing_env())
    try:
        return {
            e: sum(1 for ev in app.events.get(e) if isinstance(ev, Enrolment.StepDue) and ev.due_at == due)  # type: ignore[attr-defined]
            for e in enrolments
        }
    finally:
        app.close()


@pytest.mark.chaos
async def test_a_step_falls_due_exactly_once_across_a_sigkill_and_restart(kafka_bootstrap: str, tmp_path: Path) -> None:
    due = (datetime.now(UTC) + timedelta(seconds=LEAD_TIME)).replace(microsecond=0)
    enrolments = seed(tmp_path, due)
    prefix = new_prefix()
    stack = ServiceStack(
        bootstrap=kafka_bootstrap,
        run_dir=tmp_path,
        topic_prefix=prefix,
        ports={"sequence": free_port()},
        services=("sequence",),
    )
    stack.start(timeout=120)
    try:
        # Given the process is firing the due calls, it is killed half-way,
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.0)
        stack.kill("sequence", signal.SIGKILL)
        before = step_dues(tmp_path, enrolments, due)
        fired_before = sum(before.values())
        assert 0 < fired_before < ENROLMENTS, f"the kill did not land mid-firing ({fired_before} fired)"
        # and started again: it fires the rest,
        stack.start_service("sequence")
        await asyncio.to_thread(stack.wait_ready, 120.0, ("sequence",))
        began = time.monotonic()
        while time.monotonic() - began < 120:
            after = step_dues(tmp_path, enrolments, due)
            if all(after.values()):
                break
            await asyncio.sleep(1.0)
    finally:
        stack.stop()
    # then each call fell due exactly once in its stream,
    assert sorted(set(after.values())) == [1], {
        n: sum(1 for v in after.values() if v == n) for n in set(after.values())
    }
    # and went out once per (enrolment, version) on sequences.events.v1.
    records = await read_topic(
        kafka_bootstrap, prefix + "sequences.events.v1", expect=3 * ENROLMENTS, settle=3.0, timeout=120
    )
    versions: dict[UUID, set[int]] = defaultdict(set)
    for record in records:
        event = INTEGRATION_EVENTS[dict(record.headers)["ce_type"].decode()].model_validate_json(record.value)
        if event.cloudevents_type == "sequence.step-due.v1" and event.due_at == due:  # type: ignore[attr-defined]
            versions[event.aggregate_id].add(event.version)
    assert set(versions) == set(enrolments) and {len(v) for v in versions.values()} == {1}
