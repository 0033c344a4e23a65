"""The bridge's composition root: adapters (and, where configured, simulators) for a machine.

A simulator runs only when the configuration says `simulated`; a port that cannot be opened
is reported by the adapter as offline, never replaced by a simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firmware_bridge.config import (
    BridgeConfig,
    Controller,
    Meter,
    MoonrakerController,
    OctoPrintController,
    PrusaLinkController,
    PzemMeter,
    SerialController,
    ShellyMeter,
    Simulation,
)
from firmware_bridge.errors import ConfigError, PortRefused
from firmware_bridge.follower import Clock, Follower, Listener
from firmware_bridge.model import Source
from firmware_bridge.simport import PtyServer
from firmware_bridge.tracker import Tracker

# LAZY: each protocol is imported only when the machine has it. A bridge following one
# printer then never loads websockets, paho or http.server: megabytes on a Pi Zero 2 W.
Closer = Callable[[], None]
Built = tuple[Source, list[Closer]]
Broker = tuple[str, int]


def build_follower(
    config: BridgeConfig, clock: Clock, listener: Listener, *, broker: Broker | None = None
) -> Follower:
    """A follower for one machine, not started; raises a BridgeError on impossible config."""
    closers: list[Closer] = []
    try:
        controller = _controller(config.controller, clock, closers)
        meter = _meter(config.meter, clock, closers, broker)
    except BaseException:
        for close in closers:
            close()
        raise
    tracker = Tracker(
        config.limits(), has_controller=controller is not None, has_meter=meter is not None
    )
    return Follower(tracker, clock, listener, controller=controller, meter=meter, closers=closers)


def _controller(config: Controller | None, clock: Clock, closers: list[Closer]) -> Source | None:
    match config:
        case None:
            return None
        case SerialController():
            return _serial_controller(config, clock, closers)
        case MoonrakerController():
            return _moonraker(config, clock, closers)
        case PrusaLinkController():
            return _prusalink(config, clock, closers)
        case OctoPrintController():
            return _octoprint(config, clock, closers)


def _meter(
    config: Meter | None, clock: Clock, closers: list[Closer], broker: Broker | None
) -> Source | None:
    match config:
        case None:
            return None
        case PzemMeter():
            return _pzem(config, clock, closers)
        case ShellyMeter():
            return _shelly(config, clock, closers, broker)


# ---------------------------------------------------------------- controllers


def _serial_controller(config: SerialController, clock: Clock, closers: list[Closer]) -> Source:

    if config.owner == "other" and config.simulated is None:
        raise PortRefused(
            f"{config.port} belongs to another program: opening it would reset the board or "
            "corrupt its stream; follow the host's API or a power meter instead"
        )
    port = config.port
    if config.simulated is not None:
        port = _pty(_serial_simulator(config, config.simulated), clock, closers)
    assert port is not None  # the config validator insists on one or the other
    if config.kind == "grbl":
        from firmware_bridge.grbl.link import GrblLink  # noqa: PLC0415 - see LAZY

        return GrblLink(port, config.baudrate, laser=config.laser, poll_s=config.poll_s or 0.25)
    from firmware_bridge.marlin.link import MarlinLink  # noqa: PLC0415 - see LAZY

    return MarlinLink(port, config.baudrate, poll_s=config.poll_s or 2.0)


def _serial_simulator(config: SerialController, simulation: Simulation) -> object:

    if config.kind == "grbl":
        from firmware_bridge.grbl.sim import GrblSimulator  # noqa: PLC0415 - see LAZY

        grbl = GrblSimulator(laser=config.laser)
        grbl.autoplay(simulation.every_s, simulation.job_s)
        return grbl
    from firmware_bridge.marlin.sim import MarlinSimulator  # noqa: PLC0415 - see LAZY

    marlin = MarlinSimulator()
    marlin.autoplay(simulation.every_s, simulation.job_s)
    return marlin


def _pty(device: object, clock: Clock, closers: list[Closer]) -> str:
    server = PtyServer(device, clock=clock.monotonic).start()  # type: ignore[arg-type]
    closers.append(server.stop)
    return server.path


def _moonraker(config: MoonrakerController, clock: Clock, closers: list[Closer]) -> Source:
    from firmware_bridge.moonraker.link import MoonrakerLink  # noqa: PLC0415 - see LAZY

    url, api_key = config.url, _secret(config.api_key_file)
    if config.simulated is not None:
        from firmware_bridge.moonraker.sim import MoonrakerSimulator  # noqa: PLC0415 - see LAZY

        simulator = MoonrakerSimulator(clock=clock.monotonic).start()
        simulator.autoplay(config.simulated.every_s, config.simulated.job_s)
        closers.append(simulator.stop)
        url = simulator.url
    if url is None:
        raise ConfigError("a Moonraker controller needs `url` (or `simulated`)")
    return MoonrakerLink(url, api_key=api_key)


def _prusalink(config: PrusaLinkController, clock: Clock, closers: list[Closer]) -> Source:
    from firmware_bridge.prusalink.link import PrusaLinkLink  # noqa: PLC0415 - see LAZY

    url, password = config.url, _secret(config.password_file)
    if config.simulated is not None:
        from firmware_bridge.prusalink.sim import PrusaLinkSimulator  # noqa: PLC0415 - see LAZY

        password = password or "simulated"
        simulator = PrusaLinkSimulator(
            user=config.user, password=password, clock=clock.monotonic
        ).start()
        simulator.autoplay(config.simulated.every_s, config.simulated.job_s)
        closers.append(simulator.stop)
        url = simulator.url
    if url is None or password is None:
        raise ConfigError("a PrusaLink controller needs `url` and `password_file`")
    return PrusaLinkLink(url, user=config.user, password=password, poll_s=config.poll_s)


def _octoprint(config: OctoPrintController, clock: Clock, closers: list[Closer]) -> Source:
    from firmware_bridge.octoprint.link import OctoPrintLink  # noqa: PLC0415 - see LAZY

    url, api_key = config.url, _secret(config.api_key_file)
    if config.simulated is not None:
        from firmware_bridge.octoprint.sim import OctoPrintSimulator  # noqa: PLC0415 - see LAZY

        simulator = OctoPrintSimulator(api_key=api_key, clock=clock.monotonic).start()
        simulator.autoplay(config.simulated.every_s, config.simulated.job_s)
        closers.append(simulator.stop)
        url, api_key = simulator.url, simulator.api_key
    if url is None or api_key is None:
        raise ConfigError("an OctoPrint controller needs `url` and `api_key_file`")
    return OctoPrintLink(url, api_key, config.poll_s)


# ---------------------------------------------------------------- meters


def _pzem(config: PzemMeter, clock: Clock, closers: list[Closer]) -> Source:
    from firmware_bridge.pzem.link import PzemLink  # noqa: PLC0415 - see LAZY

    port = config.port
    if config.simulated is not None:
        from firmware_bridge.pzem.sim import PzemSimulator  # noqa: PLC0415 - see LAZY

        simulator = PzemSimulator(config.address)
        simulator.autoplay(config.simulated.every_s, config.simulated.job_s, 1200.0)
        port = _pty(simulator, clock, closers)
    if port is None:
        raise ConfigError("a PZEM meter needs `port` (or `simulated`)")
    return PzemLink(port, address=config.address, poll_s=config.poll_s)


def _shelly(
    config: ShellyMeter, clock: Clock, closers: list[Closer], broker: Broker | None
) -> Source:
    from firmware_bridge.shelly.link import ShellyLink  # noqa: PLC0415 - see LAZY

    host = config.host or (broker[0] if broker else None)
    port = config.port or (broker[1] if broker else None)
    if host is None or port is None:
        raise ConfigError("a Shelly meter needs the broker's `host` and `port`")
    if config.simulated is not None:
        from firmware_bridge.shelly.sim import ShellySimulator  # noqa: PLC0415 - see LAZY

        simulator = ShellySimulator(host, port, device_id=config.prefix)
        simulator.autoplay(config.simulated.every_s, config.simulated.job_s)
        simulator.start()
        closers.append(simulator.stop)
    return ShellyLink(
        host,
        port,
        config.prefix,
        config.switch_id,
        config.username,
        _secret(config.password_file),
    )


def _secret(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
