"""The hub's settings: defaults, then an optional TOML file, then `MACHINERIE_HUB_*` variables.

Nested sections read `[mqtt]`, `[api]`, `[ingest]`, `[billing]`, `[telemetry]`, `[maintenance]`
and `[notify]` in TOML and
`MACHINERIE_HUB_MQTT__HOST` style in the environment; anything not given falls back to an
embedded single-host setup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from contracts.topics import DEFAULT_PREFIX
from hub.billing.settings import BillingSettings
from hub.devices import HUB_USERNAME, hub_password
from hub.devices.settings import DeviceWatchSettings
from hub.errors import Invalid, NotFound
from hub.ingest.consumer import IngestSettings
from hub.maintenance.settings import MaintenanceSettings
from hub.notify.settings import NotifySettings
from hub.telemetry.settings import TelemetrySettings

DEFAULT_DATA_DIR = Path("/var/lib/machinerie/hub")
DATABASE_FILE = "hub.db"
Protocol = Literal["3.1.1", "5"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    protocol: Protocol = "5"
    username: str = HUB_USERNAME
    # None: the password hub.devices generated for the hub's broker account (data folder).
    password: SecretStr | None = None
    # The persistent session's id: stable across restarts, distinct for each hub replica.
    client_id: str = "machinerie-hub"
    # Replicas in one shared-subscription group split the event stream between them.
    group: str | None = None
    prefix: str = DEFAULT_PREFIX


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # The console's cookies are Secure on https requests; set this behind a TLS-ending proxy.
    secure_cookies: bool = False


class IngestTuning(BaseModel):
    batch_max: int = Field(default=500, ge=1)
    batch_wait_s: float = Field(default=0.005, ge=0)


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MACHINERIE_HUB_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = DEFAULT_DATA_DIR
    # None: SQLite in the data folder (the embedded default).
    database_url: str | None = None
    # None: every site in the database; set it when each site runs its own hub.
    site_id: str | None = None
    log_level: LogLevel = "INFO"
    # How often the access-list version is read, to notice other replicas' and the CLI's writes.
    acl_poll_s: float = Field(default=1.0, gt=0)
    mqtt: MqttSettings = MqttSettings()
    api: ApiSettings = ApiSettings()
    ingest: IngestTuning = IngestTuning()
    billing: BillingSettings = BillingSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    notify: NotifySettings = NotifySettings()
    devices: DeviceWatchSettings = DeviceWatchSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment beats the file, so a systemd drop-in can override one value.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / DATABASE_FILE}"

    def mqtt_password(self) -> str:
        given = self.mqtt.password
        return given.get_secret_value() if given is not None else hub_password(self.data_dir)

    def ingest_settings(self) -> IngestSettings:
        m = self.mqtt
        return IngestSettings(
            host=m.host,
            port=m.port,
            username=m.username,
            password=self.mqtt_password(),
            client_id=m.client_id,
            group=m.group,
            protocol=m.protocol,
            prefix=m.prefix,
            batch_max=self.ingest.batch_max,
            batch_wait_s=self.ingest.batch_wait_s,
        )


def load_settings(config: Path | None = None, **values: Any) -> HubSettings:
    """Settings from `config` (a TOML file) if given, the environment, and `values` on top."""
    if config is not None and not config.is_file():
        raise NotFound(f"no hub configuration file at {config}")

    class FromFile(HubSettings):
        model_config = SettingsConfigDict(toml_file=config)

    try:
        return HubSettings(**values) if config is None else FromFile(**values)
    except ValueError as exc:  # pydantic's ValidationError and tomllib's TOMLDecodeError
        where = config or "the MACHINERIE_HUB_* environment"
        raise Invalid(f"bad hub settings in {where}: {exc}") from exc
