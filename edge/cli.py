"""`machinerie edge ...`: run the agent, check its configuration, feed the simulated reader."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from edge import config as edge_config
from edge.app import build
from edge.errors import EdgeError
from edge.hw.simreader import send_badge

app = typer.Typer(help="The edge agent beside each machine.", no_args_is_help=True)

ConfigPath = Annotated[Path, typer.Option("--config", "-c", help="The agent's TOML file.")]


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def run(
    config: ConfigPath = Path("/etc/machinerie/edge.toml"),
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Run the agent until SIGTERM or Ctrl-C; the relay is off before it returns."""
    setup_logging(log_level)
    stop = threading.Event()
    try:
        agent = build(edge_config.load(config))
    except EdgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    # systemd stops services with SIGTERM, which skips atexit: turn it into an orderly stop so
    # the relay opens and the session end is recorded.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    agent.run(stop)


@app.command("check-config")
def check_config(config: ConfigPath = Path("/etc/machinerie/edge.toml")) -> None:
    """Validate a configuration file and print what it selects."""
    try:
        loaded = edge_config.load(config)
    except EdgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    device = loaded.device
    typer.echo(
        f"ok: {device.site}/{device.device_id} gates {device.machine_id}; "
        f"reader {loaded.reader.kind}; relay pin {loaded.gpio.relay_pin}; "
        f"broker {loaded.mqtt.host}:{loaded.mqtt.port} (MQTT {loaded.mqtt.protocol})"
    )


@app.command()
def badge(
    uid: Annotated[str, typer.Argument(help="Badge UID in hex, e.g. 04A2246AB12C80")],
    socket: Annotated[Path, typer.Option(help="The simulated reader's socket.")],
) -> None:
    """Present a badge to a running agent's simulated reader."""
    try:
        reply = send_badge(socket, uid)
    except OSError as exc:
        typer.echo(f"error: cannot reach {socket}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(reply)
    if not reply.startswith("ok"):
        raise typer.Exit(1)
