from email.utils import parseaddr
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from leadflow_shared.settings import ServiceSettings

from .directory import IntakeDirectory
from .mail import SmtpSettings


class SequenceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEQUENCE_", extra="ignore")

    service_name: str = "sequence"
    http_port: int = 8003
    intake_url: str = "http://127.0.0.1:8001"
    """Where the mailer reads a lead's personal fields (`GET /v1/leads/{id}/contact`)."""
    intake_api_key: SecretStr | None = None
    intake_api_key_file: Path | None = None
    """intake's API key (scope `leads:contact`), or a file holding it: read when first needed, so it
    may appear after the start (`make run` writes `.run/secrets/sequence-intake.key`)."""
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS (the server's certificate is verified)."""
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    """A login, only over STARTTLS: never sent in the clear."""
    smtp_sender: str = "leadflow@localhost"
    """The From of automated e-mails: `Leadflow <sales@example.com>` or a bare address."""
    smtp_timeout_seconds: float = Field(default=10, gt=0, le=300)

    @model_validator(mode="after")
    def _smtp_login_is_safe(self) -> Self:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SEQUENCE_SMTP_USERNAME and SEQUENCE_SMTP_PASSWORD go together")
        if self.smtp_username is not None and not self.smtp_starttls:
            raise ValueError("an SMTP login needs SEQUENCE_SMTP_STARTTLS=true: credentials are never sent in the clear")
        if "@" not in parseaddr(self.smtp_sender)[1]:
            raise ValueError(f"SEQUENCE_SMTP_SENDER {self.smtp_sender!r} is not an e-mail address")
        return self

    def smtp(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            starttls=self.smtp_starttls,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            sender=self.smtp_sender,
            timeout_seconds=self.smtp_timeout_seconds,
        )

    @model_validator(mode="after")
    def _one_intake_key(self) -> Self:
        if self.intake_api_key is not None and self.intake_api_key_file is not None:
            raise ValueError("set SEQUENCE_INTAKE_API_KEY or SEQUENCE_INTAKE_API_KEY_FILE, not both")
        return self

    def directory(self) -> IntakeDirectory:
        """intake as the mailer's lead directory (the caller closes it: `aclose()`)."""
        key = self.intake_api_key.get_secret_value() if self.intake_api_key else None
        return IntakeDirectory(self.intake_url, api_key=key, api_key_file=self.intake_api_key_file)
