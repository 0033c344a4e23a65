"""`machinerie maintenance`: plans, their counters, interventions and alerts from a terminal.

    machinerie maintenance defaults laser-1              # the shipped plans for its kind
    machinerie maintenance add laser-1 "chiller water" --counter days --warning 80 --limit 90
    machinerie maintenance status [--machine laser-1]    # counters, state, forecast due date
    machinerie maintenance intervention 3 --by ben --what "new tube" --parts "RECI W2"
    machinerie maintenance alerts [--open]

The running hub's monitor notices changes within its interval (and unlocks after an
intervention then).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from contracts.models import AlertCounter
from hub.cli import Config, DataDir, guard
from hub.db import make_engine, migrate, session_factory, writing
from hub.maintenance import service
from hub.maintenance.counters import PlanStatus
from hub.maintenance.plans import UNITS, format_value
from hub.settings import load_settings

app = typer.Typer(help="Maintenance: plans, counters, interventions, alerts.", no_args_is_help=True)
console = Console()
Machine = Annotated[str | None, typer.Option("--machine", help="Only this machine.")]


@contextmanager
def _database(config: Path | None, data_dir: Path | None) -> Iterator[sessionmaker[Session]]:
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    settings = guard(lambda: load_settings(config, **overrides))
    engine = make_engine(settings.database)
    try:
        migrate(engine)
        yield session_factory(engine)
    finally:
        engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment is not None else "—"


def _status_table(rows: list[PlanStatus], title: str) -> Table:
    table = Table(title=title)
    for column in ("#", "Machine", "Plan", "Counter", "Value", "Warning", "Limit", "State", "Due"):
        table.add_column(column)
    for s in rows:
        table.add_row(
            str(s.plan_id),
            s.machine_id,
            s.name if s.active else f"{s.name} (off)",
            UNITS[s.counter],
            format_value(s.value),
            format_value(s.warning) if s.warning is not None else "—",
            format_value(s.limit) + ("" if s.lock_at_limit else " (no lock)"),
            s.state.value,
            _day(s.due_at),
        )
    return table


@app.command("status")
def status(machine: Machine = None, config: Config = None, data_dir: DataDir = None) -> None:
    """Every plan's counter against its thresholds, with the forecast due date."""
    with _database(config, data_dir) as sessions, sessions() as session:
        rows = guard(lambda: service.plan_status(session, machine_id=machine, now=_now()))
    console.print(_status_table(rows, "Maintenance"))


@app.command("plans")
def plans(machine: Machine = None, config: Config = None, data_dir: DataDir = None) -> None:
    """The plans and their thresholds (`status` adds the counters)."""
    with _database(config, data_dir) as sessions, sessions() as session:
        rows = guard(lambda: service.list_plans(session, machine_id=machine))
        table = Table(title="Maintenance plans")
        for column in ("#", "Machine", "Plan", "Counter", "Warning", "Limit", "Locks", "Since"):
            table.add_column(column)
        for p in rows:
            table.add_row(
                str(p.id),
                p.machine_id,
                p.name if p.active else f"{p.name} (off)",
                p.counter.value,
                "—" if p.warning is None else format_value(p.warning),
                format_value(p.limit),
                "yes" if p.lock_at_limit else "no",
                _day(p.cycle_started_at),
            )
    console.print(table)


@app.command("add")
def add(
    machine_id: Annotated[str, typer.Argument(help="The machine.")],
    name: Annotated[str, typer.Argument(help='What is maintained, like "laser tube".')],
    counter: Annotated[AlertCounter, typer.Option(help="What counts toward it.")],
    limit: Annotated[float, typer.Option(help="Overdue at this value (locks).")],
    warning: Annotated[float | None, typer.Option(help="Warn at this value.")] = None,
    lock: Annotated[bool, typer.Option(help="Lock the machine at the limit.")] = True,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Add a plan; its counter starts now."""
    with _database(config, data_dir) as sessions, writing(sessions) as session:
        plan = guard(
            lambda: service.create_plan(
                session,
                machine_id=machine_id,
                name=name,
                counter=counter,
                warning=warning,
                limit=limit,
                lock_at_limit=lock,
                now=_now(),
            )
        )
        typer.echo(f"plan {plan.id} added: {plan.machine_id} / {plan.name}")


@app.command("defaults")
def defaults(
    machine_id: Annotated[str, typer.Argument(help="The machine.")],
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Add the shipped plans for the machine's kind that it does not have yet."""
    with _database(config, data_dir) as sessions, writing(sessions) as session:
        added = guard(lambda: service.apply_defaults(session, machine_id=machine_id, now=_now()))
        names = ", ".join(p.name for p in added) or "none (all there already)"
    typer.echo(f"{len(added)} plan(s) added: {names}")


@app.command("intervention")
def intervention(
    plan_id: Annotated[int, typer.Argument(help="The plan (see `status`).")],
    by: Annotated[str, typer.Option(help="Who did the work.")],
    what: Annotated[str, typer.Option(help="What was done.")],
    parts: Annotated[str, typer.Option(help="Parts and consumables used.")] = "",
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Log maintenance done now: the plan's counter restarts, its alerts are acknowledged."""
    with _database(config, data_dir) as sessions, writing(sessions) as session:
        now = _now()
        found = guard(
            lambda: service.record_intervention(
                session, plan_id=plan_id, by=by, what=what, parts=parts, at=now
            )
        )
    typer.echo(f"{found.machine_id} / {found.name}: counter reset, now {found.state.value}")


@app.command("alerts")
def alerts(
    machine: Machine = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only unacknowledged ones.")] = False,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Alerts raised, newest first."""
    with _database(config, data_dir) as sessions, sessions() as session:
        rows = guard(lambda: service.list_alerts(session, machine_id=machine, open_only=open_only))
        table = Table(title="Maintenance alerts")
        for column in ("Raised", "Machine", "Plan", "Level", "Value", "Due", "Acknowledged"):
            table.add_column(column)
        for alert, plan in rows:
            seen = f"{_day(alert.acknowledged_at)} {alert.acknowledged_by}"
            table.add_row(
                alert.raised_at.strftime("%Y-%m-%d %H:%M"),
                plan.machine_id,
                plan.name,
                alert.level.value,
                f"{format_value(alert.value)} ≥ {format_value(alert.threshold)}",
                _day(alert.due_at),
                seen if alert.acknowledged_at else "—",
            )
    console.print(table)
