"""Telemetry points per second into a real VictoriaMetrics: the hub's writer against bare
influxdb-client, in the same run, with the writer's memory bounded.

Run: `.venv/bin/python -m bench.telemetry_write [--machines 1000] [--seconds 60]`. A site of
`--machines` machines each sends one telemetry sample a second (state, power, energy, two
temperatures, job progress: five fields). The samples of `--seconds` seconds are made first (not
timed); then, timed: the hub's `TelemetryWriter` is offered them as the hub's ingest would, one
sample at a time, and the clock stops when the store has them all (`flush`). The baseline writes
the same lines with influxdb-client alone (synchronous WriteApi, batches of the same size) on a
fresh store. Each run reads back the count it wrote; three alternating rounds, medians.
`max_rss_mb` is the process's peak resident memory, the generated samples included. The last
line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from pydantic import SecretStr

from contracts.models import MachineState, Telemetry
from hub.telemetry.points import machine_point
from hub.telemetry.settings import TelemetrySettings
from hub.telemetry.writer import WRITE_PRECISION, TelemetryWriter
from machinerie.servers import VictoriaMetrics

log = logging.getLogger("bench.telemetry_write")
START = datetime(2026, 11, 23, 8, tzinfo=UTC)
METRICS = ("power_w", "energy_wh", "temp_nozzle_c", "temp_bed_c", "progress_pct")
STATES = [MachineState.IDLE, MachineState.RUNNING, MachineState.RUNNING, MachineState.PAUSED]


def samples(machines: int, seconds: int) -> Iterator[Telemetry]:
    for second in range(seconds):
        at = START + timedelta(seconds=second)
        for m in range(machines):
            yield Telemetry(
                site="dony",
                device_id=f"m{m:04d}-pi",
                machine_id=f"m{m:04d}",
                time=at,
                state=STATES[(m + second // 30) % len(STATES)],
                metrics={
                    "power_w": 100.0 + (m * 7 + second) % 900,
                    "energy_wh": float(second * 0.25 + m),
                    "temp_nozzle_c": 200.0 + (second % 15),
                    "temp_bed_c": 60.0 + (m % 5),
                    "progress_pct": float(second % 100),
                },
            )


def stored_fields(line: str) -> int:
    """Values VictoriaMetrics keeps of a line: every field (a string one as 0)."""
    return len(line.split(" ")[1].split(","))  # the bench's tags and strings hold no spaces


def settings_for(store: VictoriaMetrics, batch_size: int) -> TelemetrySettings:
    return TelemetrySettings(
        enabled=True,
        url=store.url,
        token=SecretStr("bench"),
        org="machinerie",
        bucket="machinerie",
        batch_size=batch_size,
    )


def stored_points(store: VictoriaMetrics) -> int:
    """Points the store holds: one series per machine and field, counted over the whole run."""
    promql = "sum(count_over_time({__name__=~'machine_.+'}[1y]))"
    query = urllib.parse.urlencode({"query": promql, "time": "2027-01-01T00:00:00Z"})
    with urllib.request.urlopen(f"{store.url}/api/v1/query?{query}", timeout=30) as response:  # noqa: S310 - loopback
        result = json.load(response)["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def templates(machines: int) -> list[list[str]]:
    """Each machine's sample as line protocol without its timestamp, for 30 s of states.

    Real samples change every second; the stores and the writer do not look at the values, so
    a sample per machine and state stamped with each second is the same work, and the replay
    costs a string concatenation instead of a model and a Point per sample (which would be most
    of the time measured, and of the memory).
    """
    out = []
    for t in samples(machines, 1):
        [line] = machine_point(t)
        out.append([line.rsplit(" ", 1)[0] + " "])
    return out


def stamped(base: list[list[str]], seconds: int) -> Iterator[list[str]]:
    start_ms = int(START.timestamp() * 1000)
    for second in range(seconds):
        stamp = str(start_ms + second * 1000)
        for machine in base:
            yield [machine[0] + stamp]


def run_writer(
    store: VictoriaMetrics, base: list[list[str]], seconds: int, batch: int
) -> tuple[float, int, int]:
    """Seconds until the store has what was kept, points written, points dropped: offered as
    fast as the loop goes, far above 1 Hz, the writer drops the oldest beyond its bound."""
    writer = TelemetryWriter(settings_for(store, batch)).start()
    began = time.perf_counter()
    for sample in stamped(base, seconds):
        writer.offer(sample)
    if not writer.flush(timeout=600):
        raise RuntimeError(f"the writer did not drain: {writer.stats}")
    elapsed = time.perf_counter() - began
    writer.stop()
    log.info("writer: %.2f s, %s", elapsed, writer.stats)
    return elapsed, writer.stats.written, writer.stats.dropped


def run_baseline(store: VictoriaMetrics, base: list[list[str]], seconds: int, batch: int) -> float:
    token = "bench"  # noqa: S105 - VictoriaMetrics takes any token
    with InfluxDBClient(url=store.url, token=token, org="machinerie", timeout=30_000) as client:
        api = client.write_api(write_options=SYNCHRONOUS)
        began = time.perf_counter()
        pending: list[str] = []
        for sample in stamped(base, seconds):
            pending += sample
            if len(pending) >= batch:
                api.write(
                    bucket="machinerie", record="\n".join(pending), write_precision=WRITE_PRECISION
                )
                pending = []
        if pending:
            api.write(
                bucket="machinerie", record="\n".join(pending), write_precision=WRITE_PRECISION
            )
        elapsed = time.perf_counter() - began
    log.info("baseline: %.2f s", elapsed)
    return elapsed


def settle(store: VictoriaMetrics, expected: int) -> int:
    # VictoriaMetrics makes fresh samples searchable within a few seconds.
    deadline = time.monotonic() + 60
    count = stored_points(store)
    while count < expected and time.monotonic() < deadline:
        time.sleep(1)
        count = stored_points(store)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    base = templates(args.machines)
    points = args.machines * args.seconds
    expected = sum(stored_fields(sample[0] + "0") for sample in base) * args.seconds
    log.info("%d points, %d numeric values", points, expected)
    writer_rates: list[float] = []
    baseline_rates: list[float] = []
    dropped: list[int] = []
    stored: list[tuple[int, int]] = []
    # Alternating rounds on fresh stores, medians reported: one round swings by a fifth on a
    # shared two-core machine, the store and the client competing for the same cores.
    for _ in range(args.rounds):
        with VictoriaMetrics() as store:
            writer_s, writer_points, lost = run_writer(store, base, args.seconds, args.batch_size)
            # Every line holds the same fields: what the writer kept is a known share.
            written = settle(store, expected * writer_points // points)
        with VictoriaMetrics() as store:
            baseline_s = run_baseline(store, base, args.seconds, args.batch_size)
            baseline_written = settle(store, expected)
        writer_rates.append(writer_points / writer_s)
        baseline_rates.append(points / baseline_s)
        dropped.append(lost)
        stored.append((written, baseline_written))
    writer_rate = statistics.median(writer_rates)
    baseline_rate = statistics.median(baseline_rates)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "points_per_s": round(writer_rate),
                "baseline_points_per_s": round(baseline_rate),
                "ratio": round(writer_rate / baseline_rate, 3),
                "rounds_points_per_s": [round(r) for r in writer_rates],
                "rounds_baseline_points_per_s": [round(r) for r in baseline_rates],
                "dropped_at_full_speed": dropped,
                "max_rss_mb": round(rss_mb, 1),
                "points": points,
                "machines": args.machines,
                "seconds_of_telemetry": args.seconds,
                "values_sent": expected,
                "values_stored_writer_baseline": stored,
            }
        )
    )


if __name__ == "__main__":
    main()
