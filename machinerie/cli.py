"""The `machinerie` command: each package brings its own sub-commands."""

from __future__ import annotations

import typer

from contracts.cli import app as contracts_app
from dashboards.cli import app as dashboards_app
from edge.cli import app as edge_app
from firmware_bridge.cli import app as bridge_app
from hub.billing.cli import app as billing_app
from hub.cli import app as hub_app
from hub.cli import usage
from hub.devices.cli import app as device_app
from hub.maintenance.cli import app as maintenance_app
from machinerie.demo import demo as edge_demo
from machinerie.fablab import demo

app = typer.Typer(
    help="Machinerie: machine access and telemetry for shared workshops.", no_args_is_help=True
)
app.add_typer(edge_app, name="edge")
app.add_typer(bridge_app, name="bridge")
app.add_typer(contracts_app, name="contracts")
app.add_typer(device_app, name="device")
app.add_typer(hub_app, name="hub")
app.add_typer(billing_app, name="billing")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(dashboards_app, name="dashboards")
app.command()(usage)
app.command()(demo)
app.command("demo-edge")(edge_demo)
