"""What the simulated printers behind an HTTP API share, whatever the API they speak.

The truth a test compares the bridge against (`jobs`, `requests`), the printer's clock (the
print advancing, heaters warming and cooling, a print started by itself every so often), the
canned answers a test injects, and the order of answering: the clock first, then the
protocol's authentication, then an injected answer, then the protocol's own documents. The
protocol's states, documents and authentication stay in its own simulator.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import ClassVar, Self
from urllib.parse import urlsplit

from firmware_bridge.httpsim import LoopbackHttp, Reply
from firmware_bridge.model import JobOutcome

AMBIENT_C = 22.0
WARMING_S = 2.0  # a heater covers this share of the way to its target per second


@dataclass
class SimJob:
    """One print as the simulated printer ran it (times on the simulator's clock)."""

    name: str
    start: float
    duration_s: float
    end: float | None = None
    outcome: JobOutcome | None = None
    printing_s: float = 0.0
    job_id: int = 0  # the printer's own number for the print, where it keeps one


class SimulatedPrinter(ABC):
    """Start with `start()`, drive with the protocol's methods, `stop()` to drop it.

    `stop()` then `start()` again serves the same port, as a restarted printer would.
    """

    printing: ClassVar[str]  # the protocol's name of the one state that advances a print
    extension: ClassVar[str]  # of the files `autoplay` prints
    inject_path: ClassVar[str]  # what `inject` answers unless told

    def __init__(
        self,
        *,
        host: str,
        port: int,
        clock: Callable[[], float],
        tick_s: float,
        targets_c: tuple[float, float],
    ) -> None:
        self.host = host
        self.port = port
        self.jobs: list[SimJob] = []
        self.requests: list[tuple[str, int]] = []  # (path, HTTP status) of each answer
        self.lock = threading.RLock()  # held while the printer changes: tests may hold it too
        self._state = ""
        self._job: SimJob | None = None  # the print on the bed
        self._clock = clock
        self._autoplay: tuple[float, float] | None = None
        self._next_autoplay = 0.0
        self._injected: list[tuple[str, Reply]] = []
        self._targets_c = targets_c  # nozzle and bed while a print is on
        self._nozzle = AMBIENT_C
        self._bed = AMBIENT_C
        self._last = clock()
        self._http = LoopbackHttp(host, port, self._answer, self._tick, tick_s)

    @property
    def url(self) -> str:
        return self._http.url

    # -- serving -----------------------------------------------------------------------

    def start(self) -> Self:
        self._http.start()
        self.port = self._http.port
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection; the printer's state is kept."""
        self._http.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- driving the printer -----------------------------------------------------------

    @abstractmethod
    def start_print(self, name: str, duration_s: float) -> SimJob:
        """Start printing `name` for `duration_s` printing seconds."""

    def autoplay(self, every_s: float, duration_s: float) -> None:
        """Start a `duration_s` print every `every_s` seconds whenever the printer is free."""
        with self.lock:
            now = self._advance()
            self._autoplay, self._next_autoplay = (every_s, duration_s), now
            self._autoplay_step(now)

    def inject(
        self, body: bytes, *, path: str | None = None, status: int = 200, count: int = 1
    ) -> None:
        """Answer the next `count` authenticated requests for `path` with this body."""
        with self.lock:
            self._injected += [(path or self.inject_path, Reply(status, body))] * count

    def pending_injections(self) -> int:
        with self.lock:
            return len(self._injected)

    def busy_seconds(self) -> float:
        with self.lock:
            self._advance()
            return sum(job.printing_s for job in self.jobs)

    # -- the printer's clock -----------------------------------------------------------

    def _tick(self) -> None:
        with self.lock:
            self._advance()

    def _advance(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        job = self._job
        if job is not None and self._state == self.printing:
            remaining = job.duration_s - job.printing_s
            if elapsed < remaining:
                job.printing_s += elapsed
            else:
                job.printing_s = job.duration_s
                # The print finished between two ticks: the truth is the exact instant.
                self._printed(now - (elapsed - remaining))
        self._settle(now)
        self._warm(elapsed)
        self._autoplay_step(now)
        return now

    def _warm(self, elapsed: float) -> None:
        share = min(1.0, elapsed / WARMING_S)
        nozzle_c, bed_c = self._targets_c if self._job is not None else (AMBIENT_C, AMBIENT_C)
        self._nozzle += (nozzle_c - self._nozzle) * share
        self._bed += (bed_c - self._bed) * share

    def _autoplay_step(self, now: float) -> None:
        if self._autoplay is None or now < self._next_autoplay or not self._free():
            return
        every_s, duration_s = self._autoplay
        self._next_autoplay = now + every_s
        self.start_print(f"autoplay_{len(self.jobs) + 1:03d}{self.extension}", duration_s)

    @abstractmethod
    def _printed(self, at: float) -> None:
        """The print on the bed has printed its last line, at `at`."""

    @abstractmethod
    def _settle(self, now: float) -> None:
        """Let what waits on the clock (a transient state, a held screen) move on."""

    @abstractmethod
    def _free(self) -> bool:
        """Whether `autoplay` may start a print now."""

    # -- answering requests ------------------------------------------------------------

    def _answer(self, target: str, headers: Message) -> Reply:
        path = urlsplit(target).path
        with self.lock:
            now = self._advance()
            reply = self._refusal(target, headers, now)
            if reply is None:
                reply = self._take_injected(path) or self._route(path)
            self.requests.append((path, reply.status))
            return reply

    def _take_injected(self, path: str) -> Reply | None:
        for index, (injected_path, reply) in enumerate(self._injected):
            if injected_path == path:
                del self._injected[index]
                return reply
        return None

    @abstractmethod
    def _refusal(self, target: str, headers: Message, now: float) -> Reply | None:
        """The answer refusing an unauthenticated request; None lets it through."""

    @abstractmethod
    def _route(self, path: str) -> Reply:
        """The protocol's own answer for `path`."""
