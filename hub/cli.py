"""Command line for the hub: `run` it, `init` its data folder and key, `add-user`, `usage`.

Mounted as `machinerie hub`; `usage` is also a plain function the root command mounts directly
(`machinerie usage --month 2026-11`). Settings come from `--config`, then MACHINERIE_HUB_*.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from contracts.signing import KeyPair
from hub.acl.keys import load_or_create_signing_key, trusted_key_line
from hub.db import make_engine, migrate, session_factory, writing
from hub.devices import hub_password
from hub.errors import HubError
from hub.ledger.usage import UsageGroup, UsageRow
from hub.ledger.usage import usage as usage_rows
from hub.service import AppFactory, Hub
from hub.settings import HubSettings, load_settings

app = typer.Typer(help="The hub: ingest, access lists, reports.", no_args_is_help=True)
T = TypeVar("T")

Config = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", envvar="MACHINERIE_HUB_CONFIG", help="The hub's TOML configuration."
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The hub's data folder [default: from the configuration]."),
]


@app.command()
def run(
    config: Config = None,
    data_dir: DataDir = None,
    api: Annotated[bool, typer.Option(help="Serve the web API and console.")] = True,
) -> None:
    """Run the hub until SIGTERM or SIGINT."""
    settings = _settings(config, data_dir)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    factory = api_factory() if api else None
    hub = guard(lambda: Hub(settings, app_factory=factory))
    guard(hub.run)


@app.command()
def init(config: Config = None, data_dir: DataDir = None) -> None:
    """Create the data folder, the access-list signing key and the hub's broker password."""
    settings = _settings(config, data_dir)
    folder = settings.data_dir
    keys = guard(lambda: _initialise(folder))
    typer.echo(f"data folder: {folder}")
    typer.echo(f"signing key: {keys.key_id}")
    typer.echo("Add to every edge device's configuration:\n")
    typer.echo("[access.trusted_keys]")
    typer.echo(trusted_key_line(keys))


def usage(
    month: Annotated[str, typer.Option("--month", help="The month, like 2026-11.")],
    group_by: Annotated[
        UsageGroup, typer.Option("--group-by", help="One row per member, organisation or machine.")
    ] = UsageGroup.MEMBER,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Machine usage in a month: sessions, badge and busy hours, energy, from the ledger."""
    settings = _settings(config, data_dir)
    rows = guard(lambda: _read_usage(settings, month, group_by))
    Console().print(usage_table(rows, month=month, group_by=group_by))


app.command()(usage)


def usage_table(rows: list[UsageRow], *, month: str, group_by: UsageGroup) -> Table:
    table = Table(title=f"Machine usage, {month}, by {group_by.value}")
    table.add_column(group_by.value.capitalize())
    table.add_column("Name")
    for column in ("Sessions", "Badge time", "Hours", "Busy", "Busy h", "Energy kWh"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row.key, row.label, *_usage_cells(row))
    table.add_section()
    table.add_row("Total", "", *_usage_cells(_usage_total(rows)))
    return table


def _usage_cells(row: UsageRow) -> tuple[str, ...]:
    # A dash, not 0: nothing measured on a machine without a firmware bridge or a power meter.
    busy = (_clock(row.busy_seconds), str(row.busy_hours)) if row.measured_sessions else ("—",) * 2
    energy = "—" if row.energy_wh is None else str(_kwh(row.energy_wh))
    return (str(row.sessions), _clock(row.badge_seconds), str(row.hours), *busy, energy)


def _usage_total(rows: list[UsageRow]) -> UsageRow:
    energies = [r.energy_wh for r in rows if r.energy_wh is not None]
    return UsageRow(
        key="",
        label="",
        sessions=sum(r.sessions for r in rows),
        badge_seconds=sum(r.badge_seconds for r in rows),
        busy_seconds=sum(r.busy_seconds for r in rows),
        measured_sessions=sum(r.measured_sessions for r in rows),
        energy_wh=sum(energies, Decimal(0)) if energies else None,
    )


def _kwh(wh: Decimal) -> Decimal:
    # Whole watt-hours are plenty on a monthly report; the API keeps the tenths.
    return (wh / 1000).quantize(Decimal("0.001"), ROUND_HALF_UP)


@app.command("add-user")
def add_user(
    username: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[
        str, typer.Option(help="manager, accountant, maintainer or member.")
    ] = "manager",
    member_id: Annotated[
        int | None, typer.Option(help="The registry member, for role member.")
    ] = None,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """A web and API user; the first one is the manager who creates the rest."""
    from hub.api.accounts import create_user  # noqa: PLC0415 - the web stack, only here

    settings = _settings(config, data_dir)
    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    engine = make_engine(settings.database)
    try:
        migrate(engine)
        with writing(session_factory(engine)) as session:
            guard(
                lambda: create_user(
                    session, username=username, password=password, role=role, member_id=member_id
                )
            )
    finally:
        engine.dispose()
    typer.echo(f"user {username} ({role}) created")


def api_factory() -> AppFactory:
    """hub.api's `create_app`, imported late: `usage` and `init` need no web stack."""
    from hub.api.app import create_app  # noqa: PLC0415

    return create_app


def _read_usage(settings: HubSettings, month: str, group_by: UsageGroup) -> list[UsageRow]:
    engine = make_engine(settings.database)
    try:
        with session_factory(engine)() as session:
            return usage_rows(session, group_by=group_by, month=month)
    except SQLAlchemyError as exc:
        raise _Unreadable(f"cannot read the ledger at {settings.database}: {exc}") from exc
    finally:
        engine.dispose()


def _initialise(folder: Path) -> KeyPair:
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    hub_password(folder)
    return load_or_create_signing_key(folder)


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _settings(config: Path | None, data_dir: Path | None) -> HubSettings:
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    return guard(lambda: load_settings(config, **overrides))


class _Unreadable(HubError):
    """The database could not be read."""


def guard(action: Callable[[], T]) -> T:
    # Operator mistakes (no configuration, unreachable database) end with a message.
    try:
        return action()
    except HubError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app(prog_name="machinerie hub")
