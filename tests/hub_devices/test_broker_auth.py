"""A real Mosquitto with the password file and ACL written by hub.devices, on MQTT 3.1.1 and 5.

Forbidden publications are proved absent by ordering: the broker keeps one client's QoS 1
messages in order, so once a later legitimate message has arrived a forged one never will.
"""

from __future__ import annotations

import time

import pytest

from contracts.topics import Kind, topic
from hub.devices import HUB_USERNAME, add_device, hub_password, write_broker_files
from tests.hub_devices.conftest import Peer, Protocol, SecuredBroker

PROTOCOLS: list[Protocol] = ["3.1.1", "5"]
EVERYTHING = "machinerie/v1/#"


def own(device: str, kind: Kind) -> str:
    return topic("dony", device, kind)


def login(secured: SecuredBroker, peers: list[Peer], user: str, protocol: Protocol) -> Peer:
    password = hub_password(secured.data_dir) if user == HUB_USERNAME else secured.passwords[user]
    peer = Peer(secured.port, user, password, protocol)
    peers.append(peer)
    assert peer.accepted, f"{user} refused: {peer.reason}"
    return peer


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_devices_log_in_with_their_password_only(
    secured: SecuredBroker, peers: list[Peer], protocol: Protocol
) -> None:
    login(secured, peers, "laser-1", protocol)
    login(secured, peers, HUB_USERNAME, protocol)
    wrong = Peer(secured.port, "laser-1", secured.passwords["laser-2"], protocol)
    anonymous = Peer(secured.port, None, None, protocol)
    peers += [wrong, anonymous]
    assert not wrong.accepted
    assert not anonymous.accepted, "allow_anonymous false must override servers.py's default"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_event_in_another_devices_name_never_arrives(
    secured: SecuredBroker, peers: list[Peer], protocol: Protocol
) -> None:
    hub = login(secured, peers, HUB_USERNAME, protocol)
    hub.subscribe(EVERYTHING)
    laser1 = login(secured, peers, "laser-1", protocol)
    laser1.publish(own("laser-2", Kind.EVENT), b"forged")
    laser1.publish(own("laser-2", Kind.STATUS), b"forged", retain=True)
    laser1.publish(own("laser-1", Kind.EVENT), b"genuine")
    hub.wait_for(own("laser-1", Kind.EVENT))
    assert hub.topics() == [own("laser-1", Kind.EVENT)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_device_cannot_forge_its_access_list_or_a_command(
    secured: SecuredBroker, peers: list[Peer], protocol: Protocol
) -> None:
    hub = login(secured, peers, HUB_USERNAME, protocol)
    hub.subscribe(EVERYTHING)
    laser1 = login(secured, peers, "laser-1", protocol)
    laser1.publish(own("laser-1", Kind.ACL), b"forged list", retain=True)
    laser1.publish(own("laser-1", Kind.COMMAND), b"forged command")
    laser1.publish(own("laser-1", Kind.ACK), b"forged ack")
    laser1.publish(own("laser-1", Kind.STATUS), b"genuine", retain=True)
    hub.wait_for(own("laser-1", Kind.STATUS))
    assert hub.topics() == [own("laser-1", Kind.STATUS)]
    late = login(secured, peers, HUB_USERNAME, protocol)
    late.subscribe(own("laser-1", Kind.ACL), own("laser-1", Kind.STATUS))
    late.wait_for(own("laser-1", Kind.STATUS))  # retained, so the broker hands it over
    assert late.topics() == [own("laser-1", Kind.STATUS)], "no forged retained access list"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_hub_writes_to_a_device_which_reads_only_its_own(
    secured: SecuredBroker, peers: list[Peer], protocol: Protocol
) -> None:
    laser1 = login(secured, peers, "laser-1", protocol)
    laser1.subscribe(own("laser-1", Kind.ACL), own("laser-2", Kind.ACL), own("laser-2", Kind.EVENT))
    laser2 = login(secured, peers, "laser-2", protocol)
    laser2.publish(own("laser-2", Kind.EVENT), b"laser-2's event")
    hub = login(secured, peers, HUB_USERNAME, protocol)
    hub.publish(own("laser-2", Kind.ACL), b"laser-2's list", retain=True)
    hub.publish(own("laser-1", Kind.ACL), b"laser-1's list", retain=True)
    message = laser1.wait_for(own("laser-1", Kind.ACL))
    assert message.payload == b"laser-1's list"
    assert laser1.topics() == [own("laser-1", Kind.ACL)]


def test_a_device_added_later_logs_in_after_sighup(
    secured: SecuredBroker, peers: list[Peer]
) -> None:
    _, password = add_device(secured.data_dir, "saw", site="dony", machine_id="saw")
    write_broker_files(secured.data_dir, secured.files.passwd.parent)
    refused = Peer(secured.port, "saw", password, "5")
    peers.append(refused)
    assert not refused.accepted, "Mosquitto reads its files only at start and on SIGHUP"
    secured.broker.reload()
    deadline = time.monotonic() + 5
    while True:
        peer = Peer(secured.port, "saw", password, "5")
        peers.append(peer)
        if peer.accepted or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert peer.accepted
