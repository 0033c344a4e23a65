"""The bridge's configuration: which controller and meter a machine has, and its limits.

It is the `[bridge]` table of the edge agent's TOML file. Simulators are chosen here, by
`simulated = true`, never as a fallback when a port is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_bridge.tracker import Limits

Seconds = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Simulation(Section):
    """Run the protocol's simulator in this process and follow it as the real device."""

    every_s: Seconds = 600.0  # a job starts this long after the previous one ended
    job_s: Seconds = 300.0


class SerialController(Section):
    kind: Literal["marlin", "grbl"]
    # A stable name: /dev/serial/by-id/usb-..., not /dev/ttyACM0 that moves between boots.
    port: str | None = None
    baudrate: Annotated[int, Field(ge=300, le=4_000_000)] = 115_200
    # "bridge": the bridge is the only program on the port. "other": OctoPrint, LightBurn or a
    # CNC sender owns it; opening it would reset the board or corrupt their stream, so the
    # bridge refuses (use the host's API, or a meter alone).
    owner: Literal["bridge", "other"] = "bridge"
    laser: bool = False  # GRBL in laser mode ($32=1): busy means firing, not spindle on
    # How often to ask for status: None is the protocol's own pace (GRBL 4 Hz, Marlin 2 s).
    poll_s: Seconds | None = None
    simulated: Simulation | None = None

    @model_validator(mode="after")
    def _where(self) -> SerialController:
        if self.simulated is None and self.port is None:
            raise ValueError("a serial controller needs `port` (or `simulated`)")
        return self


class MoonrakerController(Section):
    kind: Literal["moonraker"]
    url: str | None = None  # http://printer.local:7125
    api_key_file: Path | None = None
    simulated: Simulation | None = None


class PrusaLinkController(Section):
    kind: Literal["prusalink"]
    url: str | None = None  # http://printer.local
    user: str = "maker"
    password_file: Path | None = None
    poll_s: Seconds = 2.0
    simulated: Simulation | None = None


class OctoPrintController(Section):
    """Observer mode for a printer OctoPrint drives: its REST API, never the serial port."""

    kind: Literal["octoprint"]
    url: str | None = None  # http://octopi.local
    api_key_file: Path | None = None
    poll_s: Seconds = 2.0
    simulated: Simulation | None = None


Controller = Annotated[
    SerialController | MoonrakerController | PrusaLinkController | OctoPrintController,
    Field(discriminator="kind"),
]


class PzemMeter(Section):
    kind: Literal["pzem"]
    port: str | None = None
    address: Annotated[int, Field(ge=1, le=0xF8)] = 1
    poll_s: Seconds = 1.0
    simulated: Simulation | None = None


class ShellyMeter(Section):
    kind: Literal["shelly"]
    # The broker the Shelly publishes to; None: the edge agent's own broker.
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    prefix: str = "shellyplus1pm"  # the device's MQTT topic prefix, its id by default
    username: str | None = None
    password_file: Path | None = None
    switch_id: int = 0
    simulated: Simulation | None = None


Meter = Annotated[PzemMeter | ShellyMeter, Field(discriminator="kind")]


class BridgeConfig(Section):
    controller: Controller | None = None
    meter: Meter | None = None
    # No report for this long means the state is unknown: power stays, a flag goes up.
    stale_after_s: Seconds = 15.0
    # After a job, power stays until the machine has been quiet this long.
    cooldown_s: Annotated[float, Field(ge=0)] = 60.0
    # With a meter: above this the machine is not quiet yet (spindle running down, fans).
    idle_power_w: Annotated[float, Field(ge=0)] | None = None
    # With a meter and no controller: above this the machine is working.
    busy_power_w: Annotated[float, Field(ge=0)] | None = None
    telemetry_interval_s: Seconds = 5.0

    @model_validator(mode="after")
    def _something_to_follow(self) -> BridgeConfig:
        if self.controller is None and self.meter is None:
            raise ValueError("the bridge needs a controller, a meter, or both")
        if self.controller is None and self.busy_power_w is None:
            raise ValueError("a meter alone needs `busy_power_w` to tell work from standby")
        return self

    def limits(self) -> Limits:
        return Limits(
            stale_after_s=self.stale_after_s,
            cooldown_s=self.cooldown_s,
            idle_power_w=self.idle_power_w,
            busy_power_w=self.busy_power_w,
        )
