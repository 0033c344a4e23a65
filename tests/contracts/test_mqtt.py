"""The contract over a real Mosquitto with paho-mqtt, on MQTT 3.1.1 and MQTT 5.

Checks what docs/contract.md promises a device author: topics and payloads arrive intact, the
signed access list is retained, the last will fires, persistent sessions keep acks, and the
documented `%u` ACL confines a device to its own branch.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contracts.codec import decode_ack, decode_event, decode_status, encode
from contracts.models import Ack
from contracts.schema import (
    DEVICE,
    MACHINE,
    SITE,
    example_access_list,
    example_events,
    example_status,
    example_will,
)
from contracts.signing import KeyPair, load_public_key, open_access_list, sign_access_list
from contracts.topics import Kind, Topic, parse, site_filter, topic
from machinerie.servers import Mosquitto

V311, V5 = MQTTProtocolVersion.MQTTv311, MQTTProtocolVersion.MQTTv5
PROTOCOLS = [pytest.param(V311, id="mqtt3.1.1"), pytest.param(V5, id="mqtt5")]
TIMEOUT = 5.0
HUB_KEY = KeyPair.generate("hub-test")
TRUSTED = {HUB_KEY.key_id: load_public_key(HUB_KEY.public_base64())}


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Client:
    """A paho client running its network loop, with what it received in a queue."""

    paho: mqtt.Client
    inbox: queue.Queue[Received] = field(default_factory=queue.Queue)
    connected: queue.Queue[tuple[bool, bool]] = field(default_factory=queue.Queue)
    subscribed: queue.Queue[list[int]] = field(default_factory=queue.Queue)

    def subscribe(self, topic_filter: str, qos: int = 1) -> list[int]:
        self.paho.subscribe(topic_filter, qos)
        return self.subscribed.get(timeout=TIMEOUT)

    def publish(self, topic_name: str, payload: bytes, qos: int, retain: bool = False) -> None:
        self.paho.publish(topic_name, payload, qos=qos, retain=retain).wait_for_publish(TIMEOUT)

    def next(self) -> Received:
        return self.inbox.get(timeout=TIMEOUT)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()

    def drop(self) -> None:
        """Lose the connection without DISCONNECT, as a device that loses power does."""
        self.paho.loop_stop()
        sock = self.paho.socket()
        assert sock is not None
        sock.close()


def connect(
    port: int,
    client_id: str,
    protocol: MQTTProtocolVersion,
    *,
    username: str | None = None,
    persistent: bool = False,
    session_expiry: int = 3600,
    will: tuple[str, bytes] | None = None,
) -> tuple[Client, bool]:
    """Connect as the docs tell a device to; return the client and the session-present flag."""
    v5 = protocol is V5
    paho = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        # MQTT 3.1.1 keeps the session with clean_session=False; MQTT 5 uses clean_start plus
        # a session expiry, and paho refuses clean_session there.
        clean_session=None if v5 else not persistent,
    )
    client = Client(paho)
    paho.on_connect = lambda _c, _u, flags, reason, _p: client.connected.put(
        (not reason.is_failure, flags.session_present)
    )
    paho.on_subscribe = lambda _c, _u, _mid, codes, _p: client.subscribed.put(
        [code.value for code in codes]
    )
    paho.on_message = lambda _c, _u, message: client.inbox.put(
        Received(message.topic, bytes(message.payload), message.retain)
    )
    if username is not None:
        paho.username_pw_set(username)
    if will is not None:
        paho.will_set(will[0], will[1], qos=1, retain=True)
    if v5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if persistent and session_expiry:
            properties.SessionExpiryInterval = session_expiry
        paho.connect("127.0.0.1", port, clean_start=not persistent, properties=properties)
    else:
        paho.connect("127.0.0.1", port)
    paho.loop_start()
    ok, session_present = client.connected.get(timeout=TIMEOUT)
    assert ok
    return client, session_present


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


def device_topic(kind: Kind) -> str:
    return topic(SITE, DEVICE, kind)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_event_travels_from_device_to_hub(
    mosquitto: Mosquitto, clients: list[Client], protocol: MQTTProtocolVersion
) -> None:
    hub, _ = connect(mosquitto.port, "hub-1", protocol)
    device, _ = connect(mosquitto.port, DEVICE, protocol)
    clients += [hub, device]
    assert hub.subscribe(site_filter(Kind.EVENT)) == [1]
    for event in example_events():
        device.publish(device_topic(Kind.EVENT), encode(event), qos=1)
    for event in example_events():
        received = hub.next()
        assert parse(received.topic) == Topic(SITE, DEVICE, Kind.EVENT)
        assert decode_event(received.payload) == event


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retained_signed_access_list_reaches_a_device_that_connects_later(
    mosquitto: Mosquitto, clients: list[Client], protocol: MQTTProtocolVersion
) -> None:
    hub, _ = connect(mosquitto.port, "hub-1", protocol)
    clients.append(hub)
    acl = example_access_list()
    hub.publish(topic(SITE, DEVICE, Kind.ACL), sign_access_list(acl, HUB_KEY), qos=1, retain=True)
    device, _ = connect(mosquitto.port, DEVICE, protocol)
    clients.append(device)
    device.subscribe(device_topic(Kind.ACL))
    received = device.next()
    assert received.retain
    assert open_access_list(received.payload, TRUSTED) == acl
    assert acl.machine_id == MACHINE


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_last_will_says_offline(
    mosquitto: Mosquitto, clients: list[Client], protocol: MQTTProtocolVersion
) -> None:
    status = device_topic(Kind.STATUS)
    device, _ = connect(mosquitto.port, DEVICE, protocol, will=(status, encode(example_will())))
    device.publish(status, encode(example_status()), qos=1, retain=True)
    watcher, _ = connect(mosquitto.port, "hub-1", protocol)
    clients.append(watcher)
    watcher.subscribe(site_filter(Kind.STATUS))
    assert decode_status(watcher.next().payload).online
    device.drop()
    will = watcher.next()
    assert not will.retain  # delivered live to a current subscriber
    assert decode_status(will.payload) == example_will()
    # Retained: whoever subscribes later learns the device is offline.
    late, _ = connect(mosquitto.port, "hub-2", protocol)
    clients.append(late)
    late.subscribe(status)
    assert decode_status(late.next().payload).online is False


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_persistent_session_keeps_acks_sent_while_offline(
    mosquitto: Mosquitto, clients: list[Client], protocol: MQTTProtocolVersion
) -> None:
    device, present = connect(mosquitto.port, DEVICE, protocol, persistent=True)
    device.subscribe(device_topic(Kind.ACK))
    device.close()
    hub, _ = connect(mosquitto.port, "hub-1", protocol)
    clients.append(hub)
    ack = Ack(event_ids=[event.event_id for event in example_events()])
    hub.publish(device_topic(Kind.ACK), encode(ack), qos=1)
    device, present = connect(mosquitto.port, DEVICE, protocol, persistent=True)
    clients.append(device)
    assert present
    assert decode_ack(device.next().payload) == ack


def test_mqtt5_without_session_expiry_forgets_the_session(
    mosquitto: Mosquitto, clients: list[Client]
) -> None:
    # The pitfall the docs warn about: clean_start=False alone ends the session at disconnect.
    device, _ = connect(mosquitto.port, DEVICE, V5, persistent=True, session_expiry=0)
    device.subscribe(device_topic(Kind.ACK))
    device.close()
    device, present = connect(mosquitto.port, DEVICE, V5, persistent=True)
    clients.append(device)
    assert not present


# ---------------------------------------------------------------- the documented broker ACL

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "contract.md"
# The file we ship is the one under test, and the docs must quote it.
SHIPPED_ACL = ROOT / "deploy" / "mosquitto" / "machinerie.acl"


def acl_rules() -> list[str]:
    lines = SHIPPED_ACL.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_docs_give_the_shipped_acl_lines() -> None:
    text = DOC.read_text(encoding="utf-8")
    for line in acl_rules():
        assert line in text


@pytest.fixture
def guarded() -> Iterator[Mosquitto]:
    # Anonymous with a username is enough to exercise %u; production adds a password file.
    with Mosquitto(extra=f"acl_file {SHIPPED_ACL}") as broker:
        yield broker


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_broker_acl_confines_a_device_to_its_branch(
    guarded: Mosquitto, clients: list[Client], protocol: MQTTProtocolVersion
) -> None:
    hub, _ = connect(guarded.port, "hub-1", protocol, username="hub")
    device, _ = connect(guarded.port, DEVICE, protocol, username=DEVICE)
    clients += [hub, device]
    hub.subscribe("machinerie/v1/#")
    device.subscribe(device_topic(Kind.ACL))
    device.subscribe(topic(SITE, "other-pi", Kind.ACL))  # allowed to ask, never served

    # The device may not write what the hub writes, nor under another device.
    forged = encode(example_events()[0])
    device.publish(topic(SITE, "other-pi", Kind.EVENT), forged, qos=1)
    device.publish(device_topic(Kind.COMMAND), b"{}", qos=1)
    device.publish(device_topic(Kind.EVENT), forged, qos=1)
    received = hub.next()
    assert received.topic == device_topic(Kind.EVENT)  # only the legitimate one arrived

    # The hub's messages reach their own device only.
    hub.publish(topic(SITE, "other-pi", Kind.ACL), b"for the other", qos=1)
    hub.publish(device_topic(Kind.ACL), b"for this one", qos=1)
    assert device.next().payload == b"for this one"
    assert hub.next().payload == b"for the other"  # hub sees its own traffic on `#`
    assert hub.next().payload == b"for this one"
    with pytest.raises(queue.Empty):
        device.inbox.get(timeout=0.5)
