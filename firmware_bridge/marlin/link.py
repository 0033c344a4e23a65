"""Follow a Marlin or Prusa printer on its serial port (`MarlinLink`, a `Source`).

On connect the link says hello (`M110 N0`, twice: the first line after opening a port is
often eaten by boot garbage), asks `M115` for the firmware's capabilities, and turns on the
temperature and SD-status autoreports (`M155 S<n>`, `M27 S<n>`) when the firmware has them;
otherwise it polls `M105` and `M27` every `poll_s`. Every command is numbered and
checksummed, and at most `window` of them wait for their `ok`: the firmware's own receive
buffer is small, and the bridge is a monitor that never needs more.

The port may be shared with nothing else (see `firmware_bridge.serialport`): this link is the
printer's only host, and it never starts, pauses or stops a job.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

import serial

from firmware_bridge.errors import LinkError
from firmware_bridge.framing import LineFramer
from firmware_bridge.marlin.machine import MarlinMachine
from firmware_bridge.marlin.parse import (
    Busy,
    Capability,
    Empty,
    Error,
    ErrorKind,
    FileOpened,
    FileSelected,
    Firmware,
    Message,
    Ok,
    Resend,
    Reset,
    Unknown,
    Wait,
    frame,
    parse,
)
from firmware_bridge.model import ControllerView, Sink
from firmware_bridge.serialport import open_serial

log = logging.getLogger(__name__)

HELLO = "M110 N0"
READ_TIMEOUT_S = 0.1
IDENTIFY_S = 3.0  # no complete M115 answer by then: poll, as for a firmware without autoreport
PROBE_S = 3.0  # after `File opened`, ask M27 often for this long: the job starts any moment
PROBE_EVERY_S = 0.25
TIMEOUTS_TO_HELLO = 3  # consecutive ok-timeouts before numbering is reset with M110
HISTORY = 32  # sent lines kept for resend requests


@dataclass
class LinkStats:
    """Counters for logs and tests; every field only grows."""

    connections: int = 0
    lines: int = 0
    unknown: int = 0
    resends: int = 0
    resend_loops: int = 0
    ok_timeouts: int = 0
    hellos: int = 0
    overlong: int = 0  # lines longer than the framer keeps, dropped


class CommandFlow:
    """Line numbers, the send window and resends, without I/O: time is an argument.

    Marlin answers a bad line with `Error:…`, `Resend: n` and an `ok` that acknowledges the
    bad line, not a good one (MarlinFirmware/Marlin#129). A line the firmware keeps asking
    for is a resend loop (OctoPrint/OctoPrint#1468): after `max_resends` requests in a row
    the flow gives up on it and the caller resets numbering instead.
    """

    def __init__(self, *, window: int = 1, ok_timeout_s: float = 5.0, max_resends: int = 4) -> None:
        self._window = max(1, window)
        self._ok_timeout_s = ok_timeout_s
        self._max_resends = max_resends
        self._next = 1
        self._history: dict[int, str] = {}
        self._queue: deque[str] = deque()
        self._resend: deque[int] = deque()
        self._inflight = 0
        self._since = -math.inf  # last send, ok or busy line: the ok-timeout runs from here
        self._resend_ok = False
        self._streak = (-1, 0)  # (line, resend requests for it in a row)
        self.timeouts_in_row = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    def hello(self, now: float) -> list[bytes]:
        """Reset numbering to 0: `N0 M110 N0`, twice, and wait for an `ok`."""
        self._next = 1
        self._history = {0: HELLO}
        self._resend.clear()
        self._resend_ok = False
        self._streak = (-1, 0)
        self._inflight = 1
        self._since = now
        return [frame(0, HELLO), frame(0, HELLO)]

    def queue(self, command: str) -> None:
        """Send `command` when the window allows; the same command is never queued twice."""
        if command not in self._queue:
            self._queue.append(command)

    def ready(self, now: float) -> list[bytes]:
        """The lines to write now."""
        out: list[bytes] = []
        while self._inflight < self._window:
            line = self._next_line()
            if line is None:
                break
            out.append(line)
            self._inflight += 1
            self._since = now
        return out

    def _next_line(self) -> bytes | None:
        while self._resend:
            n = self._resend.popleft()
            if n in self._history:
                return frame(n, self._history[n])
        if not self._queue:
            return None
        command = self._queue.popleft()
        n = self._next
        self._next += 1
        self._history[n] = command
        self._history.pop(n - HISTORY, None)
        return frame(n, command)

    def on_ok(self, now: float) -> None:
        self._inflight = max(0, self._inflight - 1)
        self._since = now
        self.timeouts_in_row = 0
        if self._resend_ok:
            self._resend_ok = False  # the `ok` for the line that failed
        elif not self._resend:
            self._streak = (-1, 0)  # a line went through: no loop

    def on_busy(self, now: float) -> None:
        """The firmware is alive and working on a long command: its `ok` will come."""
        self._since = now

    def on_resend(self, n: int, now: float) -> bool:
        """Schedule line `n` and the later ones again; False if the flow gives up on `n`."""
        self._since = now
        self._resend_ok = True
        line, count = self._streak
        count = count + 1 if line == n else 1
        self._streak = (n, count)
        if count > self._max_resends or n not in self._history:
            return False
        if self._resend and self._resend[0] <= n:
            return True  # a later line's copy of the request already being served
        self._resend = deque(k for k in sorted(self._history) if n <= k < self._next)
        return True

    def timed_out(self, now: float) -> bool:
        return self._inflight > 0 and now - self._since > self._ok_timeout_s

    def on_timeout(self, now: float) -> None:
        """Take the missing `ok` as lost (a glued or garbled one) and carry on."""
        self._inflight = 0
        self._resend_ok = False
        self._since = now
        self.timeouts_in_row += 1


class _Phase(Enum):
    IDENTIFY = "identify"  # M115 sent, capabilities arriving
    READY = "ready"


class MarlinLink:
    """A `Source` following one Marlin/Prusa printer over a serial port or pyserial URL."""

    name = "marlin"

    def __init__(
        self,
        path_or_url: str,
        baudrate: int = 115200,
        poll_s: float = 2.0,
        *,
        autoreport_s: int = 2,
        ok_timeout_s: float = 5.0,
        silence_s: float = 10.0,
        window: int = 1,
        max_resends: int = 4,
        backoff_s: tuple[float, float] = (0.5, 10.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = path_or_url
        self.baudrate = baudrate
        self.poll_s = poll_s
        self.autoreport_s = max(1, autoreport_s)
        self.ok_timeout_s = ok_timeout_s
        # A healthy printer talks at least every report period: silence shorter than that
        # would be normal quiet, not a lost controller.
        self.silence_s = max(silence_s, 1.5 * max(poll_s, self.autoreport_s))
        self.window = window
        self.max_resends = max_resends
        self.backoff_s = backoff_s
        self.clock = clock
        self.stats = LinkStats()
        # Kept across reconnections: a printer whose port comes back mid-print is still on
        # the same job.
        self.machine = MarlinMachine()

    def run(self, sink: Sink, stop: threading.Event) -> None:
        delay, longest = self.backoff_s
        told = False
        while not stop.is_set():
            reason, heard = self._attempt(sink, stop)
            if stop.is_set():
                return
            self.machine.link_lost()
            if heard:
                delay, told = self.backoff_s[0], False
            if not told:  # once per outage, not once per retry
                sink.offline(reason)
                told = True
            stop.wait(delay)
            delay = min(delay * 2, longest)

    def _attempt(self, sink: Sink, stop: threading.Event) -> tuple[str, bool]:
        try:
            port = open_serial(self.url, self.baudrate, timeout=READ_TIMEOUT_S)
        except LinkError as exc:
            return str(exc), False
        self.stats.connections += 1
        connection = _Connection(self, port, sink)
        try:
            connection.run(stop)
        except LinkError as exc:
            log.warning("marlin link %s lost: %s", self.url, exc)
            return str(exc), connection.heard
        finally:
            _close(port)
        return "stopped", connection.heard


def _close(port: serial.SerialBase) -> None:
    try:
        port.close()
    except (serial.SerialException, OSError) as exc:
        log.debug("closing %s: %s", port.name, exc)


class _Connection:
    """One open port: handshake, polling, flow control and reporting until it fails."""

    def __init__(self, link: MarlinLink, port: serial.SerialBase, sink: Sink) -> None:
        self._link = link
        self._port = port
        self._sink = sink
        self._machine = link.machine
        self._stats = link.stats
        self._flow = CommandFlow(
            window=link.window, ok_timeout_s=link.ok_timeout_s, max_resends=link.max_resends
        )
        self._framer = LineFramer()
        self._phase = _Phase.IDENTIFY
        self._identify_until = 0.0
        self._firmware: Firmware | None = None
        self._caps: dict[str, bool] = {}
        self._autoreport_temp = False
        self._autoreport_sd = False
        self._next_poll = 0.0
        self._probe_until = -math.inf
        self._next_probe = 0.0
        self._started = 0.0
        self._last_rx: float | None = None
        self._silent_told = False
        self._last_view: ControllerView | None = None
        self._last_report = -math.inf

    @property
    def heard(self) -> bool:
        return self._last_rx is not None

    def run(self, stop: threading.Event) -> None:
        now = self._link.clock()
        self._started = now
        self._handshake(now)
        while not stop.is_set():
            data = self._read()
            now = self._link.clock()
            if data:
                self._received(data, now)
            self._timers(now)
            self._write(self._flow.ready(now))
            self._report(now)

    # -- port -------------------------------------------------------------------------

    def _read(self) -> bytes:
        try:
            # Every real port has `in_waiting`; pyserial's base class does not declare it.
            waiting = int(getattr(self._port, "in_waiting", 0))
            return bytes(self._port.read(min(max(waiting, 1), 4096)))
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{self._link.url}: {exc}") from exc

    def _write(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            try:
                self._port.write(line)
            except (serial.SerialException, OSError) as exc:
                raise LinkError(f"{self._link.url}: {exc}") from exc

    # -- handshake --------------------------------------------------------------------

    def _handshake(self, now: float) -> None:
        """Hello, then M115: at connect, and again whenever the controller restarted."""
        self._stats.hellos += 1
        self._write(self._flow.hello(now))
        self._flow.queue("M115")
        self._phase = _Phase.IDENTIFY
        self._identify_until = now + IDENTIFY_S
        self._firmware = None
        self._caps = {}

    def _identified(self, now: float) -> None:
        self._phase = _Phase.READY
        self._autoreport_temp = self._caps.get("AUTOREPORT_TEMP", False)
        self._autoreport_sd = self._caps.get("AUTOREPORT_SD_STATUS", False)
        if self._autoreport_temp:
            self._flow.queue(f"M155 S{self._link.autoreport_s}")
        if self._autoreport_sd:
            self._flow.queue(f"M27 S{self._link.autoreport_s}")
        self._next_poll = now
        name = self._firmware.name if self._firmware is not None else "unknown firmware"
        log.info(
            "marlin link %s: %s, autoreport temperature %s, SD %s",
            self._link.url,
            name,
            self._autoreport_temp,
            self._autoreport_sd,
        )

    # -- incoming ---------------------------------------------------------------------

    def _received(self, data: bytes, now: float) -> None:
        for line in self._framer.feed(data):
            self._stats.lines += 1
            messages = parse(line)
            if any(not isinstance(message, Unknown | Empty) for message in messages):
                self._heard(now)
            for message in messages:
                self._handle(message, now)
                self._machine.feed(message)
            self._report(now)
        self._stats.overlong = self._framer.overlong

    def _heard(self, now: float) -> None:
        """A line the bridge understood: noise alone (a wrong baud rate) keeps it silent."""
        self._last_rx = now
        if self._silent_told:
            log.info("marlin link %s: the controller answers again", self._link.url)
            self._silent_told = False

    def _handle(self, message: Message, now: float) -> None:
        if isinstance(message, Ok | Wait):
            self._flow.on_ok(now)
            if self._phase is _Phase.IDENTIFY and self._firmware is not None:
                self._identified(now)  # the `ok` closing M115's capability report
        elif isinstance(message, Busy):
            self._flow.on_busy(now)
        elif isinstance(message, Resend):
            self._on_resend(message, now)
        elif isinstance(message, Reset):
            log.info("marlin link %s: controller restarted (%s)", self._link.url, message.text)
            self._handshake(now)
        else:
            self._note(message, now)

    def _note(self, message: Message, now: float) -> None:
        if isinstance(message, Firmware):
            self._firmware = message
        elif isinstance(message, Capability):
            self._caps[message.name] = message.enabled
        elif isinstance(message, FileOpened | FileSelected):
            self._probe_until = now + PROBE_S
        elif isinstance(message, Error):
            _log_error(self._link.url, message)
        elif isinstance(message, Unknown):
            self._stats.unknown += 1
            self._sink.unknown(message.text)

    def _on_resend(self, message: Resend, now: float) -> None:
        self._stats.resends += 1
        if not self._flow.on_resend(message.line, now):
            self._stats.resend_loops += 1
            log.warning(
                "marlin link %s: giving up on line %d, starting over", self._link.url, message.line
            )
            self._handshake(now)

    # -- clocks -----------------------------------------------------------------------

    def _timers(self, now: float) -> None:
        if self._phase is _Phase.IDENTIFY and now >= self._identify_until:
            self._identified(now)  # no (complete) M115 answer: poll everything
        if self._flow.timed_out(now):
            self._stats.ok_timeouts += 1
            self._flow.on_timeout(now)
            if self._flow.timeouts_in_row >= TIMEOUTS_TO_HELLO:
                self._handshake(now)
        self._poll(now)
        self._probe(now)
        self._silence(now)

    def _poll(self, now: float) -> None:
        if self._phase is not _Phase.READY or now < self._next_poll:
            return
        self._next_poll = now + self._link.poll_s
        if not self._autoreport_temp:
            self._flow.queue("M105")
        # During a job M27 is asked even with the autoreport on: some firmwares report only
        # while a file is open, and a job must not outlive its file unseen.
        if not self._autoreport_sd or self._machine.job_running:
            self._flow.queue("M27")

    def _probe(self, now: float) -> None:
        """A file was just opened: ask where the print is until it has visibly started."""
        if self._machine.job_running or now >= self._probe_until or now < self._next_probe:
            return
        self._next_probe = now + PROBE_EVERY_S
        self._flow.queue("M27")

    def _silence(self, now: float) -> None:
        since = self._last_rx if self._last_rx is not None else self._started
        if now - since <= self._link.silence_s or self._silent_told:
            return
        self._silent_told = True
        self._machine.link_lost()
        self._sink.offline(f"{self._link.url}: no answer for {self._link.silence_s:g} s")
        self._handshake(now)

    # -- outgoing views ---------------------------------------------------------------

    def _report(self, now: float) -> None:
        """A view when it changes, and every `poll_s` while the printer talks (fresh)."""
        if self._last_rx is None or now - self._last_rx > self._link.silence_s:
            return
        view = self._machine.view()
        if view == self._last_view and now - self._last_report < self._link.poll_s:
            return
        self._sink.controller(view)
        self._last_view = view
        self._last_report = now


def _log_error(url: str, error: Error) -> None:
    if error.kind in (ErrorKind.FATAL, ErrorKind.OTHER) or error.alarm is not None:
        log.warning("marlin link %s: firmware error: %s", url, error.message)
    else:
        log.debug("marlin link %s: %s error: %s", url, error.kind, error.message)
