"""`machinerie bridge ...`: run a simulated controller, or follow one and print what it does."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from firmware_bridge.config import BridgeConfig
from firmware_bridge.errors import BridgeError
from firmware_bridge.follower import Follower, WallClock
from firmware_bridge.sources import build_follower
from firmware_bridge.tracker import (
    AlarmChanged,
    FirmwareIdentified,
    InterlockChanged,
    JobBegan,
    JobFinished,
    Output,
)

app = typer.Typer(
    help="The firmware bridge: machine state from the controller itself.", no_args_is_help=True
)
log = logging.getLogger(__name__)

EverySeconds = Annotated[float, typer.Option(help="Seconds between simulated jobs.")]
JobSeconds = Annotated[float, typer.Option(help="Length of each simulated job.")]


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


@app.command()
def simulate(
    kind: Annotated[
        str, typer.Argument(help="marlin, grbl, moonraker, prusalink, octoprint, pzem, shelly")
    ],
    *,
    pty: Annotated[bool, typer.Option("--pty", help="Serve a serial protocol on a pty.")] = True,
    laser: Annotated[bool, typer.Option(help="GRBL in laser mode.")] = False,
    every: EverySeconds = 60.0,
    job: JobSeconds = 30.0,
    broker: Annotated[str, typer.Option(help="host:port of the broker (Shelly).")] = (
        "127.0.0.1:1883"
    ),
) -> None:
    """Run one simulated device until Ctrl-C, printing where to reach it."""
    if kind in ("marlin", "grbl", "pzem") and not pty:
        raise typer.BadParameter("serial simulators are served on a pty (--pty)")
    stop_server = _start_simulator(kind, laser=laser, every=every, job=job, broker=broker)
    try:
        _wait_for_signal()
    finally:
        stop_server()


def _start_simulator(kind: str, *, laser: bool, every: float, job: float, broker: str) -> Any:
    if kind == "grbl":
        from firmware_bridge.grbl.sim import serve as serve_grbl  # noqa: PLC0415 - only the one simulated

        server = serve_grbl(laser=laser, every_s=every, duration_s=job)
        typer.echo(f"GRBL {'laser' if laser else 'mill'} on {server.path}")
        return server.stop
    if kind == "marlin":
        from firmware_bridge.marlin.sim import serve as serve_marlin  # noqa: PLC0415 - only the one simulated

        server = serve_marlin(every_s=every, duration_s=job)
        typer.echo(f"Marlin printer on {server.path}")
        return server.stop
    if kind == "pzem":
        from firmware_bridge.pzem.sim import serve as serve_pzem  # noqa: PLC0415 - only the one simulated

        server = serve_pzem(power_w=1200.0, autoplay_every_s=every, autoplay_duration_s=job)
        typer.echo(f"PZEM-004T (address 1) on {server.path}")
        return server.stop
    return _start_network_simulator(kind, every=every, job=job, broker=broker)


def _start_network_simulator(kind: str, *, every: float, job: float, broker: str) -> Any:
    if kind == "moonraker":
        from firmware_bridge.moonraker.sim import serve as serve_moonraker  # noqa: PLC0415 - only the one simulated

        moonraker = serve_moonraker(autoplay_every_s=every, job_s=job)
        typer.echo(f"Moonraker on {moonraker.url}")
        return moonraker.stop
    if kind == "prusalink":
        from firmware_bridge.prusalink.sim import serve as serve_prusalink  # noqa: PLC0415 - only the one simulated

        prusalink = serve_prusalink(every_s=every, duration_s=job)
        typer.echo(f"PrusaLink on {prusalink.url} (user maker, password {prusalink.password})")
        return prusalink.stop
    if kind == "octoprint":
        from firmware_bridge.octoprint.sim import serve as serve_octoprint  # noqa: PLC0415 - only the one simulated

        octoprint = serve_octoprint(every_s=every, duration_s=job)
        typer.echo(f"OctoPrint on {octoprint.url} (X-Api-Key {octoprint.api_key})")
        return octoprint.stop
    if kind == "shelly":
        host, _, port = broker.rpartition(":")
        from firmware_bridge.shelly.sim import serve as serve_shelly  # noqa: PLC0415 - only the one simulated

        shelly = serve_shelly(host, int(port), every_s=every, duration_s=job)
        typer.echo(f"Shelly publishing to {broker} under {shelly.prefix}")
        return shelly.stop
    raise typer.BadParameter(f"no simulator for {kind!r}")


@app.command()
def follow(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="A TOML file with a [bridge] table.")
    ] = Path("/etc/machinerie/edge.toml"),
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "warning",
) -> None:
    """Follow one machine and print its state, jobs and alarms as JSON lines, until Ctrl-C."""
    logging.basicConfig(level=log_level.upper())
    bridge = _load(config)
    try:
        follower = build_follower(bridge, WallClock(), _print_outputs)
    except BridgeError as exc:
        raise typer.BadParameter(str(exc)) from exc
    follower.start()
    ticker = threading.Thread(target=_print_snapshots, args=(follower, bridge), daemon=True)
    ticker.start()
    try:
        _wait_for_signal()
    finally:
        follower.stop()


def _load(path: Path) -> BridgeConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return BridgeConfig.model_validate(raw.get("bridge", raw))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc


def _print_outputs(outputs: list[Output]) -> None:
    for output in outputs:
        typer.echo(json.dumps(describe(output)))


def describe(output: Output) -> dict[str, object]:
    match output:
        case JobBegan(job, at):
            return {
                "event": "job_started",
                "job_id": job.job_id,
                "name": job.name,
                "at": str(at.at),
            }
        case JobFinished(job, outcome, _started, ended, busy_s, energy_wh):
            return {
                "event": "job_ended",
                "job_id": job.job_id,
                "outcome": outcome.value,
                "at": str(ended.at),
                "busy_s": busy_s,
                "energy_wh": energy_wh,
            }
        case InterlockChanged(interlock):
            return {"event": "interlock", "interlock": interlock.value}
        case FirmwareIdentified(firmware):
            return {"event": "firmware", "firmware": firmware}
        case AlarmChanged(code, severity, message, active):
            return {
                "event": "alarm",
                "code": code,
                "severity": severity,
                "active": active,
                "message": message,
            }


def _print_snapshots(follower: Follower, bridge: BridgeConfig) -> None:
    while True:
        time.sleep(bridge.telemetry_interval_s)
        snap = follower.snapshot()
        typer.echo(
            json.dumps(
                {
                    "event": "telemetry",
                    "state": snap.state.value,
                    "interlock": snap.interlock.value,
                    "metrics": snap.metrics,
                }
            )
        )
