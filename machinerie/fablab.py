"""`machinerie demo`: the whole pôle numérique of the ateliers Dony on one machine.

An embedded MQTT broker (amqtt, MQTT 3.1.1), the hub on SQLite, five edge agents on simulated
readers and gpiozero's mock pins (CNC mill, laser cutter, three 3D printers), a seeded
cooperative, and artisans badging through a compressed working day. A live view shows who is on
which machine; the end prints the month's usage from the ledger, then bills the month as a manager
would: drafts checked against the Peppol rules, invoices issued, the accountant's zip written.
"""

from __future__ import annotations

import logging
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from sqlalchemy import func, select

from contracts.models import Event, EventType
from edge.agent import Agent
from edge.app import build
from edge.clock import ScaledClock
from edge.hw.simreader import SimulatedReader
from hub.api.accounts import create_user
from hub.cli import api_factory
from hub.db import migrate
from hub.errors import HubError
from hub.ledger.models import EventRecord, MachineSession
from hub.ledger.usage import UsageRow, month_period, usage
from hub.registry.numbers import member_ref
from hub.service import Hub
from hub.settings import ApiSettings, HubSettings, MqttSettings
from machinerie.ackhub import AckingHub, wait_until
from machinerie.billing_demo import EXAMPLE_TARIFFS, MonthBilling, bill_month, invoices_table
from machinerie.billing_demo import prepare as prepare_billing
from machinerie.cooperative import MACHINES, Artisan, seed
from machinerie.maintenance_demo import alerts_raised, status_table, statuses
from machinerie.maintenance_demo import prepare as prepare_maintenance
from machinerie.rigs import Rig, open_rig
from machinerie.sandbox import agent_config
from machinerie.servers import EmbeddedBroker, free_port
from machinerie.workday import DAY_S, Tap, plan_day

BRUSSELS = ZoneInfo("Europe/Brussels")
# Each machine's controller, simulated, followed by the firmware bridge as the real one would be.
CONTROLLERS = {
    "cnc-1": "cnc_mill",
    "laser-1": "laser_cutter",
    "printer-1": "marlin",
    "printer-2": "moonraker",
    "printer-3": "prusalink",
}
# What artisans run once badged in: (file, shortest and longest job in workshop minutes).
JOBS = {
    "cnc_mill": ("plateau_chene.nc", 15, 60),
    "laser_cutter": ("enseigne_atelier.svg", 5, 30),
    "marlin": ("support_etagere.gcode", 30, 150),
    "moonraker": ("vase_spirale.gcode", 30, 150),
    "prusalink": ("boucle_ceinture.bgcode", 20, 120),
}


@dataclass
class Machine:
    machine_id: str
    name: str
    agent: Agent
    thread: threading.Thread
    rig: Rig

    @property
    def reader(self) -> SimulatedReader:
        reader = self.agent.parts.reader
        assert isinstance(reader, SimulatedReader)
        return reader

    def relay_on(self) -> bool:
        return bool(self.agent.parts.power.is_on)

    def controller_state(self) -> str:
        bridge = self.agent.parts.bridge
        if bridge is None:
            return ""
        snapshot = bridge.snapshot()
        progress = snapshot.metrics.get("progress_pct")
        return snapshot.state.value + (f" {progress:.0f} %" if progress is not None else "")


@dataclass(frozen=True)
class Outcome:
    rows: list[UsageRow]
    ledger_seconds: int
    events_sent: int
    events_recorded: int
    # None when the month could not be billed (the run said why).
    billing: MonthBilling | None = None

    @property
    def consistent(self) -> bool:
        return sum(r.badge_seconds for r in self.rows) == self.ledger_seconds and (
            self.events_sent == self.events_recorded
        )


class Fablab:
    """Everything the demo runs, started and stopped in a safe order."""

    def __init__(
        self,
        folder: Path,
        port: int,
        *,
        speed: float,
        seed_value: int,
        console: Console,
        tariffs: Path = EXAMPLE_TARIFFS,
    ) -> None:
        self.folder, self.port, self.console, self.tariffs = folder, port, console, tariffs
        self.rng = random.Random(seed_value)
        day = datetime.now(BRUSSELS).replace(hour=8, minute=0, second=0, microsecond=0)
        self.clock = ScaledClock(day, speed)
        self.hub = Hub(_hub_settings(folder, port), app_factory=api_factory())
        self.manager_password = secrets.token_urlsafe(9)
        self.artisans: list[Artisan] = []
        self.machines: list[Machine] = []
        self.log: list[str] = []
        self.stop_agents = threading.Event()
        self.speed = speed
        self._timers: list[threading.Timer] = []

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        migrate(self.hub.engine)
        # The hub builds access lists on the real clock and leaves out qualifications granted
        # after it; the demo's day runs on a fast clock from 08:00. Granted an hour before the
        # earlier of the two, every qualification is live for both, whatever the time of day.
        seeded_at = min(self.clock.now(), datetime.now(UTC)) - timedelta(hours=1)
        with self.hub.sessions.begin() as session:
            self.artisans = seed(session, rng=self.rng, now=seeded_at)
            self.artisans.append(
                prepare_billing(session, self.rng, now=seeded_at, tariffs=self.tariffs)
            )
            prepare_maintenance(session, now=seeded_at)
            create_user(session, username="manager", password=self.manager_password, role="manager")
        self.hub.start()
        self.machines = [self._start_agent(m.machine_id, m.name) for m in MACHINES]
        for machine in self.machines:
            if not wait_until(lambda m=machine: m.agent.parts.acl.index is not None, 20):  # type: ignore[misc]
                raise RuntimeError(f"{machine.machine_id} never got its access list")

    def _start_agent(self, machine_id: str, name: str) -> Machine:
        rig = open_rig(CONTROLLERS[machine_id], self.folder / machine_id)
        config = agent_config(
            self.folder / machine_id,
            self.port,
            self.hub.keys,
            device=machine_id,
            protocol="3.1.1",
            idle_timeout_s=3 * 3600,  # only a walk-away ends by timeout
            heartbeat_s=60,
            bridge=rig.bridge_table(self.speed),
        )
        try:
            agent = build(config, clock=self.clock)
        except BaseException:
            rig.stop()
            raise
        thread = threading.Thread(
            target=agent.run, args=(self.stop_agents,), name=machine_id, daemon=True
        )
        thread.start()
        if not agent.ready.wait(20):
            raise RuntimeError(f"the agent for {machine_id} did not start")
        return Machine(machine_id, name, agent, thread, rig)

    def stop(self) -> int:
        """Stop the agents (open sessions end), let the hub record everything; events sent."""
        self.stop_agents.set()
        for timer in self._timers:
            timer.cancel()
        for machine in self.machines:
            machine.thread.join(20)
            machine.rig.stop()
        sent = sum(m.agent.parts.outbox.last_seq for m in self.machines)
        wait_until(lambda: self.recorded() >= sent, 20)
        self.hub.stop()
        return sent

    def recorded(self) -> int:
        with self.hub.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(EventRecord)) or 0)

    # ------------------------------------------------------------ the day

    def play(self, taps: list[Tap], deadline: float) -> None:
        readers = {m.machine_id: m.reader for m in self.machines}
        pending = list(taps)
        with Live(self.view(), console=self.console, refresh_per_second=4, transient=False) as live:
            while time.monotonic() < deadline and self.clock.elapsed() < DAY_S + 1800:
                while pending and pending[0].at_s <= self.clock.elapsed():
                    tap = pending.pop(0)
                    readers[tap.machine_id].present(tap.uid)
                live.update(self.view())
                time.sleep(0.1)

    def on_event(self, event: Event) -> None:
        if event.type is EventType.SESSION_STARTED:
            self._plan_job(event.machine_id)
        data = event.data.model_dump(mode="json")
        who = self._name(str(data.get("member_id") or "")) or data.get("badge_uid", "")
        detail = data.get("reason") or data.get("end_reason") or data.get("outcome") or ""
        at = event.time.astimezone(BRUSSELS).strftime("%H:%M")
        self.log = [
            *self.log[-7:],
            f"{at} {event.machine_id:<10} {event.type.value:<17} {who} {detail}",
        ]

    def _plan_job(self, machine_id: str) -> None:
        """A few minutes after badging in, the artisan starts a job on the machine."""
        machine = next((m for m in self.machines if m.machine_id == machine_id), None)
        if machine is None:
            return
        name, shortest, longest = JOBS[CONTROLLERS[machine_id]]
        minutes = self.rng.uniform(shortest, longest)
        delay = self.rng.uniform(2, 10) * 60 / self.speed
        timer = threading.Timer(delay, machine.rig.start_job, (name, minutes * 60 / self.speed))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def view(self) -> Group:
        table = Table(
            title=f"Pôle numérique, ateliers Dony · {self.clock.now().astimezone(BRUSSELS):%H:%M}"
        )
        for column in ("machine", "power", "on it", "since", "controller"):
            table.add_column(column)
        for machine in self.machines:
            table.add_row(*self._row(machine))
        return Group(table, "\n".join(self.log))

    def _row(self, machine: Machine) -> tuple[str, str, str, str, str]:
        holder = machine.agent.parts.machine.holder
        power = "[bold green]ON[/]" if machine.relay_on() else "[dim]off[/]"
        state = machine.controller_state()
        if holder is None:
            return machine.name, power, "", "", state
        since = holder.started_at.astimezone(BRUSSELS).strftime("%H:%M")
        who = self._name(holder.member_id) or holder.member_id
        return machine.name, power, who, since, state

    def _name(self, ref: str) -> str:
        return next((a.name for a in self.artisans if member_ref(a.member_id) == ref), "")

    # ------------------------------------------------------------ the usage table and invoices

    def month(self) -> str:
        return f"{self.clock.now().astimezone(BRUSSELS):%Y-%m}"

    def outcome(self, sent: int) -> Outcome:
        month = self.month()
        start, end = month_period(month)
        with self.hub.sessions() as session:
            rows = usage(session, group_by="member", month=month)
            ledger = session.scalar(
                select(func.coalesce(func.sum(MachineSession.badge_seconds), 0)).where(
                    MachineSession.ended_at.is_not(None),
                    MachineSession.started_at >= _local_midnight(start),
                    MachineSession.started_at < _local_midnight(end),
                )
            )
        return Outcome(rows, int(ledger or 0), sent, self.recorded())

    def bill(self) -> MonthBilling:
        """The month drafted and issued on the demo's today, once the agents have stopped."""
        now = self.clock.now()
        return bill_month(
            self.hub.sessions,
            self.month(),
            self.folder,
            today=now.astimezone(BRUSSELS).date(),
            now=now,
        )


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), BRUSSELS)


def _hub_settings(folder: Path, port: int) -> HubSettings:
    return HubSettings(
        data_dir=folder / "hub",
        mqtt=MqttSettings(host="127.0.0.1", port=port, protocol="3.1.1"),
        api=ApiSettings(port=free_port()),
        log_level="WARNING",
    )


def usage_table(outcome: Outcome) -> Table:
    table = Table(title="Usage this month (ledger)")
    columns = (("member", "left"), ("sessions", "right"), ("hours", "right"), ("busy h", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in outcome.rows:
        # A dash where no session reported machine time, so it does not read as an idle machine.
        busy = f"{row.busy_hours}" if row.measured_sessions else "—"
        table.add_row(row.label, str(row.sessions), f"{row.hours}", busy)
    total = sum(r.badge_seconds for r in outcome.rows)
    measured = any(r.measured_sessions for r in outcome.rows)
    busy_total = sum(r.busy_seconds for r in outcome.rows)
    table.add_row(
        "[bold]total[/]",
        str(sum(r.sessions for r in outcome.rows)),
        f"{total / 3600:.2f}",
        f"{busy_total / 3600:.2f}" if measured else "—",
    )
    return table


def run(
    console: Console,
    folder: Path,
    port: int,
    *,
    duration: float,
    speed: float,
    seed_value: int,
    tariffs: Path = EXAMPLE_TARIFFS,
    keeps_folder: bool = True,
) -> Outcome:
    lab = Fablab(folder, port, speed=speed, seed_value=seed_value, console=console, tariffs=tariffs)
    observer: AckingHub | None = None
    try:
        lab.start()
        observer = AckingHub(
            port, protocol="3.1.1", acking=False, client_id="demo-view", on_event=lab.on_event
        ).start()
        taps = plan_day(lab.rng, lab.artisans)
        api = lab.hub.settings.api
        console.print(
            f"console on http://{api.host}:{api.port}/console/ (API: /docs) · "
            f"login manager / {lab.manager_password} · live board, /console/usage, "
            "/console/devices"
        )
        console.print(
            f"{len(lab.artisans)} artisans, {len(taps)} badge taps planned; "
            f"1 s = {speed / 60:.0f} min of workshop time"
        )
        lab.play(taps, time.monotonic() + duration)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        if observer is not None:
            observer.stop()
        sent = lab.stop()
    outcome = lab.outcome(sent)
    console.print(usage_table(outcome))
    console.print(
        f"events sent by the machines: {outcome.events_sent} · in the ledger: "
        f"{outcome.events_recorded} · usage total matches the ledger: {outcome.consistent}"
    )
    console.print(status_table(statuses(lab.hub.sessions, now=lab.clock.now())))
    console.print(f"maintenance alerts raised: {alerts_raised(lab.hub.sessions)}")
    billing = _bill(lab, console, keeps_folder=keeps_folder)
    return replace(outcome, billing=billing)


def _bill(lab: Fablab, console: Console, *, keeps_folder: bool) -> MonthBilling | None:
    try:
        billing = lab.bill()
    except HubError as exc:
        console.print(f"[bold red]billing {lab.month()} failed:[/] {exc}")
        return None
    console.print(invoices_table(billing))
    kept = "" if keeps_folder else " (removed when the demo ends; --data-dir keeps it)"
    console.print(
        f"{len(billing.documents)} invoices issued; drafts payable {billing.drafted_payable} €, "
        f"issued payable {billing.payable} €"
    )
    console.print(f"accountant's zip (UBL, PDF, journal): {billing.zip_path}{kept}")
    return billing


def demo(
    duration: Annotated[
        float | None, typer.Option(min=1, help="Real seconds to run; default: the whole day.")
    ] = None,
    speed: Annotated[
        float, typer.Option(min=1, help="Workshop seconds per real second (240: 4 min a second).")
    ] = 240.0,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Same seed, same cooperative and day.")
    ] = 7,
    tariffs: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="The price list the month is billed with."),
    ] = EXAMPLE_TARIFFS,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            help="Keep the hub's database and the invoices here (a new or empty folder); "
            "default: a temporary folder, removed at the end.",
        ),
    ] = None,
) -> None:
    """The whole pôle numérique on one machine: broker, hub, five machines, a working day, and
    the month's invoices."""
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)  # it logs every client that hangs up
    console = Console()
    seconds = duration if duration is not None else (DAY_S + 1800) / speed
    with EmbeddedBroker() as broker, _data_folder(data_dir) as folder:
        outcome = run(
            console,
            folder,
            broker.port,
            duration=seconds,
            speed=speed,
            seed_value=seed_value,
            tariffs=tariffs,
            keeps_folder=data_dir is not None,
        )
    if not outcome.consistent or outcome.billing is None:
        raise typer.Exit(1)


@contextmanager
def _data_folder(data_dir: Path | None) -> Iterator[Path]:
    if data_dir is None:
        with tempfile.TemporaryDirectory(prefix="machinerie-demo-") as tmp:
            yield Path(tmp)
        return
    # A folder from an earlier run would seed the cooperative a second time over the first.
    if data_dir.exists() and any(data_dir.iterdir()):
        raise typer.BadParameter(f"{data_dir} is not empty", param_hint="--data-dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    yield data_dir
