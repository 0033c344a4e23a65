"""Follow a Klipper printer through Moonraker's JSON-RPC websocket.

On each connection: `server.info` (is Klippy there?), `server.history.list` (the id of a
print already running), then `printer.objects.subscribe` for the objects a view needs, and
once each subscription is granted `printer.info` (Klipper's version, which a restart may have
changed). After that Moonraker pushes deltas and notifications. A Klipper restart drops every
subscription server-side (seho85/klipper-dgus#7), so the link subscribes again on
`notify_klippy_ready`, and while it has no subscription it asks `server.info` every report
period in case the notification was missed. A dropped websocket is reported to the sink and
retried with a bounded backoff; the machine (and so the job being followed) survives reconnections.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from firmware_bridge.errors import ConfigError, LinkError
from firmware_bridge.model import ControllerView, Sink
from firmware_bridge.moonraker.machine import OBJECTS, MoonrakerMachine
from firmware_bridge.moonraker.parse import (
    MAX_FRAME,
    KlippyEvent,
    Message,
    RpcError,
    ServerInfo,
    StatusSnapshot,
    Unknown,
    parse_frame,
)

RECV_S = 0.2  # longest wait for a frame: how quickly `stop` is noticed


class MoonrakerLink:
    """A `Source` following one Moonraker instance at `base_url` (e.g. http://host:7125)."""

    name = "moonraker"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        report_s: float = 2.0,
        timeout_s: float = 5.0,
        ping_s: float = 5.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.ws_url = websocket_url(base_url)
        self._headers = {"X-Api-Key": api_key} if api_key else {}
        self._report_s = report_s
        self._timeout_s = timeout_s
        self._ping_s = ping_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s

    def run(self, sink: Sink, stop: threading.Event) -> None:
        machine = MoonrakerMachine()
        delay = self._backoff_s
        reported: str | None = None  # the loss already told to the sink
        while not stop.is_set():
            try:
                ws = self._connect()
            except LinkError as exc:
                reported = _offline(sink, str(exc), reported)
                stop.wait(delay)
                delay = min(delay * 2, self._max_backoff_s)
                continue
            delay, reported = self._backoff_s, None
            try:
                with ws:
                    _Session(ws, machine, sink, self._report_s).follow(stop)
            except LinkError as exc:
                reported = _offline(sink, str(exc), reported)
                stop.wait(delay)

    def _connect(self) -> ClientConnection:
        try:
            return connect(
                self.ws_url,
                additional_headers=self._headers,
                open_timeout=self._timeout_s,
                ping_interval=self._ping_s,
                ping_timeout=self._ping_s,
                close_timeout=1,
                max_size=MAX_FRAME * 2,
                proxy=None,  # the printer is on the workshop's network, never behind a proxy
            )
        except InvalidStatus as exc:
            code = exc.response.status_code
            hint = " (API key refused)" if code in (401, 403) else ""
            raise LinkError(f"moonraker refused the websocket: HTTP {code}{hint}") from exc
        except (OSError, InvalidHandshake) as exc:
            raise LinkError(f"moonraker unreachable at {self.ws_url}: {exc}") from exc


def websocket_url(base_url: str) -> str:
    """`http://host:7125` (or ws://…) → `ws://host:7125/websocket`."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ConfigError(f"not a Moonraker URL: {base_url!r}")
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    path = parts.path.rstrip("/")
    if not path.endswith("/websocket"):
        path += "/websocket"
    return f"{scheme}://{parts.netloc}{path}"


def _offline(sink: Sink, reason: str, reported: str | None) -> str:
    # Retries fail with the same reason for as long as the printer is away: say it once.
    if reason != reported:
        sink.offline(reason)
    return reason


class _Session:
    """One websocket connection's worth of following."""

    def __init__(
        self,
        ws: ClientConnection,
        machine: MoonrakerMachine,
        sink: Sink,
        report_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ws = ws
        self._machine = machine
        self._sink = sink
        self._report_s = report_s
        self._clock = clock
        self._ids = itertools.count(1)
        self._subscribe_id: int | None = None  # a subscription asked and not yet answered
        self._subscribed = False
        self._last_view: ControllerView | None = None
        self._last_report = clock()
        self._next_info = clock() + report_s

    def follow(self, stop: threading.Event) -> None:
        self._request("server.info")
        self._request("server.history.list", {"limit": 1, "order": "desc"})
        self._subscribe()
        while not stop.is_set():
            wait = self._last_report + self._report_s - self._clock()
            self._receive(min(RECV_S, max(0.0, wait)))
            self._tick()

    def _receive(self, timeout: float) -> None:
        try:
            frame = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return
        except ConnectionClosed as exc:
            raise LinkError(f"moonraker closed the websocket: {exc}") from exc
        message = parse_frame(frame)
        if isinstance(message, Unknown):
            self._sink.unknown(message.text)
            return
        self._handle(message)

    def _handle(self, message: Message) -> None:
        if isinstance(message, StatusSnapshot):
            if not self._subscribed:
                self._request("printer.info")  # Klippy is ready: it can name its version
            self._subscribed, self._subscribe_id = True, None
        elif isinstance(message, RpcError) and message.request_id == self._subscribe_id:
            self._subscribe_id = None  # Klippy not ready: server.info polling will retry
        view = self._machine.feed(message)
        if isinstance(message, KlippyEvent) and message.state in ("disconnected", "ready"):
            self._subscribed = False
            if message.state == "ready":
                self._subscribe()  # the restart dropped the old subscription
        elif isinstance(message, ServerInfo) and self._may_subscribe(message.klippy_state):
            self._subscribe()
        self._report(view, force=False)

    def _may_subscribe(self, klippy_state: str) -> bool:
        # Klipper serves its objects when ready and also when shut down (to say why).
        available = klippy_state in ("ready", "shutdown")
        return available and not self._subscribed and self._subscribe_id is None

    def _tick(self) -> None:
        now = self._clock()
        if not self._subscribed and now >= self._next_info:
            self._next_info = now + self._report_s
            self._request("server.info")
        if now - self._last_report >= self._report_s:
            self._report(self._machine.view(), force=True)

    def _report(self, view: ControllerView, *, force: bool) -> None:
        if force or view != self._last_view:
            self._sink.controller(view)
            self._last_view = view
            self._last_report = self._clock()

    def _subscribe(self) -> None:
        objects: dict[str, object] = dict.fromkeys(OBJECTS)
        self._subscribe_id = self._request("printer.objects.subscribe", {"objects": objects})

    def _request(self, method: str, params: dict[str, object] | None = None) -> int:
        request_id = next(self._ids)
        doc: dict[str, object] = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params is not None:
            doc["params"] = params
        try:
            self._ws.send(json.dumps(doc))
        except ConnectionClosed as exc:
            raise LinkError(f"moonraker closed the websocket: {exc}") from exc
        return request_id
