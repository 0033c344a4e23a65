"""What the hub sends down to devices (signed access lists, commands), for the demo and tests.

The hub's registry will produce the same messages; until then this is how a list reaches a
machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion

from contracts.codec import encode
from contracts.models import AccessEntry, AccessList, Command, CommandAction
from contracts.signing import KeyPair, sign_access_list
from contracts.topics import DEFAULT_PREFIX, Kind, topic


def access_list(
    site: str,
    machine_id: str,
    entries: Iterable[AccessEntry],
    *,
    version: int,
    timezone: str = "Europe/Brussels",
) -> AccessList:
    return AccessList(
        site=site,
        machine_id=machine_id,
        version=version,
        issued_at=datetime.now(UTC),
        timezone=timezone,
        entries=list(entries),
    )


class HubControl:
    """A paho client that publishes signed access lists (retained) and commands."""

    def __init__(
        self, port: int, keys: KeyPair, *, host: str = "127.0.0.1", prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.keys = keys
        self._prefix = prefix
        self._client = Client(
            CallbackAPIVersion.VERSION2, client_id=f"hub-control-{uuid.uuid4().hex[:8]}"
        )
        self._client.connect(host, port)
        self._client.loop_start()

    def publish_access_list(self, device_id: str, acl: AccessList) -> None:
        self.publish_raw(
            acl.site, device_id, Kind.ACL, sign_access_list(acl, self.keys), retain=True
        )

    def command(
        self, site: str, device_id: str, action: CommandAction, reason: str = ""
    ) -> Command:
        command = Command(
            command_id=uuid.uuid4(),
            action=action,
            reason=reason,
            issued_at=datetime.now(UTC),
            issued_by="demo",
        )
        self.publish_raw(site, device_id, Kind.COMMAND, encode(command))
        return command

    def publish_raw(
        self, site: str, device_id: str, kind: Kind, payload: bytes, *, retain: bool = False
    ) -> None:
        info = self._client.publish(
            topic(site, device_id, kind, self._prefix), payload, qos=1, retain=retain
        )
        info.wait_for_publish(10)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def __enter__(self) -> HubControl:
        return self

    def __exit__(
        self, exc: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
