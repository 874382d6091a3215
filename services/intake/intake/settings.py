from pydantic import Field
from pydantic_settings import SettingsConfigDict

from leadflow_shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service_name: str = "intake"
    http_port: int = 8001
    contact_sla_seconds: float = Field(default=4 * 3600, ge=0)
    """A lead that asked to be contacted (`contact_requested`) and is not followed up this long
    after it arrived is flagged `contact_overdue` (a durable deadline). 0: no SLA."""
    self_assignment: bool = False
    """Sellers may see and work leads nobody owns (the unassigned pool) and take them through
    assignment. Set it to the same value as ASSIGNMENT_SELF_ASSIGNMENT."""
