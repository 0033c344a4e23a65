"""The telemetry writer: lines in from the ingest, batches out to an InfluxDB-compatible store.

`offer` never blocks and never raises: it appends to a bounded buffer (a deque of line strings)
and, beyond `max_buffer_points`, drops the oldest lines, counted. One worker thread sends up to
`batch_size` lines per request through influxdb-client's synchronous WriteApi. The batch being
sent stays at the head of the buffer until the store took it, so it counts in the bound and is
the first dropped on overflow; a failed request is retried with capped, jittered exponential
backoff while new lines accumulate up to the bound.

A request the store refuses as malformed (400, or 413 too large) is never retried as a whole: the
worker halves it until the bad line is alone, drops that line (counted as rejected) and goes on,
so one bad point costs a few requests, never the points around it. Some stores write the good
lines of a refused request anyway (InfluxDB 1.8's partial writes); sending them again rewrites
the same points, which InfluxDB treats as one.

Memory: a line costs its length plus 49 bytes as a Python string, and 8 bytes of deque slot; a
`machine` line with a state and five metrics is about 160 characters, so about 220 bytes, and the
default 200,000 lines hold about 45 MB. A request adds one batch, joined and encoded (about 1 MB
for 5,000 lines).
"""

from __future__ import annotations

import enum
import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from hub.errors import Conflict
from hub.ingest.metrics import Metrics
from hub.telemetry.points import PRECISION
from hub.telemetry.settings import TelemetrySettings

log = logging.getLogger(__name__)

# Statuses that say "this request will never be accepted as it is": split it.
REFUSED = frozenset({400, 413})
# Beyond the stop deadline a request still under way gets this long before the thread is left.
STOP_GRACE_S = 1.0
# influxdb-client's precisions are plain strings on a class of that name.
WRITE_PRECISION = cast(WritePrecision, PRECISION)


@dataclass(frozen=True)
class WriterStats:
    """Counters since start; every line offered ends up written, dropped, rejected or buffered."""

    written: int  # lines the store accepted
    dropped: int  # lines lost to the memory bound, or still buffered at stop
    rejected: int  # lines the store refused as malformed
    failed_requests: int  # requests that failed (store down, timeout, 5xx, refused batches)
    retries: int  # waits before sending a failed batch again
    buffered: int  # lines waiting, the batch being sent included


class _Outcome(enum.Enum):
    WRITTEN = "written"
    FAILED = "failed"
    REFUSED = "refused"


class TelemetryWriter:
    """Batches telemetry lines to the store from a thread of its own.

    It writes whatever it is offered; the hub builds one only when `[telemetry] enabled`.
    """

    def __init__(self, settings: TelemetrySettings, *, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self._metrics = metrics
        if metrics is not None:
            _describe(metrics)
        self._capacity = settings.max_buffer_points
        self._buffer: deque[str] = deque(maxlen=self._capacity)
        # `offer` takes the bare lock (cheaper than entering the condition): the same lock.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._halt = threading.Event()  # ends the worker at once, even mid-backoff
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._closed = False
        # Lines ever appended, and lines gone from the head (written, dropped or rejected):
        # `_offered - _done == len(_buffer)`, and a flush waits for `_done` to pass its mark.
        self._offered = 0
        self._done = 0
        # The head lines in the request under way, and how many of them overflow dropped
        # meanwhile: lost if the request fails, written if it succeeds.
        self._inflight = 0
        self._inflight_evicted = 0
        self._pending_since: float | None = None  # when the oldest waiting line came in
        self._flushers = 0
        # Bisection after a refused request: batches are at most `_limit` lines until the
        # `_suspect` lines of the refused request are through.
        self._limit = settings.batch_size
        self._suspect = 0
        self._written = 0
        self._dropped = 0
        self._rejected = 0
        self._failed = 0
        self._retries = 0

    # ------------------------------------------------------------------ the ingest's side

    def start(self) -> TelemetryWriter:
        if self._thread is not None:
            raise Conflict("the telemetry writer is already started")
        self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
        self._thread.start()
        return self

    def offer(self, lines: Iterable[str]) -> int:
        """Buffer lines for writing; returns how many were taken (none once stopped).

        Never waits for the store: beyond `max_buffer_points` the oldest lines make room.
        """
        batch = lines if isinstance(lines, list) else list(lines)
        count = len(batch)
        if not count:
            return 0
        buffer = self._buffer
        with self._lock:
            if self._closed:
                return 0
            before = len(buffer)
            if before + count > self._capacity:
                self._overflow(before + count - self._capacity)
                before = len(buffer)
            buffer.extend(batch)
            self._offered += count
            # Wake the worker only when it has something new to decide: a first line to time,
            # or a full batch.
            if not before:
                self._pending_since = time.monotonic()
                self._cond.notify_all()
            elif before < self._limit <= before + count:
                self._cond.notify_all()
        return count

    def flush(self, timeout: float) -> bool:
        """Send what is buffered now; True once every line offered before the call has left the
        buffer (written, or counted as rejected or dropped), False on timeout."""
        with self._cond:
            mark = self._offered
            self._flushers += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._done >= mark, timeout)
            finally:
                self._flushers -= 1

    def stop(self, timeout: float = 5.0) -> None:
        """Write what can be written within `timeout`, then end the thread; lines still
        buffered then are dropped, counted."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._halt.set()
            with self._cond:
                self._cond.notify_all()
            self._thread.join(STOP_GRACE_S)
        with self._cond:
            self._closed = True
            left = len(self._buffer)
            if left:
                log.warning("telemetry writer stopped: %d lines not written, dropped", left)
                self._evict(left, reason="shutdown")
            self._cond.notify_all()

    @property
    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                written=self._written,
                dropped=self._dropped,
                rejected=self._rejected,
                failed_requests=self._failed,
                retries=self._retries,
                buffered=len(self._buffer),
            )

    # ------------------------------------------------------------------ bookkeeping (locked)

    def _overflow(self, excess: int) -> None:
        """Room for `excess` more lines: the oldest buffered go first, then, for an offer larger
        than the whole buffer, the oldest of the offer (the deque's maxlen drops them)."""
        from_buffer = min(excess, len(self._buffer))
        self._evict(from_buffer)
        self._count_dropped(excess - from_buffer, "overflow")
        self._done += excess - from_buffer

    def _evict(self, count: int, reason: str = "overflow") -> None:
        """Drop `count` lines from the head; those of the request under way are settled when it
        ends (it may still write them)."""
        for _ in range(count):
            self._buffer.popleft()
        from_inflight = min(count, self._inflight)
        self._inflight -= from_inflight
        self._inflight_evicted += from_inflight
        self._count_dropped(count - from_inflight, reason)
        self._done += count

    def _count_dropped(self, count: int, reason: str) -> None:
        if count > 0:
            self._dropped += count
            if self._metrics is not None:
                self._metrics.inc("telemetry_points_dropped_total", count, reason=reason)

    # ------------------------------------------------------------------ the worker

    def _run(self) -> None:
        settings = self.settings
        client = InfluxDBClient(
            url=settings.url,
            token=settings.token.get_secret_value(),  # empty: no Authorization header
            org=settings.org,
            timeout=round(settings.timeout_s * 1000),
        )
        try:
            api = client.write_api(write_options=SYNCHRONOUS)
            failures = 0  # in a row: the backoff grows with them
            while (batch := self._next_batch()) is not None:
                outcome = self._send(api, batch, quiet=failures > 0)
                self._settle(outcome)
                if outcome is _Outcome.WRITTEN:
                    if failures:
                        log.info("telemetry written again after %d failed requests", failures)
                    failures = 0
                elif outcome is _Outcome.FAILED:
                    failures += 1
                    if not self._backoff(failures):
                        break
        finally:
            client.close()  # type: ignore[no-untyped-call]

    def _next_batch(self) -> list[str] | None:
        """Wait for a full batch, a partial one that waited `flush_interval_s`, a flush or the
        stop; None when the worker should end."""
        with self._cond:
            while not self._halt.is_set():
                size = len(self._buffer)
                if size == 0 and self._stopping:
                    return None
                wait: float | None = None
                if size:
                    due = (self._pending_since or 0.0) + self.settings.flush_interval_s
                    wait = due - time.monotonic()
                    urgent = self._flushers > 0 or self._stopping or size >= self._limit
                    if urgent or wait <= 0:
                        self._inflight = min(size, self._limit)
                        self._inflight_evicted = 0
                        return list(itertools.islice(self._buffer, self._inflight))
                self._cond.wait(wait)
            return None

    def _send(self, api: WriteApi, batch: list[str], *, quiet: bool) -> _Outcome:
        """One request; `quiet` logs failures of an outage already reported at debug level."""
        level = logging.DEBUG if quiet else logging.WARNING
        try:
            api.write(
                bucket=self.settings.bucket,
                org=self.settings.org,
                record="\n".join(batch),
                write_precision=WRITE_PRECISION,
            )
        except ApiException as exc:
            if exc.status in REFUSED:
                log.warning(
                    "telemetry store refused %d lines (%s): %s",
                    len(batch),
                    exc.status,
                    _body(exc),
                )
                return _Outcome.REFUSED
            log.log(level, "telemetry write failed (%s): %s", exc.status, _body(exc))
            return _Outcome.FAILED
        except Exception as exc:  # the store unreachable, a timeout: keep the batch, retry
            log.log(level, "telemetry store unreachable, retrying: %s", exc)
            return _Outcome.FAILED
        return _Outcome.WRITTEN

    def _settle(self, outcome: _Outcome) -> None:
        with self._cond:
            remaining, evicted = self._inflight, self._inflight_evicted
            sent = remaining + evicted
            self._inflight = self._inflight_evicted = 0
            if outcome is _Outcome.WRITTEN:
                self._remove(remaining)
                self._count("telemetry_points_written_total", sent)
                self._written += sent
                self._narrow(sent)
                # What is left came in during the request: its own wait starts now.
                self._pending_since = time.monotonic()
            else:
                self._failed += 1
                self._count("telemetry_write_failures_total", 1)
                self._count_dropped(evicted, "overflow")
                if outcome is _Outcome.REFUSED:
                    self._refused(sent, remaining)
            if not self._buffer:
                self._pending_since = None
            self._cond.notify_all()

    def _remove(self, count: int) -> None:
        for _ in range(count):
            self._buffer.popleft()
        self._done += count

    def _narrow(self, passed: int) -> None:
        """Lines got through: once past the refused request's lines, full batches again."""
        if self._suspect:
            self._suspect = max(0, self._suspect - passed)
            if not self._suspect:
                self._limit = self.settings.batch_size

    def _refused(self, sent: int, remaining: int) -> None:
        """Halve the batch size until the refused line is alone, then drop it."""
        if not remaining:
            return  # overflow dropped the refused lines meanwhile: nothing left to split
        if sent > 1:
            # The bad line is among the refused lines still at the head.
            self._limit = max(1, remaining // 2)
            self._suspect = remaining
            return
        self._remove(1)
        self._rejected += 1
        if self._metrics is not None:
            self._metrics.inc("telemetry_points_dropped_total", reason="rejected")
        self._narrow(1)

    def _count(self, name: str, amount: int) -> None:
        if self._metrics is not None:
            self._metrics.inc(name, amount)

    def _backoff(self, failures: int) -> bool:
        """Wait before sending the failed batch again; False when the writer is halted."""
        settings = self.settings
        ceiling = min(settings.retry_max_s, settings.retry_initial_s * 2 ** min(failures - 1, 30))
        with self._cond:
            self._retries += 1
        self._count("telemetry_write_retries_total", 1)
        # Jitter: hubs restarted together do not all hit the store again at the same instant.
        return not self._halt.wait(random.uniform(ceiling / 2, ceiling))


def _body(exc: ApiException) -> str:
    body = exc.body
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    return text[:300]


def _describe(metrics: Metrics) -> None:
    metrics.describe("telemetry_points_written_total", "Telemetry lines the store accepted.")
    metrics.describe(
        "telemetry_points_dropped_total",
        "Telemetry lines lost: overflow of the bounded buffer, rejected as malformed, shutdown.",
    )
    metrics.describe("telemetry_write_failures_total", "Telemetry write requests that failed.")
    metrics.describe("telemetry_write_retries_total", "Waits before a failed batch is sent again.")
