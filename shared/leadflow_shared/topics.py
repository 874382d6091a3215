"""Topic names: one place, so a reader sees the whole event flow."""

LEADS_INBOUND = "leads.inbound.v1"
LEADS_EVENTS = "leads.events.v1"
ASSIGNMENTS_EVENTS = "assignments.events.v1"
SELLERS_EVENTS = "sellers.events.v1"
REVENUE_EVENTS = "revenue.events.v1"
SEQUENCES_EVENTS = "sequences.events.v1"
SEQUENCES_SIGNALS = "sequences.signals.v1"
REFERRALS_INBOUND = "referrals.inbound.v1"
REFERRALS_EVENTS = "referrals.events.v1"

LEAD_TOPICS = (
    LEADS_INBOUND,
    LEADS_EVENTS,
    ASSIGNMENTS_EVENTS,
    SELLERS_EVENTS,
    REVENUE_EVENTS,
    SEQUENCES_EVENTS,
    SEQUENCES_SIGNALS,
    REFERRALS_INBOUND,
    REFERRALS_EVENTS,
)


def dead_letter_topic(topic: str) -> str:
    """Where undecodable or invalid messages from `topic` go, with their error."""
    return f"{topic}.dlq"


ALL_TOPICS = LEAD_TOPICS + tuple(
    dead_letter_topic(t)
    for t in (
        LEADS_INBOUND,
        LEADS_EVENTS,
        ASSIGNMENTS_EVENTS,
        SELLERS_EVENTS,
        SEQUENCES_SIGNALS,
        REFERRALS_INBOUND,
        REFERRALS_EVENTS,
    )
)


def redrive_ledger_topic(topic: str) -> str:
    """Which of `topic`'s dead letters were redriven: one record per redriven letter, written in
    the same Kafka transaction as the message sent back to `topic` (see `redrive`)."""
    return f"{dead_letter_topic(topic)}.redrives"


REDRIVE_LEDGER_TOPICS = tuple(
    redrive_ledger_topic(dead.removesuffix(".dlq")) for dead in ALL_TOPICS if dead.endswith(".dlq")
)
"""Made by `leadflow dlq redrive` when missing (one partition, kept forever). Not yet in
ALL_TOPICS: the Kubernetes topic declarations have to list them first."""

REDRIVE_LEDGER_CONFIG = {"retention.ms": "-1"}
"""A ledger record must outlive its dead letter, or the letter could be redriven twice."""

TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    # Membership changes are few and a consumer started from scratch needs all of them.
    SELLERS_EVENTS: {"retention.ms": "-1"},
}
"""Per-topic settings applied when a service creates the topic (by the name without prefix)."""
