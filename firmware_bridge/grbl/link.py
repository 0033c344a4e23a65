"""Follow a GRBL controller on a serial port: poll with `?`, report views, survive unplugging.

The link writes only the `?` real-time byte (at most 5 Hz) and, once per connection when the
machine is idle, `$I` to fingerprint it. Nothing else: `!`, `~`, `0x18` and the override bytes
act on the machine, and a reset (`0x18`) while moving even raises ALARM:3. Silence is not idle:
GRBL answers nothing while homing (gnea/grbl#113), so the last view simply ages.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import serial

from firmware_bridge.errors import LinkError
from firmware_bridge.framing import MAX_LINE, LineFramer
from firmware_bridge.grbl.machine import IDLE_END_S, GrblMachine
from firmware_bridge.grbl.parse import Status, Unknown, parse_line
from firmware_bridge.model import MachineState, Sink
from firmware_bridge.serialport import open_serial

POLL_S = 0.25
MIN_POLL_S = 0.2  # GRBL's documentation asks for no more than 5 reports a second
SILENT_S = 120.0  # longer than any homing cycle: the controller is gone, not busy
RETRY_S = 0.5
MAX_RETRY_S = 10.0
READ_TIMEOUT_S = 0.05
WRITE_TIMEOUT_S = 1.0
IDENTIFY = b"$I\n"


class GrblSession:
    """Bytes from one connection in; views and unusable lines out to a sink. No I/O."""

    def __init__(self, machine: GrblMachine, max_line: int = MAX_LINE) -> None:
        self.machine = machine
        self._framer = LineFramer(max_line)
        self._identified = False
        self.reports = 0

    def receive(self, data: bytes, now: float, sink: Sink) -> None:
        for text in self._framer.feed(data):
            self.line(text, now, sink)

    def line(self, text: str, now: float, sink: Sink) -> None:
        if not text.strip():
            return  # senders and GRBL both emit the odd blank line (`\r\r\n`)
        parsed = parse_line(text)
        if isinstance(parsed, Unknown):
            sink.unknown(text)
            return
        if isinstance(parsed, Status):
            self.reports += 1
        view = self.machine.feed(parsed, now)
        if view is not None:
            sink.controller(view)

    def should_identify(self) -> bool:
        """True once per connection, when the controller first reports Idle."""
        view = self.machine.view
        idle = view.state is MachineState.IDLE and view.job is None
        if self._identified or not idle or not self.reports:
            return False
        self._identified = True
        return True


class GrblLink:
    """A `Source` following one GRBL controller; `machine` keeps its state across reconnects."""

    name = "grbl"

    def __init__(
        self,
        path_or_url: str,
        baudrate: int = 115200,
        laser: bool = False,
        poll_s: float = POLL_S,
        *,
        idle_end_s: float = IDLE_END_S,
        silent_s: float = SILENT_S,
        retry_s: float = RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
        identify: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = path_or_url
        self.baudrate = baudrate
        self.poll_s = max(poll_s, MIN_POLL_S)
        self.silent_s = silent_s
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.identify = identify
        self._clock = clock
        self.machine = GrblMachine(laser, idle_end_s)
        self._offline_reported = False
        self.connections_tried = 0

    def run(self, sink: Sink, stop: threading.Event) -> None:
        delay = self.retry_s
        while not stop.is_set():
            try:
                heard = self._connect(sink, stop)
            except LinkError as exc:
                self._went_offline(sink, str(exc))
                heard = False
            delay = self.retry_s if heard else min(delay * 2, self.max_retry_s)
            if not stop.is_set():
                stop.wait(delay)

    def _connect(self, sink: Sink, stop: threading.Event) -> bool:
        """Follow one connection until `stop` or a port error; whether anything was heard."""
        self.connections_tried += 1
        port = open_serial(self.url, self.baudrate, timeout=READ_TIMEOUT_S)
        port.write_timeout = WRITE_TIMEOUT_S  # a wedged adapter must not hold `stop` hostage
        follower = _Follower(self, port, sink)
        try:
            while not stop.is_set():
                follower.step()
        except (OSError, serial.SerialException) as exc:
            raise LinkError(f"{self.url}: {exc}") from exc
        finally:
            _close(port)
        return follower.heard

    def _went_offline(self, sink: Sink, reason: str) -> None:
        if not self._offline_reported:
            self._offline_reported = True
            sink.offline(reason)

    def _came_back(self) -> None:
        self._offline_reported = False


class _Follower:
    """One open port: poll, read, hand bytes to the session, notice silence."""

    def __init__(self, link: GrblLink, port: serial.SerialBase, sink: Sink) -> None:
        self.link = link
        self.port = port
        self.sink = sink
        self.session = GrblSession(link.machine)
        self.heard = False
        self._next_poll = 0.0
        self._last_heard = link._clock()
        self._silent = False

    def step(self) -> None:
        now = self.link._clock()
        if now >= self._next_poll:
            self.port.write(b"?")
            self._next_poll = now + self.link.poll_s
        data = self.port.read(_waiting(self.port))
        now = self.link._clock()
        if data:
            self._heard(now)
            self.session.receive(data, now, self.sink)
        elif now - self._last_heard > self.link.silent_s and not self._silent:
            self._silent = True
            self.link._went_offline(self.sink, f"{self.link.url}: no answer to '?' for a while")
        if self.link.identify and self.session.should_identify():
            self.port.write(IDENTIFY)

    def _heard(self, now: float) -> None:
        if not self.heard or self._silent:
            self.link._came_back()
        self._last_heard = now
        self._silent = False
        self.heard = True


def _waiting(port: serial.SerialBase) -> int:
    """Bytes ready to read, at least 1 so that `read` waits for its timeout when none are."""
    waiting = getattr(port, "in_waiting", 0)  # every real port has it; the base class does not
    return max(1, int(waiting))


def _close(port: serial.SerialBase) -> None:
    with contextlib.suppress(OSError, serial.SerialException):  # the device may be gone
        port.close()
