"""Publishing signed access lists: retained, QoS 1, on each machine's device `acl` topic.

Versions come from the caller (the registry's counter); the publisher only refuses to go
backwards, since a device keeps the highest version it has seen and ignores anything older.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

from paho.mqtt.client import Client, ConnectFlags, MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.models import AccessEntry, AccessList
from contracts.signing import KeyPair, sign_access_list
from contracts.topics import DEFAULT_PREFIX, Kind, topic
from hub.devices.aclfile import HUB_USERNAME
from hub.devices.errors import BrokerError
from hub.errors import Conflict, Invalid

TIMEOUT_S = 10.0


def build_access_list(
    *,
    site: str,
    machine_id: str,
    version: int,
    entries: Iterable[AccessEntry],
    timezone: str = "Europe/Brussels",
    issued_at: datetime | None = None,
) -> AccessList:
    return AccessList(
        site=site,
        machine_id=machine_id,
        version=version,
        issued_at=issued_at or datetime.now(UTC),
        timezone=timezone,
        entries=list(entries),
    )


class AccessListPublisher:
    """Signs and publishes access lists through one paho client (given, or made by `connect`)."""

    def __init__(
        self,
        client: Client,
        keys: KeyPair,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout_s: float = TIMEOUT_S,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._keys = keys
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._owns_client = owns_client
        self._last: dict[tuple[str, str], int] = {}
        # Held across check, publish and record so two threads cannot overtake each other.
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        keys: KeyPair,
        *,
        host: str,
        port: int,
        password: str,
        username: str = HUB_USERNAME,
        protocol: Literal["3.1.1", "5"] = "5",
        prefix: str = DEFAULT_PREFIX,
        timeout_s: float = TIMEOUT_S,
    ) -> AccessListPublisher:
        """Log in to the broker (raises BrokerError if refused) and return a publisher."""
        client = _connected_client(
            host, port, username=username, password=password, protocol=protocol, timeout_s=timeout_s
        )
        return cls(client, keys, prefix=prefix, timeout_s=timeout_s, owns_client=True)

    @property
    def keys(self) -> KeyPair:
        return self._keys

    def last_version(self, site: str, device_id: str) -> int | None:
        return self._last.get((site, device_id))

    def publish(self, site: str, device_id: str, acl: AccessList) -> None:
        """Sign `acl` and publish it retained for `device_id`; returns once the broker has it."""
        if acl.site != site:
            raise Invalid(f"access list for site {acl.site!r} published under site {site!r}")
        payload = sign_access_list(acl, self._keys)
        with self._lock:
            last = self._last.get((site, device_id))
            if last is not None and acl.version < last:
                raise Conflict(
                    f"access list v{acl.version} for {site}/{device_id} is older than v{last}, "
                    "already published: devices would ignore it"
                )
            self._send(site, device_id, payload)
            self._last[(site, device_id)] = acl.version

    def clear(self, site: str, device_id: str) -> None:
        """Remove a decommissioned device's retained list (an empty retained message)."""
        with self._lock:
            self._send(site, device_id, b"")
            # The device is gone; a new device under this id starts from whatever comes next.
            self._last.pop((site, device_id), None)

    def _send(self, site: str, device_id: str, payload: bytes) -> None:
        where = topic(site, device_id, Kind.ACL, self._prefix)
        info = self._client.publish(where, payload, qos=1, retain=True)
        if not _wait(info, self._timeout_s):
            raise BrokerError(f"the broker did not confirm {where} within {self._timeout_s} s")

    def close(self) -> None:
        if self._owns_client:
            self._client.disconnect()
            self._client.loop_stop()

    def __enter__(self) -> AccessListPublisher:
        return self

    def __exit__(
        self, exc: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _wait(info: MQTTMessageInfo, timeout_s: float) -> bool:
    # Not connected (rc NO_CONN) means paho queued the message for later: we cannot promise it
    # reached the broker, so we report failure instead of waiting on paho's RuntimeError.
    if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
        return False
    info.wait_for_publish(timeout_s)
    return info.is_published()


def _connected_client(
    host: str,
    port: int,
    *,
    username: str,
    password: str,
    protocol: Literal["3.1.1", "5"],
    timeout_s: float,
) -> Client:
    version = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
    # A unique client id per publisher: hub replicas must not take over each other's session.
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{username}-acl-{uuid.uuid4().hex[:8]}",
        protocol=version,
    )
    client.username_pw_set(username, password)
    answered = threading.Event()
    outcome: list[ReasonCode] = []

    def on_connect(
        _client: Client,
        _userdata: object,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        outcome.append(reason)
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port)
    except OSError as exc:
        raise BrokerError(f"cannot reach the broker at {host}:{port}: {exc}") from None
    client.loop_start()
    if not answered.wait(timeout_s) or outcome[0].is_failure:
        client.disconnect()
        client.loop_stop()
        why = str(outcome[0]) if outcome else "no answer"
        raise BrokerError(f"the broker at {host}:{port} refused {username!r}: {why}")
    return client
