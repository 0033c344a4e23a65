"""The demo's machines as their controllers see them: simulated GRBL, Marlin, Moonraker and
PrusaLink controllers and a PZEM power meter, each followed by the real bridge adapter.

The simulators run on real time; the demo's artisans start jobs of a few workshop minutes,
which the scaled clock of the edge agents turns into the right busy time.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_bridge.errors import BridgeError
from firmware_bridge.grbl.sim import GrblSimulator
from firmware_bridge.marlin.sim import MarlinSimulator
from firmware_bridge.moonraker.sim import MoonrakerSimulator
from firmware_bridge.prusalink.sim import PrusaLinkSimulator
from firmware_bridge.pzem.sim import PzemSimulator
from firmware_bridge.simport import PtyServer

LASER_WORKING_W = 1650.0  # tube, chiller and exhaust while cutting
LASER_STANDBY_W = 140.0  # chiller and controller alone
MIRROR_S = 0.1


@dataclass
class Rig:
    """One machine's simulated controller (and meter), and the bridge table to follow it."""

    kind: str
    controller: dict[str, object]
    start: Callable[[str, float], None]
    meter: dict[str, object] | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def bridge_table(self, speed: float) -> dict[str, object]:
        """The agent's [bridge] table; limits in workshop seconds, as the agent's clock runs."""
        table: dict[str, object] = {
            "controller": self.controller,
            "stale_after_s": 15 * speed,  # fifteen real seconds of silence
            "cooldown_s": 120.0,
            "telemetry_interval_s": 300.0,
        }
        if self.meter is not None:
            table |= {"meter": self.meter, "idle_power_w": 400.0}
        return table

    def start_job(self, name: str, seconds: float) -> None:
        """An artisan starts a job of `seconds` real seconds; a busy machine ignores it."""
        with contextlib.suppress(BridgeError):
            self.start(name, seconds)

    def stop(self) -> None:
        for close in reversed(self.closers):
            close()


def open_rig(kind: str, folder: Path) -> Rig:
    """A started simulated controller of `kind`; secrets it needs are written under `folder`."""
    match kind:
        case "cnc_mill":
            return _grbl(GrblSimulator(laser=False))
        case "laser_cutter":
            return _laser()
        case "marlin":
            return _marlin()
        case "moonraker":
            return _moonraker()
        case "prusalink":
            return _prusalink(folder)
    raise ValueError(f"no simulated controller for {kind!r}")


def _grbl(simulator: GrblSimulator) -> Rig:
    server = PtyServer(simulator).start()

    def start(name: str, seconds: float) -> None:
        with server.lock:
            simulator.start_job(name, seconds)

    controller = {"kind": "grbl", "port": server.path, "laser": simulator.laser}
    return Rig("grbl", controller, start, closers=[server.stop])


def _laser() -> Rig:
    grbl = GrblSimulator(laser=True)
    rig = _grbl(grbl)
    meter = PzemSimulator()
    meter.set_load(LASER_STANDBY_W)
    server = PtyServer(meter).start()
    stop = threading.Event()

    def mirror() -> None:
        # The meter sees what the laser does: full load while the job runs, standby otherwise.
        while not stop.wait(MIRROR_S):
            running = grbl.state == "Run"
            with server.lock:
                meter.set_load(LASER_WORKING_W if running else LASER_STANDBY_W)

    thread = threading.Thread(target=mirror, name="laser-meter", daemon=True)
    thread.start()
    rig.meter = {"kind": "pzem", "port": server.path}
    rig.closers += [stop.set, server.stop]
    return rig


def _marlin() -> Rig:
    simulator = MarlinSimulator()
    server = PtyServer(simulator).start()

    def start(name: str, seconds: float) -> None:
        with server.lock:
            simulator.start_sd_print(name, seconds)

    return Rig("marlin", {"kind": "marlin", "port": server.path}, start, closers=[server.stop])


def _moonraker() -> Rig:
    simulator = MoonrakerSimulator().start()
    return Rig(
        "moonraker",
        {"kind": "moonraker", "url": simulator.url},
        lambda name, seconds: _ignore(simulator.start_print(name, seconds)),
        closers=[simulator.stop],
    )


def _prusalink(folder: Path) -> Rig:
    simulator = PrusaLinkSimulator().start()
    secret = folder / "prusalink.password"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(simulator.password, encoding="utf-8")
    controller = {
        "kind": "prusalink",
        "url": simulator.url,
        "password_file": str(secret),
        "poll_s": 0.5,
    }
    return Rig(
        "prusalink",
        controller,
        lambda name, seconds: _ignore(simulator.start_print(name, seconds)),
        closers=[simulator.stop],
    )


def _ignore(_value: object) -> None:
    return None
