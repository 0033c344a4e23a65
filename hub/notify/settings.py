"""How maintenance alerts are delivered: `[notify]` in the hub's TOML, one sub-table per channel."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from hub.notify.models import Channel

Language = Literal["fr", "en"]
# A delivery is claimed for CLAIM_S (see hub.notify.queue); a timeout must stay well below it.
MAX_TIMEOUT_S = 60.0


class EmailSettings(BaseModel):
    """An SMTP relay, e.g. the workshop's mail provider on 587 with STARTTLS."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "machinerie@localhost"
    recipients: list[str] = []
    timeout_s: float = Field(default=10.0, gt=0, le=MAX_TIMEOUT_S)
    language: Language = "fr"

    @model_validator(mode="after")
    def _has_recipients(self) -> Self:
        if self.enabled and not self.recipients:
            raise ValueError("notify.email is enabled but has no recipients")
        return self


class WebhookSettings(BaseModel):
    """An HTTP endpoint of the workshop's own tools (ticketing, chat) that receives each alert."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    url: str | None = None
    # Shared with the receiver, which checks X-Machinerie-Signature with it.
    secret: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=MAX_TIMEOUT_S)

    @model_validator(mode="after")
    def _has_url(self) -> Self:
        if self.enabled and not (self.url and self.url.startswith(("http://", "https://"))):
            raise ValueError("notify.webhook is enabled but its url is not an http(s) URL")
        return self


class MqttAlertSettings(BaseModel):
    """The alert topic on the hub's own broker, for dashboards and listeners on the site."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    timeout_s: float = Field(default=10.0, gt=0, le=MAX_TIMEOUT_S)  # waiting for the PUBACK


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailSettings = EmailSettings()
    webhook: WebhookSettings = WebhookSettings()
    mqtt: MqttAlertSettings = MqttAlertSettings()
    # Attempts per alert and channel before it is abandoned (logged at ERROR, counted).
    max_attempts: int = Field(default=8, ge=1)
    retry_initial_s: float = Field(default=30.0, gt=0)  # doubles after each failure ...
    retry_max_s: float = Field(default=3600.0, gt=0)  # ... up to this
    # How often the queue is looked at without a wake-up (another replica's or the CLI's alerts).
    poll_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _backoff_grows(self) -> Self:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("notify.retry_max_s must not be below notify.retry_initial_s")
        return self

    def enabled_channels(self) -> list[Channel]:
        switches = {
            Channel.EMAIL: self.email.enabled,
            Channel.WEBHOOK: self.webhook.enabled,
            Channel.MQTT: self.mqtt.enabled,
        }
        return [channel for channel, on in switches.items() if on]

    def timeout_s(self, channel: Channel) -> float:
        return {
            Channel.EMAIL: self.email.timeout_s,
            Channel.WEBHOOK: self.webhook.timeout_s,
            Channel.MQTT: self.mqtt.timeout_s,
        }[channel]
