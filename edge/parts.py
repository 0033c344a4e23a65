"""The parts an agent is made of, as the composition root hands them over."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from contracts.topics import Kind
from edge.acl_cache import AclCache
from edge.clock import Clock
from edge.config import EdgeConfig
from edge.hw.ports import BadgeReader, Indicator, PowerSwitch
from edge.notify import Notifier
from edge.outbox import Outbox
from edge.recorder import Identity, Recorder
from edge.session import SessionMachine
from edge.store import Store
from firmware_bridge.follower import Snapshot


class LinkPort(Protocol):
    @property
    def connected(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def publish(
        self, kind: Kind, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> bool: ...


class BridgePort(Protocol):
    """The firmware bridge as the agent uses it (`firmware_bridge.follower.Follower`)."""

    def start(self) -> object: ...

    def stop(self) -> None: ...

    def power(self, on: bool) -> None: ...

    def snapshot(self) -> Snapshot: ...


class PublisherPort(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def wake(self) -> None: ...


@dataclass
class Parts:
    """What the composition root built; the agent owns and closes all of it."""

    config: EdgeConfig
    identity: Identity
    clock: Clock
    store: Store
    outbox: Outbox
    recorder: Recorder
    acl: AclCache
    machine: SessionMachine
    reader: BadgeReader
    power: PowerSwitch
    indicator: Indicator
    notifier: Notifier
    link: LinkPort
    publisher: PublisherPort
    pin_factory: object = None
    bridge: BridgePort | None = None
    extra_closers: list[object] = field(default_factory=list)
