"""Command line for device broker accounts: add, reset, remove and list, then rewrite the files.

Mounted as `machinerie device`; every change rewrites the broker's password file and ACL, and
the operator reloads Mosquitto with SIGHUP (no restart, connected devices stay connected).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from hub.devices.broker import BrokerFiles, write_broker_files
from hub.devices.store import DeviceAccount, add_device, list_devices, remove_device, reset_password
from hub.errors import HubError

app = typer.Typer(help="Edge devices' accounts on the MQTT broker.", no_args_is_help=True)

DEFAULT_DATA_DIR = Path("/var/lib/machinerie/hub")
T = TypeVar("T")

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="MACHINERIE_HUB_DATA_DIR",
        help="The hub's data folder.",
    ),
]
BrokerDir = Annotated[
    Path | None,
    typer.Option(
        "--broker-dir",
        envvar="MACHINERIE_BROKER_DIR",
        help="Where to write machinerie.passwd and machinerie.acl [default: DATA_DIR/broker].",
    ),
]
DeviceId = Annotated[str, typer.Argument(help="The device id, also its broker username.")]


@app.command()
def add(
    device_id: DeviceId,
    site: Annotated[str, typer.Option("--site", help="Site id, e.g. dony.")],
    machine: Annotated[str, typer.Option("--machine", help="Machine id, e.g. laser-1.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    broker_dir: BrokerDir = None,
) -> None:
    """Create a device's broker account and print its password, once."""
    account, password = _run(lambda: add_device(data_dir, device_id, site=site, machine_id=machine))
    _show_password(account, password)
    _rewrite(data_dir, broker_dir)


@app.command("reset-password")
def reset(
    device_id: DeviceId, data_dir: DataDir = DEFAULT_DATA_DIR, broker_dir: BrokerDir = None
) -> None:
    """Give a device a new password (the old one stops working at the next reload)."""
    account, password = _run(lambda: reset_password(data_dir, device_id))
    _show_password(account, password)
    _rewrite(data_dir, broker_dir)


@app.command()
def remove(
    device_id: DeviceId, data_dir: DataDir = DEFAULT_DATA_DIR, broker_dir: BrokerDir = None
) -> None:
    """Delete a device's broker account."""
    account = _run(lambda: remove_device(data_dir, device_id))
    typer.echo(f"removed {account.device_id} ({account.site}/{account.machine_id})")
    _rewrite(data_dir, broker_dir)


@app.command("list")
def list_(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """List device accounts: device, site, machine, creation time."""
    accounts = _run(lambda: list_devices(data_dir))
    if not accounts:
        typer.echo("no devices")
    for a in accounts:
        typer.echo(f"{a.device_id}\t{a.site}\t{a.machine_id}\t{a.created_at.isoformat()}")


def _run(action: Callable[[], T]) -> T:
    # Operator mistakes (duplicate id, unknown device) end with a message, not a traceback.
    try:
        return action()
    except HubError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _show_password(account: DeviceAccount, password: str) -> None:
    typer.echo(f"device {account.device_id} ({account.site}/{account.machine_id})")
    typer.echo(f"password: {password}")
    typer.echo(
        "Shown once, stored nowhere: put it in the Pi's mqtt.password_file "
        f'(mode 0600) with mqtt.username = "{account.device_id}".'
    )


def _rewrite(data_dir: Path, broker_dir: Path | None) -> BrokerFiles:
    files = _run(lambda: write_broker_files(data_dir, broker_dir or data_dir / "broker"))
    typer.echo(f"wrote {files.passwd}")
    typer.echo(f"wrote {files.acl}")
    typer.echo("send Mosquitto SIGHUP to apply: systemctl reload mosquitto (or kill -HUP <pid>)")
    return files
