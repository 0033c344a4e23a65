"""The `machinerie` command: each package brings its own sub-commands."""

from __future__ import annotations

import typer

from contracts.cli import app as contracts_app
from edge.cli import app as edge_app
from hub.devices.cli import app as device_app
from machinerie.demo import demo

app = typer.Typer(
    help="Machinerie: machine access and telemetry for shared workshops.", no_args_is_help=True
)
app.add_typer(edge_app, name="edge")
app.add_typer(contracts_app, name="contracts")
app.add_typer(device_app, name="device")
app.command()(demo)
