"""Badge presented to relay energised, over 1,000 badges with the broker up and then down.

Each badge-in records `session_started` durably (fsync) before the relay closes, so this
measures the whole safety path: reader thread, agent inbox, decision, outbox commit, GPIO.
Prints one JSON object as its last line: p50/p99 in ms, online and offline, and the same for a
bare durable SQLite commit on the same disk in the same run, the floor the agent stands on.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, RELAY, Sandbox
from machinerie.servers import Mosquitto


def badge_in_latencies(sandbox: Sandbox, count: int) -> list[float]:
    pin = sandbox.factory.pin(RELAY)
    outbox = sandbox.agent.parts.outbox
    latencies = []
    for _ in range(count):
        before = time.monotonic()
        sandbox.badge(ALICE.uid)
        sandbox.wait_relay(True)
        # gpiozero's mock pin stamps each change with time.monotonic(): the exact switching time.
        latencies.append((pin._last_change - before) * 1000)
        ended = outbox.last_seq + 1
        sandbox.badge(ALICE.uid)
        sandbox.wait_relay(False)
        # The next artisan badges after this one has finished: wait for the end to be recorded
        # (it is, just after the relay opens) and for a human-scale pause.
        wait_until(lambda: outbox.last_seq >= ended, 10)  # noqa: B023
        time.sleep(PAUSE_S)
    return latencies


PAUSE_S = 0.02


def disk_commit_latencies(folder: Path, count: int) -> list[float]:
    """The floor under every badge-in: one durable SQLite commit on the same disk, alone."""
    conn = sqlite3.connect(folder / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, payload TEXT)")
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (payload) VALUES (?)", ("x" * 600,))
        conn.execute("COMMIT")
        latencies.append((time.perf_counter() - start) * 1000)
        time.sleep(PAUSE_S)
    conn.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"p50_ms_{name}": round(statistics.median(values), 3),
        f"p99_ms_{name}": round(percentile(values, 0.99), 3),
        f"max_ms_{name}": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--badges", type=int, default=1000)
    args = parser.parse_args()
    with (
        Mosquitto() as broker,
        tempfile.TemporaryDirectory() as tmp,
        # Production's heartbeat period, not the tests' fast one.
        Sandbox(Path(tmp), broker.port, heartbeat_s=15) as sandbox,
    ):
        sandbox.publish_acl()
        print(f"online: {args.badges} badges", file=sys.stderr)
        online = badge_in_latencies(sandbox, args.badges)
        broker.stop()
        print(f"offline: {args.badges} badges", file=sys.stderr)
        offline = badge_in_latencies(sandbox, args.badges)
        backlog = sandbox.agent.parts.outbox.backlog()
        disk = disk_commit_latencies(Path(tmp), args.badges)
    result = {
        "badges": args.badges,
        **summary("online", online),
        **summary("offline", offline),
        **summary("disk_commit", disk),
        "outbox_backlog_offline": backlog,
        "target_p99_ms": 15,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
