"""Typed settings: one env prefix per service, embedded defaults only in local mode."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUN_DIR = REPO_ROOT / ".run"


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set `env_prefix` and `http_port`.

    `mode=local` (the default) runs on embedded defaults: a broker on 127.0.0.1:9092 and a
    SQLite store under the run folder. `mode=production` refuses to start unless the broker
    and PostgreSQL are named explicitly, so a deployment never falls back to SQLite by accident.
    """

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    mode: Literal["local", "production"] = "local"
    kafka_bootstrap: str | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = None
    """The CA that signed the brokers' certificates (none: the system's trusted CAs)."""
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    """A client certificate and key, for brokers that ask for one (mutual TLS)."""
    kafka_allow_plaintext: bool = False
    """Production mode refuses an unencrypted, unauthenticated broker connection unless this is set."""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    run_dir: Path = DEFAULT_RUN_DIR
    sqlite_path: Path | None = None
    sqlite_lock_timeout: int = Field(default=10, ge=1)
    """Seconds a write waits for SQLite's lock before it fails (and is retried)."""
    postgres_host: str | None = None
    postgres_port: int = 5432
    postgres_user: str = "leadflow"
    postgres_password: str = ""
    postgres_dbname: str | None = None
    topic_prefix: str = ""
    """Prepended to every topic name: several environments (or test runs) on one cluster."""
    lead_topic_partitions: int = Field(default=6, ge=1, le=256)
    topic_replication_factor: int = Field(default=3, ge=1, le=16)
    """Production mode refuses to start while a topic it uses is missing, has fewer partitions
    than `lead_topic_partitions` or fewer replicas than this; local mode creates missing topics
    with this many replicas (at most as many as there are brokers)."""
    consumer_group: str | None = None
    relay_batch_size: int = Field(default=1000, ge=1, le=10_000)
    relay_idle_poll_seconds: float = Field(default=0.5, gt=0)
    consumer_max_records: int = Field(default=1000, ge=1, le=10_000)
    """Records per poll, across the subscription's partitions."""
    stuck_after_attempts: int = Field(default=5, ge=1)
    stuck_after_seconds: float = Field(default=30.0, gt=0)
    """A message retried this often or this long, a relay or projection failing, a message
    parked this long waiting for an earlier version: /readyz answers 503 naming it."""
    dead_letter_max_bytes: int = Field(default=512 * 1024, ge=4096, le=900 * 1024)
    deadline_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    """How often the deadline runner looks for due deadlines (sooner when one is due sooner)."""
    deadline_page_size: int = Field(default=500, ge=1, le=10_000)
    deadline_behind_seconds: float = Field(default=60.0, gt=0)
    """A due deadline not fired this long after its due time: /readyz answers 503 naming it."""
    auth_issuer: str | None = None
    """The identity provider's issuer (`iss`); local mode: the development issuer."""
    auth_audience: str = "leadflow"
    auth_jwks_url: str | None = None
    """Where the provider publishes its signing keys (https://…/jwks.json, or file:<path>);
    local mode: the development issuer's file under the run folder."""
    auth_roles_claim: str = "roles"
    """The token claim holding the caller's roles (dotted for nested ones: realm_access.roles)."""
    rate_limit_per_second: float = Field(default=20.0, ge=0)
    """Requests a second each caller (API key or user) may make on average; 0: no limit."""
    rate_limit_burst: int = Field(default=100, ge=1)
    """Requests a caller may make at once before the average applies (429 with Retry-After)."""
    gc_full_pass_every: int = Field(default=100, ge=1, le=10_000)
    """Python's cycle collector walks every long-lived object at most once per this many of its
    middle-generation passes (Python's own default: 10). Each walk stops the service; see
    `runtime.settle_garbage_collector`."""
    log_format: Literal["json", "text"] = "json"
    """Log lines as one JSON object each (timestamp, level, service, logger, message, and the
    CloudEvents id, aggregate id and trace id when known), or as plain text. Tracing itself is
    configured by the standard OTEL_* variables (see leadflow_shared.telemetry)."""

    @model_validator(mode="after")
    def _production_needs_real_infrastructure(self) -> ServiceSettings:
        if self.mode == "production":
            required = (
                ("kafka_bootstrap", self.kafka_bootstrap),
                ("postgres_host", self.postgres_host),
                ("auth_issuer", self.auth_issuer),
                ("auth_jwks_url", self.auth_jwks_url),
            )
            missing = [name for name, value in required if not value]
            if missing:
                prefix = self.model_config.get("env_prefix", "")
                raise ValueError("production mode needs " + ", ".join(f"{prefix}{m.upper()}" for m in missing))
            if self.kafka_security_protocol == "PLAINTEXT" and not self.kafka_allow_plaintext:
                prefix = self.model_config.get("env_prefix", "")
                raise ValueError(
                    f"production mode refuses a plaintext Kafka connection: set {prefix}KAFKA_SECURITY_PROTOCOL "
                    f"(SASL_SSL or SSL), or {prefix}KAFKA_ALLOW_PLAINTEXT=true"
                )
        return self

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> ServiceSettings:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            prefix = self.model_config.get("env_prefix", "")
            raise ValueError(f"{self.kafka_security_protocol} needs {prefix}KAFKA_SASL_USERNAME and _PASSWORD")
        return self

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or "127.0.0.1:9092"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"leadflow-{self.service_name}"

    @property
    def uses_postgres(self) -> bool:
        return self.postgres_host is not None

    def postgres_conninfo(self) -> str:
        """libpq connection string of the service's PostgreSQL database (uses_postgres only)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.postgres_host,
            port=self.postgres_port,
            user=self.postgres_user,
            password=self.postgres_password,
            dbname=self.postgres_dbname or self.service_name,
        )

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment the eventsourcing library reads to build the event store."""
        if self.uses_postgres:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": self.postgres_dbname or self.service_name,
                "POSTGRES_HOST": str(self.postgres_host),
                "POSTGRES_PORT": str(self.postgres_port),
                "POSTGRES_USER": self.postgres_user,
                "POSTGRES_PASSWORD": self.postgres_password,
                "POSTGRES_POOL_SIZE": "4",
                "POSTGRES_MAX_OVERFLOW": "4",
                "CREATE_TABLE": "y",
                # Other processes may write the same store, yet a cached aggregate is used as it
                # is: a stale one makes the write conflict (it is then reloaded and the batch
                # applied again), and reads ask the store for newer events (`latest`).
                "AGGREGATE_CACHE_FASTFORWARD": "n",
            }
        path = self.sqlite_path or self.run_dir / "stores" / f"{self.service_name}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": str(self.sqlite_lock_timeout),
            "CREATE_TABLE": "y",
            # A SQLite store has one writer, this process: what it committed is what the cache
            # holds, so cached aggregates are used as they are.
            "AGGREGATE_CACHE_FASTFORWARD": "n",
        }
