"""Polls one PZEM-004T v3 over its serial port and reports each reading to a `Sink`.

Each poll flushes the input first: a reply that came late, or a stray byte, would otherwise
shift every later reply by a byte (arendst/Tasmota#6585). The reply is read to its expected
length against a deadline, then checked for length, CRC, address and function; a bad one is
reported to `sink.unknown` and counted, and several in a row mean the module is offline.
"""

from __future__ import annotations

import contextlib
import logging
import termios
import threading
import time
from typing import Protocol, cast

import serial

from firmware_bridge.errors import LinkError
from firmware_bridge.model import Sink
from firmware_bridge.pzem import frames
from firmware_bridge.serialport import open_serial

log = logging.getLogger(__name__)

BAUDRATE = 9600
READ_SLICE_S = 0.02  # one blocking read; the reply deadline is checked between slices


class _Port(Protocol):
    """What a poll needs of a port; `SerialBase`'s stubs lack `reset_input_buffer`."""

    def read(self, size: int = 1, /) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def reset_input_buffer(self) -> None: ...


class PzemLink:
    """The `Source` for one module at `address` (0xF8 when it is alone on the bus)."""

    name = "pzem"

    def __init__(
        self,
        path_or_url: str,
        address: int = 1,
        poll_s: float = 1.0,
        timeout: float = 0.5,
        *,
        max_failures: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._url = path_or_url
        self._address = address
        self._poll_s = poll_s
        self._timeout = timeout
        self._max_failures = max_failures
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._online: bool | None = None
        self._reset_wanted = threading.Event()
        self.alarm = False  # the module's over-power alarm register, as last read
        self.counters: dict[str, int] = dict.fromkeys(
            ("opens", "polls", "readings", "bad_frames", "offline", "resets"), 0
        )

    def request_energy_reset(self) -> None:
        """Reset the module's energy counter at the next poll (thread-safe)."""
        self._reset_wanted.set()

    def run(self, sink: Sink, stop: threading.Event) -> None:
        delay = self._backoff_s
        while not stop.is_set():
            if self._session(sink, stop):
                delay = self._backoff_s
            if stop.wait(delay):
                return
            delay = min(delay * 2, self._max_backoff_s)

    # ------------------------------------------------------------------ one open port

    def _session(self, sink: Sink, stop: threading.Event) -> bool:
        """Poll until `stop` or a port error; True when at least one reading came."""
        try:
            port = open_serial(self._url, BAUDRATE, timeout=READ_SLICE_S)
        except LinkError as exc:
            self._went_offline(sink, str(exc))
            return False
        self.counters["opens"] += 1
        before = self.counters["readings"]
        try:
            self._poll_until(cast(_Port, port), sink, stop)
        except (serial.SerialException, OSError, termios.error) as exc:
            # termios.error is no OSError: a pty or USB adapter gone fails the input flush so.
            self._went_offline(sink, f"port {self._url} lost: {exc}")
        finally:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
        return self.counters["readings"] > before

    def _poll_until(self, port: _Port, sink: Sink, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            started = time.monotonic()
            if self._reset_wanted.is_set():
                self._reset(port, sink)
            reply = self._exchange(port, frames.read_request(self._address), frames.READ_REPLY_LEN)
            failures = self._handle(reply, sink, failures)
            stop.wait(max(0.0, self._poll_s - (time.monotonic() - started)))

    def _handle(self, reply: bytes, sink: Sink, failures: int) -> int:
        """Report one reply; the count of consecutive failures after it."""
        self.counters["polls"] += 1
        decoded = frames.decode_reply(reply, address=self._address)
        if isinstance(decoded, frames.Measurement):
            self._online = True
            self._note_alarm(decoded.alarm)
            self.counters["readings"] += 1
            sink.meter(decoded.reading())
            return 0
        self._bad(sink, _reason(decoded))
        failures += 1
        if failures >= self._max_failures:
            self._went_offline(
                sink, f"no valid reply from PZEM {self._address:#04x} in {failures} polls"
            )
        return failures

    def _reset(self, port: _Port, sink: Sink) -> None:
        request = frames.reset_energy_request(self._address)
        reply = self._exchange(port, request, frames.RESET_REPLY_LEN)
        decoded = frames.decode_reply(reply, address=self._address, function=frames.RESET_ENERGY)
        if isinstance(decoded, frames.EnergyReset):
            self._reset_wanted.clear()
            self.counters["resets"] += 1
            log.info("PZEM %#04x energy counter reset", self._address)
            return
        self._bad(sink, f"energy reset: {_reason(decoded)}")  # retried at the next poll

    # ------------------------------------------------------------------ bytes

    def _exchange(self, port: _Port, request: bytes, expected: int) -> bytes:
        port.reset_input_buffer()
        port.write(request)
        deadline = time.monotonic() + self._timeout
        head = _read(port, min(expected, frames.EXCEPTION_LEN), deadline)
        if len(head) >= 2 and head[1] & frames.EXCEPTION_FLAG:
            return head + _read(port, frames.EXCEPTION_LEN - len(head), deadline)
        return head + _read(port, expected - len(head), deadline)

    # ------------------------------------------------------------------ reporting

    def _bad(self, sink: Sink, reason: str) -> None:
        self.counters["bad_frames"] += 1
        log.debug("PZEM %#04x: %s", self._address, reason)
        sink.unknown(f"pzem {self._address:#04x}: {reason}")

    def _went_offline(self, sink: Sink, reason: str) -> None:
        if self._online is False:
            return  # one report per outage
        self._online = False
        self.counters["offline"] += 1
        log.warning("PZEM offline: %s", reason)
        sink.offline(reason)

    def _note_alarm(self, alarm: bool) -> None:
        if alarm and not self.alarm:
            log.warning("PZEM %#04x: over-power alarm", self._address)
        self.alarm = alarm


def _read(port: _Port, count: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < count and time.monotonic() < deadline:
        data += port.read(count - len(data))
    return bytes(data)


def _reason(decoded: frames.Reply) -> str:
    if isinstance(decoded, frames.BadFrame | frames.ModbusException):
        return decoded.reason
    return f"unexpected reply {type(decoded).__name__}"
