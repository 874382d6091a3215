from pydantic_settings import SettingsConfigDict

from leadflow_shared.settings import ServiceSettings


class SequenceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEQUENCE_", extra="ignore")

    service_name: str = "sequence"
    http_port: int = 8003
