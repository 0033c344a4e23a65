"""Follows one Shelly Gen2 switch through an MQTT broker and reports its meter readings.

Notifications are deltas, so the link first asks the device for its switch's whole status
(`Switch.GetStatus` on `<prefix>/rpc`, answered on `<src>/rpc`) on every connection, each
time the device comes back online and every `refresh_s`, then overlays the `NotifyStatus`
frames of `<prefix>/events/rpc` on it. A reading goes to the sink whenever the overlaid
values change and after every snapshot, so a quiet, steady load still looks fresh.

Device errors (`overpower`, `overtemp`, `overvoltage`) are not meter readings: the link logs
them, keeps the current set in `device_errors` and counts each one that appears.

Paho's callbacks only queue what happened; all state lives on the thread running `run`, and
each connection attempt uses a fresh client, so `stop` is honoured within a tick.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware_bridge.model import MeterReading, Sink
from firmware_bridge.shelly import parse

log = logging.getLogger(__name__)
# paho logs "Client is not connected" at ERROR after every disconnect we asked for.
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(lambda record: not record.getMessage().startswith("Client is not connected"))

TICK_S = 0.05
CONNECT_TIMEOUT_S = 5.0


# What paho's callbacks hand over to the thread that owns the state.


@dataclass(frozen=True, slots=True)
class Connack:
    refused: str | None  # the broker's reason, or None when accepted


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes


ClientEvent = Connack | Disconnected | Message


def new_client(client_id: str, events: queue.Queue[ClientEvent]) -> Client:
    """A paho client that queues its connection events and messages."""
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv311,
        reconnect_on_failure=False,
    )
    client.suppress_exceptions = True  # a raising callback would kill paho's thread silently
    client.enable_logger(paho_log)
    client.connect_timeout = CONNECT_TIMEOUT_S

    def on_connect(
        _client: Client, _data: Any, _flags: ConnectFlags, reason: ReasonCode, _p: Properties | None
    ) -> None:
        events.put(Connack(str(reason) if reason.is_failure else None))

    def on_disconnect(
        _client: Client,
        _data: Any,
        _flags: DisconnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        events.put(Disconnected(str(reason)))

    def on_message(_client: Client, _data: Any, message: MQTTMessage) -> None:
        events.put(Message(message.topic, bytes(message.payload)))

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    return client


class ShellyLink:
    """The `Source` for switch `switch_id` of the device publishing under `device_prefix`."""

    name = "shelly"

    def __init__(  # noqa: PLR0917 - the bridge's meter config passes all six in order
        self,
        host: str,
        port: int,
        device_prefix: str,
        switch_id: int = 0,
        username: str | None = None,
        password: str | None = None,
        *,
        client_id: str | None = None,
        refresh_s: float = 30.0,
        request_timeout_s: float = 3.0,
        keepalive_s: int = 15,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._prefix = device_prefix
        self._switch_id = switch_id
        self._username = username
        self._password = password
        self._src = client_id or f"machinerie-bridge-{uuid.uuid4().hex[:12]}"
        self._refresh_s = refresh_s
        self._request_timeout_s = request_timeout_s
        self._keepalive_s = keepalive_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._key = parse.component_key(switch_id)
        self._online_topic = f"{device_prefix}/online"
        self._events_topic = f"{device_prefix}/events/rpc"
        self._reply_topic = f"{self._src}/rpc"
        self._status: parse.JsonObject | None = None
        self._device_online: bool | None = None
        self._pending: tuple[int, float] | None = None  # request id, sent at
        self._snapshot_at = 0.0
        self._next_id = 0
        self._last: MeterReading | None = None
        self._down: set[str] = set()  # "broker", "device": outages already reported
        self.device_errors: tuple[str, ...] = ()
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "connects",
                "requests",
                "snapshots",
                "notifications",
                "unknown",
                "rpc_errors",
                "device_errors",
                "offline",
            ),
            0,
        )

    @property
    def src(self) -> str:
        """The RPC source this link names in its requests; replies come on `<src>/rpc`."""
        return self._src

    def run(self, sink: Sink, stop: threading.Event) -> None:
        delay = self._backoff_s
        while not stop.is_set():
            if self._attempt(sink, stop):
                delay = self._backoff_s
            if stop.wait(delay):
                return
            delay = min(delay * 2, self._max_backoff_s)

    # ------------------------------------------------------------------ one connection

    def _attempt(self, sink: Sink, stop: threading.Event) -> bool:
        """Connect and follow until the connection ends; True when it was established."""
        events: queue.Queue[ClientEvent] = queue.Queue()
        client = new_client(self._src, events)
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        try:
            client.connect(self._host, self._port, self._keepalive_s)
        except OSError as exc:
            self._lost(sink, "broker", f"cannot reach broker {self._host}:{self._port}: {exc}")
            return False
        client.loop_start()
        try:
            return self._follow(client, events, sink, stop)
        finally:
            client.disconnect()
            client.loop_stop()

    def _follow(
        self, client: Client, events: queue.Queue[ClientEvent], sink: Sink, stop: threading.Event
    ) -> bool:
        connected = False
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not stop.is_set():
            try:
                event: ClientEvent | None = events.get(timeout=TICK_S)
            except queue.Empty:
                event = None
            if isinstance(event, Connack):
                if event.refused is not None:
                    self._lost(sink, "broker", f"broker refused the connection: {event.refused}")
                    return False
                connected = True
                self._connected(client)
            elif isinstance(event, Disconnected):
                self._lost(sink, "broker", f"broker connection lost: {event.reason}")
                return connected
            elif isinstance(event, Message):
                self._message(event, client, sink)
            if not connected and time.monotonic() > deadline:
                self._lost(sink, "broker", f"no answer from broker {self._host}:{self._port}")
                return False
            if connected:
                self._housekeeping(client)
        return connected

    def _connected(self, client: Client) -> None:
        self.counters["connects"] += 1
        log.info("connected to %s:%d for %s", self._host, self._port, self._prefix)
        client.subscribe([(self._online_topic, 1), (self._events_topic, 1), (self._reply_topic, 1)])
        self._status = None  # deltas were missed while away: wait for a fresh snapshot
        self._device_online = None
        self._request(client)

    def _housekeeping(self, client: Client) -> None:
        if self._device_online is False:
            return
        now = time.monotonic()
        if self._pending is not None:
            if now - self._pending[1] >= self._request_timeout_s:
                self._request(client)  # lost, or the device was busy: ask again
            return
        if self._status is None or now - self._snapshot_at >= self._refresh_s:
            self._request(client)

    def _request(self, client: Client) -> None:
        self._next_id += 1
        frame = {
            "id": self._next_id,
            "src": self._src,
            "method": "Switch.GetStatus",
            "params": {"id": self._switch_id},
        }
        client.publish(f"{self._prefix}/rpc", json.dumps(frame), qos=1)
        self._pending = (self._next_id, time.monotonic())
        self.counters["requests"] += 1

    # ------------------------------------------------------------------ messages

    def _message(self, message: Message, client: Client, sink: Sink) -> None:
        if message.topic == self._online_topic:
            self._online(parse.parse_online(message.payload), client, sink)
            return
        frame = parse.parse_frame(message.payload)
        if message.topic == self._reply_topic and isinstance(
            frame, parse.RpcResult | parse.RpcError
        ):
            self._reply(frame, sink)
        elif isinstance(frame, parse.StatusNotification):
            self._notified(frame, sink)
        elif isinstance(frame, parse.EventNotification):
            log.debug("%s events: %s", self._prefix, frame.events)
        else:
            self._unknown(sink, frame.text if isinstance(frame, parse.Unknown) else str(frame))

    def _online(self, state: parse.Online | parse.Unknown, client: Client, sink: Sink) -> None:
        if isinstance(state, parse.Unknown):
            self._unknown(sink, f"online: {state.text}")
            return
        was, self._device_online = self._device_online, state.online
        if not state.online:
            self._status = None
            self._pending = None
            self._lost(sink, "device", f"shelly {self._prefix} is offline")
        elif was is not True:
            # Requests sent while it was away went nowhere, and its counters may have reset.
            self._request(client)

    def _reply(self, reply: parse.RpcResult | parse.RpcError, sink: Sink) -> None:
        if self._pending is None or reply.id != self._pending[0]:
            return  # an answer to a request already given up on
        if isinstance(reply, parse.RpcError):
            self.counters["rpc_errors"] += 1
            self._unknown(sink, f"rpc error {reply.code}: {reply.message}")
            return
        snapshot = parse.switch_of(reply.result, self._switch_id)
        if snapshot is None:
            self._unknown(sink, f"status without {self._key}: {json.dumps(reply.result)[:200]}")
            return
        self._pending = None
        self._status = snapshot
        self._snapshot_at = time.monotonic()
        self.counters["snapshots"] += 1
        self._report(sink, always=True)

    def _notified(self, frame: parse.StatusNotification, sink: Sink) -> None:
        self.counters["notifications"] += 1
        delta = frame.components.get(self._key)
        if delta is None:
            return  # another component (sys, wifi, input...)
        if frame.full:
            self._status = dict(delta)
        elif self._status is None:
            return  # a delta needs a base: the snapshot asked for will bring it
        else:
            self._status = parse.overlay(self._status, delta)
        self._report(sink, always=False)

    # ------------------------------------------------------------------ reporting

    def _report(self, sink: Sink, *, always: bool) -> None:
        if self._status is None:
            return
        status = parse.switch_status(self._status)
        self._note_errors(status.errors)
        reading = status.reading()
        if reading is None or (not always and reading == self._last):
            return
        self._last = reading
        self._down.clear()
        sink.meter(reading)

    def _note_errors(self, errors: tuple[str, ...]) -> None:
        for error in sorted(set(errors) - set(self.device_errors)):
            self.counters["device_errors"] += 1
            log.warning("shelly %s %s: %s", self._prefix, self._key, error)
        if self.device_errors and not errors:
            log.info("shelly %s %s: errors cleared", self._prefix, self._key)
        self.device_errors = errors

    def _unknown(self, sink: Sink, what: str) -> None:
        self.counters["unknown"] += 1
        sink.unknown(f"shelly {self._prefix}: {what}")

    def _lost(self, sink: Sink, what: str, reason: str) -> None:
        """Report an outage of the broker or the device once, until a reading comes again."""
        if what in self._down:
            return
        self._down.add(what)
        self.counters["offline"] += 1
        log.warning("%s", reason)
        sink.offline(reason)
