from pathlib import Path

from pydantic_settings import SettingsConfigDict

from leadflow_shared.settings import ServiceSettings


class AssignmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSIGNMENT_", extra="ignore")

    service_name: str = "assignment"
    http_port: int = 8002
    roster_file: Path | None = None
    """JSON list of {"seller_id", "name"} loaded at start (idempotently)."""
