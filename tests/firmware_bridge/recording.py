"""A sink that keeps everything an adapter reports, stamped with the monotonic clock."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from firmware_bridge.model import ControllerView, Job, JobOutcome, MeterReading


@dataclass
class RecordingSink:
    views: list[tuple[float, ControllerView]] = field(default_factory=list)
    meters: list[tuple[float, MeterReading]] = field(default_factory=list)
    offlines: list[tuple[float, str]] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def controller(self, view: ControllerView) -> None:
        with self.lock:
            self.views.append((time.monotonic(), view))

    def meter(self, reading: MeterReading) -> None:
        with self.lock:
            self.meters.append((time.monotonic(), reading))

    def offline(self, reason: str) -> None:
        with self.lock:
            self.offlines.append((time.monotonic(), reason))

    def unknown(self, what: str) -> None:
        with self.lock:
            self.unknowns.append(what)

    def latest(self) -> ControllerView | None:
        with self.lock:
            return self.views[-1][1] if self.views else None

    def busy_seconds(self) -> float:
        """Busy time as reported: each busy view counts until the next view."""
        with self.lock:
            stamps = list(self.views)
        total = 0.0
        for (at, view), (later, _next) in itertools.pairwise(stamps):
            if view.busy:
                total += later - at
        return total

    def jobs(self) -> list[tuple[Job, float, float | None, JobOutcome | None]]:
        """(job, first seen, first view without it, outcome then) for each job id seen."""
        found: list[tuple[Job, float, float | None, JobOutcome | None]] = []
        current: Job | None = None
        with self.lock:
            stamps = list(self.views)
        for at, view in stamps:
            new_id = view.job.job_id if view.job is not None else None
            if new_id == (current.job_id if current is not None else None):
                continue
            if current is not None:
                job, start, _, _ = found[-1]
                found[-1] = (job, start, at, view.outcome)
            current = view.job
            if view.job is not None:
                found.append((view.job, at, None, None))
        return found
