"""`leadflow dlq`: --since, the service whose settings it uses, and every service's DEAD_LETTERS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer

from leadflow_shared.cli import SERVICES, choose_source, parse_since, source_of
from leadflow_shared.topics import LEAD_TOPICS, LEADS_EVENTS, LEADS_INBOUND, REDRIVE_LEDGER_TOPICS, SEQUENCES_SIGNALS

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("45s", NOW - timedelta(seconds=45)),
        ("1d", NOW - timedelta(days=1)),
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T10:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),  # no zone: UTC
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_since_is_a_time_or_a_duration_ago(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2 hours", "-2h", "2026-13-01"])
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_since(text, now=NOW)


def test_the_service_is_the_only_consumer_of_the_topic_or_named() -> None:
    assert choose_source(LEADS_INBOUND, None).service == "intake"
    assert choose_source(SEQUENCES_SIGNALS, None).service == "sequence"
    with pytest.raises(typer.BadParameter, match="--service"):
        choose_source(LEADS_EVENTS, None)  # assignment, sequence and referral consume it
    assert choose_source(LEADS_EVENTS, "referral").service == "referral"
    with pytest.raises(typer.BadParameter, match="intake consumes"):
        choose_source(SEQUENCES_SIGNALS, "intake")
    with pytest.raises(typer.BadParameter):
        source_of("billing")


def test_every_service_offers_its_dead_letters_with_its_own_settings() -> None:
    for name in SERVICES:
        source = source_of(name)
        assert source.service == name and source.consumes and set(source.consumes) <= set(LEAD_TOPICS)
        assert source.settings().service_name == name
    every_dlq = {f"{t}.dlq.redrives" for s in map(source_of, SERVICES) for t in s.consumes}
    assert every_dlq <= set(REDRIVE_LEDGER_TOPICS)
