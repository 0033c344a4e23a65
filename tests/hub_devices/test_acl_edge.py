"""The real edge agent, logged in with its hub-made password, applies lists from the publisher.

The agent is built from machinerie.sandbox's configuration, trusting the key from hub.acl and
logging in as its device account; the broker enforces the ACL written by hub.devices.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from contracts.models import AccessEntry, AccessList, Role
from contracts.signing import KeyPair
from contracts.topics import Kind, site_filter
from edge.agent import Agent
from edge.app import build
from edge.hw.simreader import SimulatedReader
from hub.acl import AccessListPublisher, build_access_list, load_or_create_signing_key
from hub.devices import hub_password
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, DEVICE, RELAY, SITE, agent_config, cast_entries
from tests.hub_devices.conftest import Peer, Protocol, SecuredBroker


@contextmanager
def edge_agent(
    folder: Path, secured: SecuredBroker, keys: KeyPair, protocol: Protocol
) -> Iterator[Agent]:
    """The sandbox's agent, but trusting `keys` and logging in as its own broker account."""
    password_file = folder / "mqtt.password"
    password_file.write_text(secured.passwords[DEVICE] + "\n")
    password_file.chmod(0o600)
    config = agent_config(folder, secured.port, keys, heartbeat_s=0.2, protocol=protocol)
    mqtt = config.mqtt.model_copy(update={"username": DEVICE, "password_file": password_file})
    agent = build(config.model_copy(update={"mqtt": mqtt}))
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), name="edge-agent", daemon=True)
    thread.start()
    try:
        assert agent.ready.wait(15), "the agent did not become ready"
        yield agent
    finally:
        stop.set()
        thread.join(15)


def acl_version(agent: Agent) -> int | None:
    index = agent.parts.acl.index
    return None if index is None else index.version


def relay_on(agent: Agent) -> bool:
    factory = agent.parts.pin_factory
    assert isinstance(factory, MockFactory)
    return bool(factory.pin(RELAY).state)


def badge(agent: Agent, uid: str) -> None:
    reader = agent.parts.reader
    assert isinstance(reader, SimulatedReader)
    reader.present(uid)


def applied_versions(hub: Peer) -> list[int]:
    """acl_applied events the device reported, once each (unacked events are resent)."""
    seen: dict[str, int] = {}
    for message in list(hub.messages):
        event = json.loads(message.payload)
        if event["type"] == "acl_applied":
            seen[event["event_id"]] = event["data"]["version"]
    return list(seen.values())


def denials(hub: Peer) -> set[str]:
    payloads = [json.loads(m.payload) for m in list(hub.messages)]
    return {e["data"]["reason"] for e in payloads if e["type"] == "access_denied"}


def listing(version: int, entries: list[AccessEntry]) -> AccessList:
    return build_access_list(
        site=SITE, machine_id=DEVICE, version=version, entries=entries, timezone="UTC"
    )


def revoked(entries: list[AccessEntry], member_id: str) -> list[AccessEntry]:
    return [
        e.model_copy(update={"role": Role.NONE}) if e.member_id == member_id else e for e in entries
    ]


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_publish_apply_revoke_and_ignore_an_older_version(
    tmp_path: Path, secured: SecuredBroker, peers: list[Peer], protocol: Protocol
) -> None:
    keys = load_or_create_signing_key(secured.data_dir)

    def connect() -> AccessListPublisher:
        password = hub_password(secured.data_dir)
        return AccessListPublisher.connect(
            keys, host="127.0.0.1", port=secured.port, password=password, protocol=protocol
        )

    events = Peer(secured.port, "hub", hub_password(secured.data_dir), protocol)
    peers.append(events)
    events.subscribe(site_filter(Kind.EVENT, SITE))
    entries = cast_entries()

    with (
        connect() as hub,
        connect() as other_replica,
        edge_agent(tmp_path, secured, keys, protocol) as agent,
    ):
        hub.publish(
            SITE,
            DEVICE,
            listing(1, entries),
        )
        assert wait_until(lambda: acl_version(agent) == 1, 10), "v1 was not applied"

        badge(agent, ALICE.uid)
        assert wait_until(lambda: relay_on(agent), 5), "Alice's session did not start"

        sent = time.monotonic()
        hub.publish(
            SITE,
            DEVICE,
            listing(2, revoked(entries, ALICE.member_id)),
        )
        assert wait_until(lambda: not relay_on(agent), 5), "revocation did not cut power in 5 s"
        assert time.monotonic() - sent < 5
        assert acl_version(agent) == 2

        # Another hub replica still holding v1 re-publishes it, then catches up with v3. The
        # device handles its acl topic in order, so by the time v3 is applied v1 was seen.
        other_replica.publish(
            SITE,
            DEVICE,
            listing(1, entries),
        )
        other_replica.publish(
            SITE,
            DEVICE,
            listing(3, revoked(entries, ALICE.member_id)),
        )
        assert wait_until(lambda: acl_version(agent) == 3, 10), "v3 was not applied"
        assert wait_until(lambda: len(applied_versions(events)) >= 3, 10)
        assert applied_versions(events) == [1, 2, 3], "v1 must not be applied over v2"

        badge(agent, ALICE.uid)
        assert wait_until(lambda: "not_qualified" in denials(events), 5)
        assert not relay_on(agent), "Alice is no longer qualified"
