"""The agent's composition root: picks every adapter from the configuration, in a safe order.

The relay is built first, off, before anything that could fail; simulators are chosen only
when the configuration names them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts import codec
from contracts.errors import ContractError
from contracts.models import Status
from contracts.signing import load_public_key
from contracts.topics import Kind
from edge.acl_cache import AclCache
from edge.agent import Agent
from edge.clock import Clock, SystemClock
from edge.config import EdgeConfig
from edge.errors import ConfigError
from edge.hw import gpio
from edge.hw.readers import open_reader
from edge.inbox import BridgeReport, Incoming, Item, JobReported, LogoutRequested
from edge.link import MqttLink
from edge.notify import Notifier
from edge.outbox import Outbox
from edge.parts import Parts
from edge.publisher import Publisher
from edge.recorder import Identity, Recorder, read_boot_id
from edge.session import JobState, Limits, SessionMachine
from edge.store import Store
from firmware_bridge.errors import BridgeError
from firmware_bridge.follower import Follower
from firmware_bridge.sources import build_follower


def build(
    config: EdgeConfig, *, clock: Clock | None = None, notifier: Notifier | None = None
) -> Agent:
    """Assemble an agent from its configuration; nothing runs until `Agent.run`."""
    factory, power, indicator = gpio.build(config.gpio)
    try:
        return _assemble(
            config,
            clock=clock or SystemClock(),
            notifier=notifier or Notifier(),
            factory=factory,
            power=power,
            indicator=indicator,
        )
    except BaseException:
        power.close()
        indicator.close()
        raise


def _assemble(
    config: EdgeConfig,
    *,
    clock: Clock,
    notifier: Notifier,
    factory: object,
    power: gpio.GpioPowerSwitch,
    indicator: gpio.BackgroundIndicator,
) -> Agent:
    device = config.device
    identity = Identity(device.site, device.device_id, device.machine_id, read_boot_id())
    store = Store(device.data_dir / "edge.db")
    outbox = Outbox(
        store, max_events=config.outbox.max_events, alarm_fraction=config.outbox.alarm_fraction
    )
    wiring = _Wiring()
    link = MqttLink(
        config.mqtt,
        device,
        will_payload=codec.encode(_offline_status(identity, clock)),
        status_payload=wiring.status_payload,
        on_message=wiring.message,
        on_connection_change=wiring.connection_change,
    )
    publisher = Publisher(
        outbox, link, window=config.outbox.window, ack_timeout_s=config.outbox.ack_timeout_s
    )
    parts = Parts(
        config=config,
        identity=identity,
        clock=clock,
        store=store,
        outbox=outbox,
        recorder=Recorder(outbox, identity, clock, on_appended=publisher.wake),
        acl=AclCache(
            device.data_dir / "access-list.json",
            _trusted_keys(config),
            site=device.site,
            machine_id=device.machine_id,
        ),
        machine=SessionMachine(
            Limits(config.session.idle_timeout_s, config.session.max_duration_s), uuid.uuid4
        ),
        reader=open_reader(config.reader, pin_factory=factory),
        power=power,
        indicator=indicator,
        notifier=notifier,
        link=link,
        publisher=publisher,
        pin_factory=factory,
    )
    parts.bridge = _bridge(config, clock, wiring)
    agent = wiring.agent = Agent(parts)
    wiring.publisher = publisher
    _attach_inputs(agent, config, factory)
    if parts.bridge is not None:
        # Until the controller has spoken, a job may be running: hold power at badge-out.
        agent.post(JobReported(JobState.UNKNOWN))
    return agent


def _bridge(config: EdgeConfig, clock: Clock, wiring: _Wiring) -> Follower | None:
    if config.bridge is None:
        return None
    try:
        return build_follower(
            config.bridge,
            clock,
            lambda outputs: wiring.post(BridgeReport(tuple(outputs))),
            broker=(config.mqtt.host, config.mqtt.port),
        )
    except BridgeError as exc:
        raise ConfigError(f"bridge: {exc}") from exc


@dataclass
class _Wiring:
    """Forwards the link's callbacks to the agent, which is built after the link."""

    agent: Agent | None = None
    publisher: Publisher | None = None

    def post(self, item: Item) -> None:
        if self.agent is not None:
            self.agent.post(item)

    def status_payload(self) -> bytes:
        assert self.agent is not None
        return self.agent.status_payload()

    def message(self, kind: Kind, payload: bytes) -> None:
        assert self.agent is not None and self.publisher is not None
        # Acks go straight to the publisher so a busy main loop never slows the outbox drain.
        if kind is Kind.ACK:
            self.publisher.handle_ack(payload)
        else:
            self.agent.post(Incoming(kind, payload))

    def connection_change(self, connected: bool) -> None:
        if self.publisher is not None:
            self.publisher.on_connection_change(connected)


def _attach_inputs(agent: Agent, config: EdgeConfig, factory: object) -> None:
    def job_changed(running: bool) -> None:
        agent.post(JobReported(JobState.RUNNING if running else JobState.IDLE))

    inputs = gpio.GpioInputs(
        config.gpio,
        on_logout=lambda: agent.post(LogoutRequested()),
        on_job_change=job_changed,
        pin_factory=factory,
    )
    agent.parts.extra_closers.append(inputs)
    if inputs.has_job_input:
        job_changed(inputs.job_running)


def _offline_status(identity: Identity, clock: Clock) -> Status:
    return Status(
        site=identity.site,
        device_id=identity.device_id,
        machine_id=identity.machine_id,
        boot_id=identity.boot_id,
        online=False,
        time=clock.now(),
    )


def _trusted_keys(config: EdgeConfig) -> dict[str, Ed25519PublicKey]:
    try:
        return {
            key_id: load_public_key(value) for key_id, value in config.access.trusted_keys.items()
        }
    except (ContractError, ValueError) as exc:
        raise ConfigError(f"access.trusted_keys: {exc}") from exc
