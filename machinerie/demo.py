"""`machinerie demo`: the laser cutter of the ateliers Dony's pôle numérique on simulated hardware.

A real Mosquitto, one edge agent on a simulated reader and gpiozero's mock pins, and a stand-in
for the hub that records and acks events; artisans badge through a scripted morning (or type
badges yourself with --interactive) and every event is shown as it reaches the hub.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contracts.models import CommandAction, Event
from machinerie.sandbox import (
    ALICE,
    BRUNO,
    CAST,
    CHLOE,
    DIDIER,
    EMILE,
    MARC,
    STRANGER,
    Artisan,
    Sandbox,
)
from machinerie.servers import Mosquitto

NAMES = {a.uid: a.name for a in CAST}


class Show:
    """Prints each event as it reaches the hub, with the relay's state at that moment."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.sandbox: Sandbox | None = None
        self.types: Counter[str] = Counter()

    def event(self, event: Event) -> None:
        self.types[event.type.value] += 1
        on = self.sandbox is not None and self.sandbox.relay_on()
        relay = "[bold green]ON [/]" if on else "[dim]off[/]"
        kind = f"[cyan]{event.type.value:<18}[/]"
        self.console.print(f"  relay {relay} │ seq {event.seq:>3} │ {kind} {_detail(event)}")


def _detail(event: Event) -> str:
    data = event.data.model_dump(mode="json")
    uid = str(data.get("badge_uid") or "")
    keys = ("reason", "end_reason", "locked", "version", "code", "outcome", "action")
    extra = " ".join(f"{k}={data[k]}" for k in keys if data.get(k) is not None)
    return f"{NAMES.get(uid, uid)} {extra}".strip()


def demo(
    speed: Annotated[
        float, typer.Option(min=0.1, help="Scenario speed factor (2 = twice as fast).")
    ] = 1.0,
    interactive: Annotated[
        bool, typer.Option(help="After the scenario, type badge UIDs yourself.")
    ] = False,
    duration: Annotated[
        float, typer.Option(min=0, help="Seconds to keep running after the scenario.")
    ] = 0.0,
) -> None:
    """The demo workshop: a real broker, an edge agent on simulated hardware, a scripted morning."""
    console = Console()
    with Mosquitto() as broker, tempfile.TemporaryDirectory(prefix="machinerie-demo-") as tmp:
        ok = run_demo(
            console, broker.port, Path(tmp), speed=speed, interactive=interactive, duration=duration
        )
    if not ok:
        raise typer.Exit(1)


def run_demo(
    console: Console, port: int, folder: Path, *, speed: float, interactive: bool, duration: float
) -> bool:
    show = Show(console)
    console.rule("[bold]Machinerie demo: the laser cutter of the pôle numérique, ateliers Dony")
    with Sandbox(folder, port, on_event=show.event, idle_timeout_s=max(2.0, 6 / speed)) as sandbox:
        show.sandbox = sandbox
        console.print(
            f"broker 127.0.0.1:{port} · agent data in {folder} · "
            f"badge from another shell: machinerie edge badge UID --socket {folder}/reader.sock"
        )
        sandbox.publish_acl()
        Scenario(console, sandbox, speed).play()
        if interactive:
            _interactive(console, sandbox)
        time.sleep(duration)
        sandbox.drained()
        return _summary(console, sandbox, show)


class Scenario:
    def __init__(self, console: Console, sandbox: Sandbox, speed: float) -> None:
        self.console, self.sandbox, self.speed = console, sandbox, speed

    def say(self, text: str) -> None:
        self.console.print(f"\n[bold yellow]▸ {text}[/]")

    def badge(self, who: Artisan | str, pause: float = 1.5) -> None:
        self.sandbox.badge(who.uid if isinstance(who, Artisan) else who)
        self.wait(pause)

    def command(self, action: CommandAction, reason: str) -> None:
        self.sandbox.command(action, reason)
        self.wait(1.5)

    def wait(self, seconds: float) -> None:
        time.sleep(seconds / self.speed)

    def play(self) -> None:
        self.say(f"{ALICE.name} ({ALICE.workshop}) badges in: the relay closes")
        self.badge(ALICE)
        self.say("An unknown badge is tapped: reported so the manager can enrol it")
        self.badge(STRANGER)
        self.say(f"{BRUNO.name} ({BRUNO.workshop}) takes the laser over from Alice")
        self.badge(BRUNO)
        self.say(f"{CHLOE.name}'s laser qualification expired three days ago")
        self.badge(CHLOE)
        self.say(f"{DIDIER.name} is a member, not qualified on the laser")
        self.badge(DIDIER)
        self.say(f"{EMILE.name} may use the laser, but not today")
        self.badge(EMILE)
        self.say("Bruno badges out: the relay opens")
        self.badge(BRUNO)
        self._maintenance()
        self.say("Alice badges in; the manager forces a stop from the hub")
        self.badge(ALICE)
        self.command(CommandAction.FORCE_STOP, "fire drill")
        self.say("Bruno badges in and walks away: the idle timeout ends his session")
        self.badge(BRUNO, pause=0)
        self.sandbox.wait_relay(True)
        self.sandbox.wait_relay(False, timeout=30)
        self.wait(1)

    def _maintenance(self) -> None:
        self.say("The maintainer locks the laser: lens and mirror cleaning is due")
        self.command(CommandAction.LOCK, "lens and mirror cleaning")
        self.badge(ALICE)
        self.say(f"{MARC.name} ({MARC.workshop}) may still use it")
        self.badge(MARC)
        self.badge(MARC)
        self.command(CommandAction.UNLOCK, "cleaning done")


def _interactive(console: Console, sandbox: Sandbox) -> None:
    known = ", ".join(f"{a.uid} ({a.name})" for a in CAST)
    console.print(f"\nType a badge UID then Enter; an empty line ends. Known badges: {known}")
    while True:
        try:
            line = input("badge> ").strip()
        except EOFError:
            return
        if not line:
            return
        sandbox.badge(line.upper())
        time.sleep(0.5)


def _summary(console: Console, sandbox: Sandbox, show: Show) -> bool:
    table = Table(title="Events recorded by the hub")
    table.add_column("event")
    table.add_column("count", justify="right")
    for name, count in sorted(show.types.items()):
        table.add_row(name, str(count))
    console.print(table)
    backlog = sandbox.agent.parts.outbox.backlog()
    seqs = sandbox.hub.seqs()
    in_order = seqs == sorted(seqs)
    console.print(
        f"events at the hub: {len(seqs)} · duplicates dropped: {sandbox.hub.duplicates} · "
        f"in seq order: {in_order} · left in the agent's outbox: {backlog}"
    )
    return backlog == 0 and in_order
