"""Serve a simulated controller on a pseudo-terminal, as a USB serial port would appear.

The bridge opens the pty's name with pyserial exactly as it opens `/dev/ttyACM0`, so the
simulators exercise the real port code (termios, timeouts, partial reads).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from typing import Protocol

TICK_S = 0.01


class SerialDevice(Protocol):
    """A simulated controller as seen from its wire."""

    def receive(self, data: bytes) -> None:
        """Bytes the host wrote."""

    def tick(self, now: float) -> None:
        """Advance the machine to `now` (seconds on the simulator's clock)."""

    def take_output(self) -> bytes:
        """Bytes the controller has sent since the last call."""


class PtyServer:
    """Pumps bytes between a pty and a `SerialDevice` on its own thread."""

    def __init__(
        self,
        device: SerialDevice,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
    ) -> None:
        self.device = device
        self._clock = clock
        self._tick_s = tick_s
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: bytes as a USB port gives them
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="pty-sim", daemon=True)
        self.lock = threading.Lock()  # held while the device runs: tests change it under it

    def start(self) -> PtyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _pump(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._master], [], [], self._tick_s)
            data = self._read() if readable else b""
            with self.lock:
                if data:
                    self.device.receive(data)
                self.device.tick(self._clock())
                out = self.device.take_output()
            if out:
                self._write(out)

    def _read(self) -> bytes:
        try:
            return os.read(self._master, 4096)
        except OSError:  # the host closed its side: keep serving, it may reopen
            return b""

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                written = os.write(self._master, view)
            except OSError:  # full (nobody reads) or closed:
                return  # a real controller's bytes are lost the same way
            view = view[written:]
