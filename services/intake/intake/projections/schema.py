"""The lead-list read model's tables. Plain SQL types that mean the same in SQLite and PostgreSQL.

Timestamps are ISO-8601 strings in UTC with microseconds, so text order is time order in
both databases; booleans are 0/1. Nothing here holds a wall-clock value: every column is
derived from events alone, which is what makes a rebuilt model equal the live one.
"""

from __future__ import annotations

from leadflow_shared.readstore import Tx

LEADS = "intake_rm_leads"
FAVORITES = "intake_rm_favorites"
TEAM_MEMBERS = "intake_rm_team_members"
TABLES = (LEADS, FAVORITES, TEAM_MEMBERS)
"""Every table of the lead list, in the order they are dumped and dropped."""

PRIMARY_KEYS = {LEADS: "lead_id", FAVORITES: "user_id, lead_id", TEAM_MEMBERS: "team_id, seller_id"}

LEAD_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "version",
    "source",
    "external_id",
    "lead_type",
    "status",
    "voided",
    "archived",
    "merged_into",
    "stage_id",
    "owner_id",
    "team_id",
    "campaign_id",
    "score",
    "first_name",
    "last_name",
    "company_name",
    "search_text",
    "contact",
    "company",
    "lifecycle_stage",
    "qualification",
    "customer_id",
    "follow_ups",
    "last_follow_up_at",
    "last_follower",
    "documents",
    "associations",
    "possible_duplicates",
    "absorbed",
    "occurred_at",
    "received_at",
    "received_via",
    "updated_at",
)

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {LEADS} (
        lead_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        lead_type TEXT NOT NULL,
        status TEXT NOT NULL,
        voided INTEGER NOT NULL,
        archived INTEGER NOT NULL,
        merged_into TEXT,
        stage_id TEXT,
        owner_id TEXT,
        team_id TEXT,
        campaign_id TEXT,
        score INTEGER,
        first_name TEXT,
        last_name TEXT,
        company_name TEXT,
        search_text TEXT NOT NULL,
        contact TEXT NOT NULL,
        company TEXT NOT NULL,
        lifecycle_stage TEXT,
        qualification TEXT,
        customer_id TEXT,
        follow_ups INTEGER NOT NULL,
        last_follow_up_at TEXT,
        last_follower TEXT,
        documents INTEGER NOT NULL,
        associations INTEGER NOT NULL,
        possible_duplicates TEXT NOT NULL,
        absorbed TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        received_via TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_received ON {LEADS} (received_at, lead_id)",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_status ON {LEADS} (status)",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_type ON {LEADS} (lead_type)",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_owner ON {LEADS} (owner_id)",
    f"CREATE INDEX IF NOT EXISTS {LEADS}_stage ON {LEADS} (stage_id)",
    f"""CREATE TABLE IF NOT EXISTS {FAVORITES} (
        user_id TEXT NOT NULL,
        lead_id TEXT NOT NULL,
        favorited_at TEXT NOT NULL,
        PRIMARY KEY (user_id, lead_id)
    )""",
    f"CREATE INDEX IF NOT EXISTS {FAVORITES}_lead ON {FAVORITES} (lead_id)",
    # assignment's teams (from sellers.events.v1): which sellers' leads a sales manager sees
    f"""CREATE TABLE IF NOT EXISTS {TEAM_MEMBERS} (
        team_id TEXT NOT NULL,
        seller_id TEXT NOT NULL,
        PRIMARY KEY (team_id, seller_id)
    )""",
    f"CREATE INDEX IF NOT EXISTS {TEAM_MEMBERS}_seller ON {TEAM_MEMBERS} (seller_id)",
)

# Serialises schema changes between processes sharing one PostgreSQL database.
_SCHEMA_LOCK_KEY = 7_305_113_001


def create(tx: Tx) -> None:
    if tx.dialect == "postgres":
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK_KEY,))
    for statement in _DDL:
        tx.execute(statement)


def drop(tx: Tx) -> None:
    if tx.dialect == "postgres":
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK_KEY,))
    for table in TABLES:
        tx.execute(f"DROP TABLE IF EXISTS {table}")


def dump(tx: Tx) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in key order: what "the rebuilt model equals the live one" compares."""
    return {table: tx.fetchall(f"SELECT * FROM {table} ORDER BY {PRIMARY_KEYS[table]}") for table in TABLES}


def counts(tx: Tx) -> dict[str, int]:
    return {table: int(tx.fetchone(f"SELECT COUNT(*) FROM {table}")[0]) for table in TABLES}  # type: ignore[index]
