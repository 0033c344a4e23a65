"""AccessListPublisher against a real Mosquitto that checks passwords and the ACL."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.models import AccessEntry, Role
from contracts.signing import load_public_key, open_access_list
from contracts.topics import Kind, topic
from hub.acl import AccessListPublisher, build_access_list, load_or_create_signing_key
from hub.devices import hub_password
from hub.devices.errors import BrokerError
from hub.errors import Conflict, Invalid
from tests.hub_devices.conftest import Peer, Protocol, SecuredBroker

ALICE = AccessEntry(badge_uid="04A2246AB12C80", member_id="alice", role=Role.USER)
ACL_TOPIC = topic("dony", "laser-1", Kind.ACL)
STATUS_TOPIC = topic("dony", "laser-1", Kind.STATUS)


def hub_publisher(secured: SecuredBroker, protocol: Protocol = "5") -> AccessListPublisher:
    return AccessListPublisher.connect(
        load_or_create_signing_key(secured.data_dir),
        host="127.0.0.1",
        port=secured.port,
        password=hub_password(secured.data_dir),
        protocol=protocol,
    )


def retained_list(secured: SecuredBroker, peers: list[Peer]) -> bytes | None:
    """What a newly subscribing reader gets on laser-1's acl topic, if anything.

    A retained status goes first so an absent list shows by ordering, not by a timeout.
    """
    reader = Peer(secured.port, "hub", hub_password(secured.data_dir), "5")
    peers.append(reader)
    reader.publish(STATUS_TOPIC, b"marker", retain=True)
    reader.subscribe(ACL_TOPIC, STATUS_TOPIC)
    reader.wait_for(STATUS_TOPIC)
    found = [m.payload for m in reader.messages if m.topic == ACL_TOPIC]
    return bytes(found[0]) if found else None


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_the_list_is_retained_signed_and_for_that_device(
    secured: SecuredBroker, peers: list[Peer], protocol: Protocol
) -> None:
    with hub_publisher(secured, protocol) as publisher:
        acl = build_access_list(
            site="dony", machine_id="laser-1", version=7, entries=[ALICE], timezone="UTC"
        )
        publisher.publish("dony", "laser-1", acl)
        payload = retained_list(secured, peers)
    assert payload is not None
    trusted = {publisher.keys.key_id: load_public_key(publisher.keys.public_base64())}
    received = open_access_list(payload, trusted)
    assert received.model_dump(mode="json") == acl.model_dump(mode="json")  # ms on the wire


def test_older_versions_are_refused_and_never_sent(
    secured: SecuredBroker, peers: list[Peer]
) -> None:
    with hub_publisher(secured) as publisher:
        v5 = build_access_list(site="dony", machine_id="laser-1", version=5, entries=[ALICE])
        publisher.publish("dony", "laser-1", v5)
        v4 = build_access_list(site="dony", machine_id="laser-1", version=4, entries=[])
        with pytest.raises(Conflict, match="older than v5"):
            publisher.publish("dony", "laser-1", v4)
        publisher.publish("dony", "laser-1", v5)  # the same version again: a harmless resend
        publisher.publish("dony", "laser-2", v4)  # versions are per device
        assert publisher.last_version("dony", "laser-1") == 5
        payload = retained_list(secured, peers)
    assert payload is not None
    assert (
        open_access_list(
            payload, {publisher.keys.key_id: publisher.keys.private.public_key()}
        ).version
        == 5
    )


def test_a_list_for_another_site_is_refused(secured: SecuredBroker) -> None:
    with hub_publisher(secured) as publisher:
        kultura = build_access_list(site="kultura", machine_id="laser-1", version=1, entries=[])
        with pytest.raises(Invalid):
            publisher.publish("dony", "laser-1", kultura)


def test_clear_removes_the_retained_list(secured: SecuredBroker, peers: list[Peer]) -> None:
    with hub_publisher(secured) as publisher:
        publisher.publish(
            "dony",
            "laser-1",
            build_access_list(site="dony", machine_id="laser-1", version=3, entries=[]),
        )
        assert retained_list(secured, peers) is not None
        publisher.clear("dony", "laser-1")
        assert retained_list(secured, peers) is None
        assert publisher.last_version("dony", "laser-1") is None


def test_a_wrong_hub_password_is_refused(secured: SecuredBroker, tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="refused 'hub'"):
        AccessListPublisher.connect(
            load_or_create_signing_key(tmp_path),
            host="127.0.0.1",
            port=secured.port,
            password=secured.passwords["laser-1"],  # a device's, not the hub's
        )


def test_a_given_client_is_used_and_left_open(secured: SecuredBroker, peers: list[Peer]) -> None:
    hub = Peer(secured.port, "hub", hub_password(secured.data_dir), "5")
    peers.append(hub)
    publisher = AccessListPublisher(hub.client, load_or_create_signing_key(secured.data_dir))
    publisher.publish(
        "dony",
        "laser-1",
        build_access_list(site="dony", machine_id="laser-1", version=1, entries=[]),
    )
    publisher.close()
    assert hub.client.is_connected()
    assert retained_list(secured, peers) is not None
