"""The telemetry writer against a real VictoriaMetrics: what is offered arrives, the ingest never
waits, memory stays bounded while the store is gone, and writing resumes when it is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from contracts.models import MachineState, Telemetry
from hub.ingest.metrics import Metrics
from hub.telemetry.points import machine_point, timestamp_ms
from hub.telemetry.settings import TelemetrySettings
from hub.telemetry.writer import TelemetryWriter
from machinerie.servers import VictoriaMetrics

# An offer is a few microseconds of work; this leaves room for a loaded test machine.
OFFER_BUDGET_S = 0.05
NOW = datetime.now(UTC).replace(microsecond=0)


def settings(store: VictoriaMetrics, **changes: Any) -> TelemetrySettings:
    values: dict[str, Any] = {
        "enabled": True,
        "url": store.url,
        "token": SecretStr("test-token"),
        "batch_size": 500,
        "flush_interval_s": 0.05,
        "retry_initial_s": 0.02,
        "retry_max_s": 0.1,
        "timeout_s": 2.0,
    }
    return TelemetrySettings(**(values | changes))


@contextmanager
def running(config: TelemetrySettings, metrics: Metrics | None = None) -> Iterator[TelemetryWriter]:
    writer = TelemetryWriter(config, metrics=metrics).start()
    try:
        yield writer
    finally:
        writer.stop(timeout=2)


def numbered(count: int, *, start: int = 0, machine: str = "laser-1") -> list[str]:
    """Lines of one machine, one a millisecond, each carrying its number in `seq`."""
    base = timestamp_ms(NOW - timedelta(minutes=10))
    return [
        f"machine,device_id={machine}-pi,machine_id={machine},site=dony seq={n}.0 {base + n}"
        for n in range(start, start + count)
    ]


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def stored_seqs(store: VictoriaMetrics, expected: int, timeout: float = 15.0) -> list[int]:
    """The distinct `seq` values stored (a batch refused after a partial write may be stored
    twice: the same samples)."""
    deadline = time.monotonic() + timeout
    while True:
        seqs = sorted({int(v) for s in store.export("machine_seq") for v in s["values"]})
        if len(seqs) >= expected or time.monotonic() > deadline:
            return seqs
        time.sleep(0.2)


def offer_timed(writer: TelemetryWriter, lines: list[str], chunk: int = 100) -> float:
    """Offer in chunks as the ingest would; the slowest offer's duration."""
    slowest = 0.0
    for start in range(0, len(lines), chunk):
        began = time.perf_counter()
        assert writer.offer(lines[start : start + chunk]) == len(lines[start : start + chunk])
        slowest = max(slowest, time.perf_counter() - began)
    return slowest


def test_ten_thousand_samples_arrive_with_their_values(victoria: VictoriaMetrics) -> None:
    samples = [
        Telemetry(
            site="dony",
            device_id=f"m{m:02d}-pi",
            machine_id=f"m{m:02d}",
            time=NOW - timedelta(seconds=500 - s),
            state=MachineState.RUNNING,
            metrics={"power_w": m * 1000.0 + s, "temp_c": 20.5},
        )
        for m in range(20)
        for s in range(500)
    ]
    with running(settings(victoria, batch_size=1000)) as writer:
        for sample in samples:
            writer.offer(machine_point(sample))
        assert writer.flush(timeout=20)
        assert writer.stats.written == 10_000
        assert writer.stats.failed_requests == 0
    deadline = time.monotonic() + 15
    while True:
        series = victoria.export("machine_power_w")
        total = sum(len(s["values"]) for s in series)
        if total >= 10_000 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert total == 10_000
    assert len(series) == 20
    m07 = next(s for s in series if s["metric"]["machine_id"] == "m07")
    assert m07["metric"] == {
        "__name__": "machine_power_w",
        "site": "dony",
        "machine_id": "m07",
        "device_id": "m07-pi",
    }
    assert sorted(zip(m07["timestamps"], m07["values"], strict=True)) == [
        (timestamp_ms(NOW - timedelta(seconds=500 - s)), 7000 + s) for s in range(500)
    ]


def test_offer_returns_at_once_while_the_store_hangs(victoria: VictoriaMetrics) -> None:
    victoria.pause()  # connections open, nothing answers: every request runs to its timeout
    try:
        with running(settings(victoria, batch_size=100, timeout_s=0.3)) as writer:
            slowest = offer_timed(writer, numbered(2000))
            assert slowest < OFFER_BUDGET_S
            assert not writer.flush(timeout=0.8)  # past the request's timeout: it failed
            victoria.resume()
            assert writer.flush(timeout=15)
            assert writer.stats.failed_requests >= 1
            assert writer.stats.retries >= 1
    finally:
        victoria.resume()
    assert stored_seqs(victoria, 2000) == list(range(2000))


def test_the_store_gone_memory_stays_bounded_oldest_dropped_then_resumes(
    victoria: VictoriaMetrics,
) -> None:
    victoria.stop()
    metrics = Metrics()
    config = settings(victoria, max_buffer_points=1000, batch_size=200)
    with running(config, metrics) as writer:
        slowest = offer_timed(writer, numbered(2500))
        assert slowest < OFFER_BUDGET_S
        assert writer.stats.buffered == 1000
        # The batch a failing request holds is settled when the request ends.
        eventually(lambda: writer.stats.dropped == 1500)
        assert writer.stats.written == 0
        assert metrics.value("telemetry_points_dropped_total", reason="overflow") == 1500

        victoria.start()  # same port, same data folder
        assert writer.flush(timeout=15)
        assert writer.stats.written == 1000
        assert writer.stats.buffered == 0
        assert stored_seqs(victoria, 1000) == list(range(1500, 2500))  # the newest kept

        writer.offer(numbered(10, start=2500))
        assert writer.flush(timeout=10)
    assert stored_seqs(victoria, 1010) == list(range(1500, 2510))
    assert writer.stats.dropped == 1500
    assert metrics.value("telemetry_points_written_total") == 1010
    assert metrics.value("telemetry_write_failures_total") >= 1
    assert "machinerie_telemetry_points_dropped_total" in metrics.render()


def test_a_point_the_store_refuses_is_dropped_alone() -> None:
    # This store answers 400 to a request holding a line far over 1 KiB (it reads 64 KiB at a
    # time, and refuses a read that finds no line end), after storing the lines before it.
    with VictoriaMetrics(extra_args=("-influx.maxLineSize=1KiB",)) as store:
        refused = f'machine,machine_id=laser-1,site=dony note="{"x" * 300_000}" 1'
        garbled = "this is not line protocol"  # VictoriaMetrics skips it and takes the rest
        lines = [*numbered(300), refused, *numbered(300, start=300), garbled]
        metrics = Metrics()
        with running(settings(store, batch_size=1000), metrics) as writer:
            writer.offer(lines)
            assert writer.flush(timeout=15)
            assert writer.stats.rejected == 1
            # The whole batch, then halves of it down to the bad line alone.
            assert writer.stats.failed_requests >= 2
            assert writer.stats.buffered == 0
            assert metrics.value("telemetry_points_dropped_total", reason="rejected") == 1

            # Writing goes on at full batches.
            writer.offer(numbered(100, start=600))
            assert writer.flush(timeout=10)
        assert stored_seqs(store, 700) == list(range(700))


def test_stop_writes_what_is_buffered(victoria: VictoriaMetrics) -> None:
    # A partial batch would wait a minute: only the stop sends it.
    writer = TelemetryWriter(settings(victoria, flush_interval_s=60)).start()
    writer.offer(numbered(50))
    time.sleep(0.1)
    assert writer.stats.written == 0
    writer.stop(timeout=5)
    assert writer.stats.written == 50
    assert writer.stats.buffered == 0
    assert writer.offer(numbered(1, start=50)) == 0  # stopped: nothing more is taken
    assert stored_seqs(victoria, 50) == list(range(50))


def test_stop_with_the_store_gone_drops_the_rest_and_returns_in_time(
    victoria: VictoriaMetrics,
) -> None:
    victoria.stop()
    writer = TelemetryWriter(settings(victoria)).start()
    writer.offer(numbered(40))
    began = time.monotonic()
    writer.stop(timeout=0.3)
    assert time.monotonic() - began < 1.5
    assert writer.stats.dropped == 40
    assert writer.stats.buffered == 0
    assert writer.flush(timeout=0.1)  # nothing left to wait for
