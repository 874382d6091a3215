from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from leadflow_shared.settings import ServiceSettings


class AssignmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSIGNMENT_", extra="ignore")

    service_name: str = "assignment"
    http_port: int = 8002
    roster_file: Path | None = None
    """JSON list of {"seller_id", "name", ...optional seller fields} loaded at start (idempotently)."""
    rerun_interval_seconds: float = Field(default=60.0, ge=0)
    """How often waiting leads are tried again; 0 turns the periodic re-run off."""
    segment_moves_allowed: bool = True
    """May a lead that changes move from one segment to another (it may always join one)?"""
    recycle_excludes_previous_owner: bool = True
    """A recycled lead never goes straight back to the seller who had it."""
    auto_assign: bool = True
    """New upstream leads (and recycled or reopened ones) are assigned by the rules at once.
    Off: they wait in the unassigned pool until a manager assigns them (or a seller takes one
    with self-assignment); the periodic re-run leaves them there too."""
    self_assignment: bool = False
    """Sellers may list the unassigned pool (`GET /v1/queue`) and take a lead from it
    (`POST /v1/leads/{id}/assignment/claim`). Set it to the same value as INTAKE_SELF_ASSIGNMENT."""
