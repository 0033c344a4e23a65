"""Commands from the hub to edge devices (lock, unlock, force stop), over MQTT at QoS 1.

`CommandSender` keeps one broker connection of its own and reconnects by itself. A command sent
while the broker is away waits in the client and goes out on reconnect; `confirmed` says when
the broker has PUBACKed it. Devices recognise a repeated `command_id`, and a LOCK sent to a
locked machine changes nothing, so sending again is always safe.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.codec import encode
from contracts.models import Command, CommandAction
from contracts.topics import Kind, topic
from edge.link import QuietDisconnect
from hub.devices.errors import BrokerError
from hub.mqtt import BrokerLogin, part_client

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())

# Commands whose fate is remembered (`confirmed`); the oldest are forgotten first.
REMEMBERED = 10_000


class CommandSender:
    """Publishes `Command`s to devices' `command` topics; not retained, so a device that comes
    back later does not replay an old command, QoS 1 so the broker keeps it for a device that
    is subscribed with a persistent session but offline."""

    def __init__(self, login: BrokerLogin, *, clock: Callable[[], datetime] | None = None) -> None:
        self._login = login
        self._clock = clock or (lambda: datetime.now(UTC))
        self._changed = threading.Condition()
        # command id -> PUBACKed yet; the client's message id -> command id, until PUBACKed.
        self._fates: OrderedDict[UUID, bool] = OrderedDict()
        self._by_mid: dict[int, UUID] = {}
        # PUBACKs that came before `send` had noted the message id (a fast broker).
        self._early: set[int] = set()
        self._listeners: list[Callable[[], None]] = []
        self._connected = threading.Event()
        self._connections = 0
        self._stopping = False
        self._client = self._build_client()

    def start(self) -> CommandSender:
        self._client.connect_async(self._login.host, self._login.port, 30)
        self._client.loop_start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> CommandSender:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ public

    def send(
        self,
        site: str,
        device_id: str,
        action: CommandAction,
        reason: str = "",
        issued_by: str | None = None,
    ) -> UUID:
        """Queue one command for the device and return its id; never blocks on the broker."""
        command = Command(
            command_id=uuid.uuid4(),
            action=action,
            reason=reason[:500],
            issued_at=self._clock(),
            issued_by=issued_by[:64] if issued_by else None,
        )
        where = topic(site, device_id, Kind.COMMAND, self._login.prefix)
        # Not under our lock: paho calls `_on_publish` holding its own, which would deadlock.
        info = self._client.publish(where, encode(command), qos=1, retain=False)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise BrokerError(f"command to {where} refused by the client: {info.rc}")
        with self._changed:
            self._by_mid[info.mid] = command.command_id
            self._fates[command.command_id] = info.mid in self._early
            self._early.discard(info.mid)
            while len(self._fates) > REMEMBERED:
                self._fates.popitem(last=False)
        log.info("%s sent to %s/%s: %s", action.value, site, device_id, reason)
        return command.command_id

    def confirmed(self, command_id: UUID) -> bool:
        """True once the broker has acknowledged the command (PUBACK)."""
        with self._changed:
            return self._fates.get(command_id, False)

    def wait(self, command_id: UUID, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the broker's PUBACK of the command."""
        with self._changed:
            return self._changed.wait_for(lambda: self._fates.get(command_id, False), timeout_s)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def connections(self) -> int:
        """How many times the sender has (re)connected: a change means "resend state"."""
        return self._connections

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def on_connect(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the client's thread, so quickly) after every (re)connect."""
        self._listeners.append(listener)

    # ------------------------------------------------------------ paho side

    def _build_client(self) -> Client:
        client = part_client(self._login, "cmd", paho_log)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _on_publish(
        self,
        _client: Client,
        _userdata: Any,
        mid: int,
        _reason: ReasonCode,
        _properties: Properties,
    ) -> None:
        with self._changed:
            command_id = self._by_mid.pop(mid, None)
            if command_id is None:
                self._early.add(mid)
            elif command_id in self._fates:
                self._fates[command_id] = True
            self._changed.notify_all()

    def _on_connect(
        self,
        _client: Client,
        _userdata: Any,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the command sender: %s", reason)
            return
        self._connections += 1
        self._connected.set()
        for listener in self._listeners:
            listener()

    def _on_disconnect(
        self,
        _client: Client,
        _userdata: Any,
        _flags: DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stopping:
            log.warning("command sender disconnected: %s", reason)
