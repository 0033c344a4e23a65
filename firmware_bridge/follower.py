"""Runs a machine's adapters on their threads and folds what they say into one tracker.

The listener gets every tracker output (job start and end, interlock changes, alarms) on the
thread that caused it; it must only hand them over (the edge posts them to its main loop).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from firmware_bridge.model import ControllerView, MachineState, MeterReading, Source
from firmware_bridge.tracker import Instant, Interlock, Output, Tracker

log = logging.getLogger(__name__)

TICK_S = 1.0
JOIN_S = 5.0


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class WallClock:
    """The system's clocks, for a bridge running on its own."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


Listener = Callable[[list[Output]], None]


@dataclass(frozen=True)
class Snapshot:
    state: MachineState
    interlock: Interlock
    busy_s: float
    energy_wh: float | None
    metrics: dict[str, float]
    firmware: str = ""  # as the controller names itself; "" until it has


class Follower:
    def __init__(
        self,
        tracker: Tracker,
        clock: Clock,
        listener: Listener,
        *,
        controller: Source | None = None,
        meter: Source | None = None,
        closers: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.tracker = tracker
        self.counters: Counter[str] = Counter()
        self._sources = [(s, False) for s in [controller] if s is not None]
        self._sources += [(s, True) for s in [meter] if s is not None]
        self._clock = clock
        self._listener = listener
        self._closers = list(closers)  # simulators started for this follower
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Follower:
        for source, is_meter in self._sources:
            sink = _SourceSink(self, source.name, is_meter)
            thread = threading.Thread(
                target=self._follow, args=(source, sink), name=f"bridge-{source.name}", daemon=True
            )
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._tick, name="bridge-tick", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(JOIN_S)
        for close in self._closers:
            close()

    # ------------------------------------------------------------ for the edge

    def power(self, on: bool) -> None:
        self._apply(lambda now: self.tracker.on_power(on, now))

    def snapshot(self) -> Snapshot:
        with self._lock:
            mono = self._clock.monotonic()
            tracker = self.tracker
            return Snapshot(
                state=tracker.state(mono),
                interlock=tracker.interlock,
                busy_s=tracker.totals.busy_s,
                energy_wh=tracker.totals.energy_wh if tracker.has_meter else None,
                metrics=tracker.metrics(),
                firmware=tracker.firmware,
            )

    # ------------------------------------------------------------ from the adapters

    def _follow(self, source: Source, sink: _SourceSink) -> None:
        while not self._stop.is_set():
            try:
                source.run(sink, self._stop)
            except Exception:  # an adapter bug must not take the machine's bridge down
                self.counters[f"{source.name}_crashes"] += 1
                log.exception("%s adapter failed; restarting it", source.name)
                sink.offline("adapter failed")
                self._stop.wait(TICK_S)

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            self._apply(self.tracker.tick)

    def _apply(self, step: Callable[[Instant], list[Output]]) -> None:
        with self._lock:
            now = Instant(self._clock.now(), self._clock.monotonic())
            outputs = step(now)
        if outputs:
            self._listener(outputs)


class _SourceSink:
    """What one adapter sees: its reports reach the tracker, stamped, and are counted."""

    def __init__(self, follower: Follower, name: str, is_meter: bool) -> None:
        self._follower = follower
        self._name = name
        self._is_meter = is_meter

    def controller(self, view: ControllerView) -> None:
        self._follower._apply(lambda now: self._follower.tracker.on_view(view, now))

    def meter(self, reading: MeterReading) -> None:
        self._follower._apply(lambda now: self._follower.tracker.on_meter(reading, now))

    def offline(self, reason: str) -> None:
        self._follower.counters[f"{self._name}_offline"] += 1
        log.warning("%s: %s", self._name, reason)
        tracker = self._follower.tracker
        self._follower._apply(lambda now: tracker.on_offline(now, meter=self._is_meter))

    def unknown(self, what: str) -> None:
        self._follower.counters[f"{self._name}_unknown"] += 1
        log.debug("%s: unknown %r", self._name, what[:200])
