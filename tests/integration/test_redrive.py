"""Redrive on real Kafka: sealed dead letters go back to their topic as they first arrived
(opened with intake's data keys); those of an erased lead stay unreadable and are not sent; the
`leadflow dlq` command lists and shows them without their personal data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from harness import as_bytes, headers_of, inbound_lead, new_prefix, produce, read_topic, started
from test_nothing_stalls import intake_on
from typer.testing import CliRunner

from intake.domain import lead_id_for
from intake.entrypoints.cli import cli
from leadflow_shared.cli import app
from leadflow_shared.kafka import kafka_security
from leadflow_shared.redrive import redrive
from leadflow_shared.topics import LEADS_INBOUND

pytestmark = pytest.mark.integration


async def test_sealed_dead_letters_are_redriven_as_they_arrived_and_an_erased_leads_are_not(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    service = intake_on(kafka_bootstrap, tmp_path, prefix)
    topic = prefix + LEADS_INBOUND
    bad_a = as_bytes(inbound_lead("redrive-a", score="high"))  # refused: about lead a, which does not exist
    good_b, bad_b = as_bytes(inbound_lead("redrive-b")), as_bytes(inbound_lead("redrive-b", score="high"))
    async with started(service):
        await produce(
            kafka_bootstrap,
            topic,
            [(b"key-a", bad_a, [("trace", b"t-1")]), (b"key-b", good_b, []), (b"key-b", bad_b, [])],
        )
        letters = await read_topic(kafka_bootstrap, topic + ".dlq", expect=2)
        assert all("leadflow_sealed" in headers_of(r) for r in letters)
        assert not any(b"redrive-" in (r.value or b"") + (r.key or b"") for r in letters)  # sealed
        await service.worker.call(
            service.app.execute, service.app.erase, lead_id_for("web-form", "redrive-b"), actor="test"
        )

        report = await redrive(topic, kafka_bootstrap, service.app.data_keys, security=kafka_security(service.settings))
        assert (report.redriven, report.erased, report.truncated) == (1, 1, 0)
        # still refused (nothing was fixed): dead-lettered again, sealed again
        letters = await read_topic(kafka_bootstrap, topic + ".dlq", expect=3)
        assert len(letters) == 3 and all("leadflow_sealed" in headers_of(r) for r in letters)
        # a second run, from intake's command line, sends only that new letter: the redrive ledger
        # lists the first; the erased one is still unreadable
        settings = service.settings
        env = {
            "INTAKE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "INTAKE_TOPIC_PREFIX": prefix,
            "INTAKE_SQLITE_PATH": str(settings.sqlite_path),
            "INTAKE_RUN_DIR": str(settings.run_dir),
        }
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["redrive-dead-letters"], env=env)
        assert result.exit_code == 0, result.output
        said = " ".join(result.output.split())
        assert "redrove 1 message(s)" in said and "1 already redriven" in said and "skipped 1 of erased" in said
        refused = await asyncio.to_thread(CliRunner().invoke, cli, ["redrive-dead-letters", "--topic", "x"], env=env)
        assert refused.exit_code == 2 and "leads.inbound.v1" in refused.output

        # `leadflow dlq list` / `show`: intake is the only consumer of the inbound topic
        listed = await asyncio.to_thread(CliRunner().invoke, app, ["dlq", "list", "--topic", LEADS_INBOUND], env=env)
        assert listed.exit_code == 0, listed.output
        rows = [line for line in listed.output.splitlines() if f"{topic}:" in line]
        assert len(rows) >= 3 and all(" sealed " in row for row in rows)
        assert sum(" yes " in row for row in rows) == 2 and "2 redriven" in listed.output
        partition, offset = rows[0].split()[0].split(":")
        shown = await asyncio.to_thread(
            CliRunner().invoke, app, ["dlq", "show", "-t", LEADS_INBOUND, "-p", partition, "-o", offset], env=env
        )
        assert shown.exit_code == 0 and "sealed — they hold personal data" in shown.output
        for said_to_sre in (listed.output, shown.output):
            assert "redrive-" not in said_to_sre and "Lovelace" not in said_to_sre and "example.com" not in said_to_sre

        records = await read_topic(kafka_bootstrap, topic, expect=5, settle=1.0)
        sent_again = [r for r in records if r.value == bad_a]
        assert len(sent_again) == 3 and len(records) == 5  # a's message three times, b's re-send once
        assert all((r.key, [(k, v) for k, v in r.headers]) == (b"key-a", [("trace", b"t-1")]) for r in sent_again)


async def test_a_message_redriven_twice_is_consumed_again(kafka_bootstrap: str, tmp_path: Path) -> None:
    """A redriven message arrives in a Kafka transaction: behind it, the commit marker takes an
    offset no consumer sees. The next message (redriven again) must still be consumed."""
    prefix = new_prefix()
    service = intake_on(kafka_bootstrap, tmp_path, prefix)
    topic = prefix + LEADS_INBOUND
    async with started(service):
        await produce(kafka_bootstrap, topic, [(b"key-a", as_bytes(inbound_lead("twice", score="high")), [])])
        await read_topic(kafka_bootstrap, topic + ".dlq", expect=1)
        for refused in (2, 3):
            await redrive(topic, kafka_bootstrap, service.app.data_keys, security=kafka_security(service.settings))
            letters = await read_topic(kafka_bootstrap, topic + ".dlq", expect=refused, timeout=15)
            assert len(letters) == refused, f"the redriven message was not consumed ({len(letters)} dead letters)"
