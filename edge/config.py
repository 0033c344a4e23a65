"""The agent's configuration: one TOML file, validated before any pin is touched."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.models import Ident
from contracts.topics import DEFAULT_PREFIX
from edge.errors import ConfigError
from firmware_bridge.config import BridgeConfig


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceConfig(Section):
    site: Ident
    device_id: Ident
    machine_id: Ident
    data_dir: Path = Path("/var/lib/machinerie/edge")


class MqttConfig(Section):
    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    protocol: Literal["3.1.1", "5"] = "5"
    username: str | None = None
    password_file: Path | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    prefix: str = DEFAULT_PREFIX
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None


class Mfrc522Config(Section):
    kind: Literal["mfrc522"]
    spi_bus: int = 0
    spi_device: int = 0
    spi_speed_hz: Annotated[int, Field(ge=100_000, le=10_000_000)] = 1_000_000
    reset_pin: int | str | None = 25
    irq_pin: int | str | None = None
    poll_interval_s: Annotated[float, Field(gt=0, le=1)] = 0.05


class WedgeConfig(Section):
    kind: Literal["wedge"]
    # e.g. /dev/input/by-id/usb-Sycreader_RFID-event-kbd
    device: Path
    # How the reader types the UID: hex as-is, or a decimal number to turn into hex.
    uid_format: Literal["hex", "decimal_be", "decimal_le"] = "hex"
    grab: bool = True


class SimulatedReaderConfig(Section):
    kind: Literal["simulated"]
    # Badge UIDs written one per line to this Unix socket are presented to the agent.
    socket: Path | None = None
    # Lines `<seconds-after-start> <uid>` presented on schedule.
    script: Path | None = None


ReaderConfig = Annotated[
    Mfrc522Config | WedgeConfig | SimulatedReaderConfig, Field(discriminator="kind")
]


class GpioConfig(Section):
    # gpiozero pin factory: "lgpio" on a Pi (the only one for a Pi 5), "mock" for the
    # simulator; None lets gpiozero choose.
    pin_factory: Literal["lgpio", "rpigpio", "pigpio", "native", "mock"] | None = None
    relay_pin: int | str = 17
    # False for the common active-low relay boards: `on()` drives the pin low.
    relay_active_high: bool = True
    led_pin: int | str | None = None
    buzzer_pin: int | str | None = None
    logout_pin: int | str | None = None
    # An input that is active while the machine runs a job (a current sensor, a controller
    # output); the firmware bridge replaces it with real job state.
    job_running_pin: int | str | None = None
    job_running_active_high: bool = True


class SessionConfig(Section):
    # End a session nobody has used for this long (no job, no badge); 0 disables.
    idle_timeout_s: Annotated[float, Field(ge=0)] = 20 * 60
    # Hard limit on one session; 0 disables.
    max_duration_s: Annotated[float, Field(ge=0)] = 0
    # How often an open session's heartbeat is written to disk: the most a power cut can
    # over-bill.
    heartbeat_s: Annotated[float, Field(gt=0, le=600)] = 15


class AccessConfig(Section):
    # Trusted hub keys: key id -> base64 of the raw 32-byte Ed25519 public key.
    trusted_keys: Annotated[dict[str, str], Field(min_length=1)]


class OutboxConfig(Section):
    # Bound on stored events. Beyond it non-billable events are refused (counted, alarmed);
    # session events are always stored.
    max_events: Annotated[int, Field(ge=100)] = 200_000
    alarm_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8
    # Events in flight before the hub's ack; resend everything unacked after ack_timeout_s.
    window: Annotated[int, Field(ge=1, le=1000)] = 200
    ack_timeout_s: Annotated[float, Field(gt=0)] = 30


class WatchdogConfig(Section):
    # Status publication period; the systemd watchdog period comes from WATCHDOG_USEC.
    status_interval_s: Annotated[float, Field(gt=0)] = 60


class EdgeConfig(Section):
    device: DeviceConfig
    mqtt: MqttConfig = MqttConfig()
    reader: ReaderConfig
    gpio: GpioConfig = GpioConfig()
    session: SessionConfig = SessionConfig()
    access: AccessConfig
    outbox: OutboxConfig = OutboxConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    # The machine's own controller and power meter: real job state, busy time and energy.
    bridge: BridgeConfig | None = None

    @model_validator(mode="after")
    def _one_job_source(self) -> EdgeConfig:
        if self.bridge is not None and self.gpio.job_running_pin is not None:
            raise ValueError("job state comes from the bridge or from job_running_pin, not both")
        return self


def load(path: Path) -> EdgeConfig:
    """Read and validate the agent's TOML file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse(raw, str(path))


def parse(raw: dict[str, object], source: str = "<config>") -> EdgeConfig:
    try:
        return EdgeConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigError(f"{source}: {problems}") from exc
