from pydantic import Field
from pydantic_settings import SettingsConfigDict

from leadflow_shared.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
    http_port: int = 8004
    answer_within_days: float = Field(default=14, gt=0, le=365)
    """A referral nobody accepts or declines within this long expires (a durable deadline)."""
