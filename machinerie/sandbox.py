"""One edge agent on simulated hardware against a real broker, with stand-ins for the hub.

The demo, the benchmarks and the tests all drive the same sandbox: a simulated badge reader,
gpiozero's mock pins, an acking hub and a control client that signs access lists.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from contracts.models import AccessEntry, CommandAction, Event, EventType, Role, Window
from contracts.signing import KeyPair
from edge.agent import Agent
from edge.app import build
from edge.config import EdgeConfig
from edge.hw.simreader import SimulatedReader
from machinerie.ackhub import AckingHub, wait_until
from machinerie.control import HubControl, access_list

SITE, DEVICE = "dony", "laser-1"
RELAY, LED, BUZZER, LOGOUT, JOB = 17, 27, 22, 5, 6


@dataclass(frozen=True)
class Artisan:
    member_id: str
    name: str
    workshop: str
    uid: str


ALICE = Artisan("alice", "Alice Lambert", "Bois Vif (ébénisterie)", "04A2246AB12C80")
BRUNO = Artisan("bruno", "Bruno Dethier", "Terre & Feu (céramique)", "3B9AC9FF")
CHLOE = Artisan("chloe", "Chloé Marchal", "Fil d'Ourthe (textile)", "04B5E1726C5A80")
DIDIER = Artisan("didier", "Didier Renard", "Forge du Longdoz (métal)", "A1B2C3D4")
EMILE = Artisan("emile", "Émile Collard", "Atelier Outremeuse (sérigraphie)", "5C0FFEE5")
MARC = Artisan("marc", "Marc Piron", "maintenance, Dynamocoop", "0488A1B2C3D4E5F6A7B8")
CAST = (ALICE, BRUNO, CHLOE, DIDIER, EMILE, MARC)
STRANGER = "DEADBEEF"


def cast_entries(now: datetime | None = None) -> list[AccessEntry]:
    """Alice and Bruno qualified, Chloé expired, Didier not qualified, Émile outside hours
    (his window covers every day but today), Marc maintainer."""
    now = now or datetime.now(UTC)
    other_days = [d for d in range(1, 8) if d != now.astimezone(UTC).isoweekday()]
    return [
        AccessEntry(badge_uid=ALICE.uid, member_id=ALICE.member_id, role=Role.USER),
        AccessEntry(badge_uid=BRUNO.uid, member_id=BRUNO.member_id, role=Role.USER),
        AccessEntry(
            badge_uid=CHLOE.uid,
            member_id=CHLOE.member_id,
            role=Role.USER,
            expires_at=now - timedelta(days=3),
        ),
        AccessEntry(badge_uid=DIDIER.uid, member_id=DIDIER.member_id, role=Role.NONE),
        AccessEntry(
            badge_uid=EMILE.uid,
            member_id=EMILE.member_id,
            role=Role.USER,
            windows=[Window(days=other_days, start="00:00", end="24:00")],
        ),
        AccessEntry(badge_uid=MARC.uid, member_id=MARC.member_id, role=Role.MAINTAINER),
    ]


def agent_config(
    folder: Path, port: int, keys: KeyPair, *, device: str = DEVICE, **session: Any
) -> EdgeConfig:
    """An agent on the simulated reader and mock pins, gating the machine of the same id as the
    device; `session` overrides [session] keys (`protocol` the MQTT version, `bridge` the
    firmware bridge's table, which replaces the job-running pin)."""
    protocol = session.pop("protocol", "5")
    bridge = session.pop("bridge", None)
    gpio: dict[str, Any] = {
        "pin_factory": "mock",
        "relay_pin": RELAY,
        "led_pin": LED,
        "buzzer_pin": BUZZER,
        "logout_pin": LOGOUT,
        "job_running_pin": None if bridge else JOB,
    }
    return EdgeConfig.model_validate(
        {
            "device": {
                "site": SITE,
                "device_id": device,
                "machine_id": device,
                "data_dir": str(folder / "edge"),
            },
            "mqtt": {"host": "127.0.0.1", "port": port, "protocol": protocol},
            "reader": {"kind": "simulated", "socket": str(folder / "reader.sock")},
            "gpio": gpio,
            "session": {"heartbeat_s": 1, "idle_timeout_s": 0, **session},
            "access": {"trusted_keys": {keys.key_id: keys.public_base64()}},
            "outbox": {"ack_timeout_s": 3},
            "bridge": bridge,
        }
    )


AGENT_TOML = """\
[device]
site = "{site}"
device_id = "{device}"
machine_id = "{device}"
data_dir = "{folder}/edge"

[mqtt]
host = "127.0.0.1"
port = {port}

[reader]
kind = "simulated"
socket = "{folder}/reader.sock"

[gpio]
pin_factory = "mock"
relay_pin = {relay}
led_pin = {led}

[session]
heartbeat_s = {heartbeat_s}
idle_timeout_s = 0

[access.trusted_keys]
{key_id} = "{public}"
"""


def write_agent_toml(folder: Path, port: int, keys: KeyPair, *, heartbeat_s: float = 15) -> Path:
    """The same agent as a TOML file, for running it as its own process (`python -m edge run`)."""
    path = folder / "edge.toml"
    path.write_text(
        AGENT_TOML.format(
            site=SITE,
            device=DEVICE,
            folder=folder,
            port=port,
            relay=RELAY,
            led=LED,
            heartbeat_s=heartbeat_s,
            key_id=keys.key_id,
            public=keys.public_base64(),
        )
    )
    return path


class Sandbox:
    def __init__(
        self,
        folder: Path,
        port: int,
        *,
        on_event: Any = None,
        acking_hub: bool = True,
        **session: Any,
    ) -> None:
        """`acking_hub=False` leaves acking to a real hub the caller runs."""
        self.folder, self.port = folder, port
        self.keys = KeyPair.generate("hub-sandbox")
        self.config = agent_config(folder, port, self.keys, **session)
        self.hub = AckingHub(
            port, on_event=on_event, acking=acking_hub, protocol=self.config.mqtt.protocol
        ).start()
        self.control = HubControl(port, self.keys)
        self._agent: Agent | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- agent lifecycle

    @property
    def agent(self) -> Agent:
        assert self._agent is not None, "agent not started"
        return self._agent

    def start_agent(self) -> Agent:
        self._agent = build(self.config)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._agent.run, args=(self._stop,), name="edge-agent", daemon=True
        )
        self._thread.start()
        if not self._agent.ready.wait(15):
            raise RuntimeError("the agent did not become ready")
        return self._agent

    def stop_agent(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
            if self._thread.is_alive():
                raise RuntimeError("the agent did not stop")
            self._thread = None

    def close(self) -> None:
        self.stop_agent()
        self.control.close()
        self.hub.stop()

    def __enter__(self) -> Sandbox:
        self.start_agent()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- hub side

    def publish_acl(self, version: int = 1, entries: list[AccessEntry] | None = None) -> None:
        acl = access_list(
            SITE, DEVICE, cast_entries() if entries is None else entries, version=version
        )
        self.control.publish_access_list(DEVICE, acl)
        if not wait_until(lambda: self.acl_version() == version, 10):
            raise RuntimeError(f"access list v{version} was not applied")

    def acl_version(self) -> int | None:
        index = self.agent.parts.acl.index
        return None if index is None else index.version

    def command(self, action: CommandAction, reason: str = "") -> None:
        self.control.command(SITE, DEVICE, action, reason)

    def events(self, type_: EventType | None = None) -> list[Event]:
        return [e for e in list(self.hub.events) if type_ in (None, e.type)]

    def wait_event(self, type_: EventType, count: int = 1, timeout: float = 10) -> list[Event]:
        if not wait_until(lambda: len(self.events(type_)) >= count, timeout):
            seen = [e.type.value for e in self.events()]
            raise AssertionError(f"expected {count} {type_.value}, the hub has {seen}")
        return self.events(type_)

    def drained(self, timeout: float = 15) -> bool:
        return wait_until(lambda: self.agent.parts.outbox.backlog() == 0, timeout)

    # ---------------------------------------------------------------- hardware side

    @property
    def reader(self) -> SimulatedReader:
        reader = self.agent.parts.reader
        assert isinstance(reader, SimulatedReader)
        return reader

    @property
    def factory(self) -> MockFactory:
        factory = self.agent.parts.pin_factory
        assert isinstance(factory, MockFactory)
        return factory

    def relay_on(self) -> bool:
        return bool(self.factory.pin(RELAY).state)

    def badge(self, uid: str) -> None:
        self.reader.present(uid)

    def wait_relay(self, on: bool, timeout: float = 5) -> None:
        if not wait_until(lambda: self.relay_on() == on, timeout):
            raise AssertionError(f"the relay never went {'on' if on else 'off'}")
