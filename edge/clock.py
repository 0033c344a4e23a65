"""Wall time, monotonic time and whether the wall clock is synchronised.

A Pi has no real-time clock: until NTP syncs, its wall clock can be days off, so each event
says whether its timestamp can be trusted and timeouts run on the monotonic clock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

_TIME_ERROR = 5  # adjtimex(2): the kernel says the clock is not synchronised


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def synced(self) -> bool: ...


class SystemClock:
    """The kernel's view: adjtimex reports sync state for ntpd, chrony and timesyncd alike."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("c")
        self._libc = ctypes.CDLL(name, use_errno=True) if name else None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        if self._libc is None:
            return False
        # struct timex is about 208 bytes on 64-bit Linux; modes=0 (first field) only reads.
        buffer = ctypes.create_string_buffer(512)
        state = int(self._libc.adjtimex(buffer))
        return 0 <= state < _TIME_ERROR


class ManualClock:
    """A clock moved by hand, for the session machine's tests and the demo's fast days."""

    def __init__(self, start: datetime, *, synced: bool = True) -> None:
        self._wall = start
        self._mono = 1000.0
        self._synced = synced

    def now(self) -> datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def synced(self) -> bool:
        return self._synced

    def advance(self, seconds: float) -> None:
        self._wall += timedelta(seconds=seconds)
        self._mono += seconds


class ScaledClock:
    """Time running `speed` times faster from `start`: the demo's compressed working day.

    Both clocks scale, so timeouts and heartbeats keep their meaning in simulated time.
    """

    def __init__(
        self, start: datetime, speed: float, *, real: Callable[[], float] = time.monotonic
    ) -> None:
        self._start, self._speed, self._real = start, speed, real
        self._origin = real()

    def elapsed(self) -> float:
        return (self._real() - self._origin) * self._speed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed())

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed()

    def synced(self) -> bool:
        return True
