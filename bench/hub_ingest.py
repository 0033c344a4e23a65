"""Events per second from Mosquitto into the hub's ledger (SQLite, PostgreSQL) against bare paho.

Run: `.venv/bin/python -m bench.hub_ingest [--events N] [--devices D] [--batch-max B]
[--batch-wait S] [--rounds R]`; progress goes to stderr and one JSON object ends stdout. Simulated
devices (bare paho QoS 1 publishers of pre-encoded events, in their own process: devices are
other machines) publish session start/end pairs; the hub's time runs until every event is
committed and every ack has reached its device, the baseline's until a plain subscriber has them.
The hub's clock starts once its committer process has taken over (the steady state), and its
CPU is logged per process: the MQTT one and the committer.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from contracts.codec import encode
from contracts.models import Event
from contracts.topics import Kind, site_filter, topic
from hub.db import make_engine, migrate, session_factory
from hub.ingest.consumer import Ingest, IngestSettings
from hub.ingest.metrics import Metrics
from hub.ingest.sink import LedgerSink
from hub.ledger.models import EventRecord
from machinerie.ackhub import wait_until
from machinerie.servers import Mosquitto, PostgreSQL

log = logging.getLogger("bench.hub_ingest")
MAX_INFLIGHT = 100  # paho's window, the same for every client in the run
TIMEOUT_S = 300.0


# ---------------------------------------------------------------- simulated devices


def bare_client(client_id: str) -> Client:
    # MQTT 5 on every side, as the hub uses by default: paho's v5 parsing costs the same to all.
    client = Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.max_inflight_messages_set(MAX_INFLIGHT)
    return client


def device_events(site: str, device: str, count: int) -> list[Event]:
    """`count` events of one device: session_started / session_ended pairs, seq 1..count."""
    boot, t0 = uuid.uuid4(), datetime.now(UTC) - timedelta(days=1)
    events = []
    for seq in range(1, count + 1):
        pair, ending = divmod(seq - 1, 2)
        start = t0 + timedelta(minutes=10 * pair)
        data: dict[str, Any] = {
            "session_id": uuid.uuid5(boot, str(pair)),
            "badge_uid": "04A2246AB12C80",
            "member_id": "m-0001",
            "started_at": start,
        }
        if ending:
            data |= {"ended_at": start + timedelta(minutes=5), "end_reason": "badge_out"}
        else:
            data["role"] = "user"
        events.append(
            Event.model_validate(
                {
                    "event_id": uuid.uuid4(),
                    "site": site,
                    "device_id": device,
                    "machine_id": device,
                    "boot_id": boot,
                    "seq": seq,
                    "time": start + timedelta(minutes=5 * ending),
                    "clock_synced": True,
                    "type": "session_ended" if ending else "session_started",
                    "data": data,
                }
            )
        )
    return events


class Device:
    """One device's paho client: publishes its payloads, counts the event ids acked to it."""

    def __init__(self, port: int, site: str, name: str, payloads: list[bytes]) -> None:
        self.site, self.name, self.payloads = site, name, payloads
        self.acked: set[str] = set()
        self._lock = threading.Lock()
        self.client = bare_client(f"{site}-{name}")
        self.client.on_message = self._on_ack
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic(site, name, Kind.ACK), qos=1)
        subscribed.wait(10)

    def _on_ack(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        ids = json.loads(message.payload)["event_ids"]
        with self._lock:
            self.acked.update(ids)

    def publish_all(self) -> None:
        where = topic(self.site, self.name, Kind.EVENT)
        for payload in self.payloads:
            self.client.publish(where, payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def devices_process(port: int, site: str, devices: int, per_device: int, conn: Connection) -> None:
    """Child process: build and encode, report the event ids, publish on "go", report acks."""
    fleet = []
    ids: list[str] = []
    for index in range(devices):
        events = device_events(site, f"dev-{index}", per_device)
        ids += [str(e.event_id) for e in events]
        fleet.append(Device(port, site, f"dev-{index}", [encode(e) for e in events]))
    conn.send(ids)
    wait_acks = conn.recv() == "go-and-wait-for-acks"
    threads = [threading.Thread(target=d.publish_all) for d in fleet]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = len(ids)
    if wait_acks:
        wait_until(lambda: sum(len(d.acked) for d in fleet) >= expected, TIMEOUT_S, step=0.005)
    conn.send((sum(len(d.acked) for d in fleet), time.monotonic()))
    conn.recv()
    for device in fleet:
        device.close()


class Fleet(NamedTuple):
    conn: Connection  # to the devices' process
    ids: list[str]  # every event id it will publish
    pid: int  # the devices' process


@contextmanager
def device_fleet(port: int, site: str, devices: int, per_device: int) -> Iterator[Fleet]:
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    process = context.Process(
        target=devices_process, args=(port, site, devices, per_device, theirs), daemon=True
    )
    process.start()
    if not mine.poll(120):
        raise RuntimeError("the simulated devices did not start")
    ids = mine.recv()
    try:
        yield Fleet(mine, ids, process.pid or 0)
    finally:
        mine.send("stop")
        process.join(30)
        if process.is_alive():  # still waiting for acks that will not come (a failed run)
            process.terminate()
            process.join(30)


# ---------------------------------------------------------------- consumers


def run_baseline(port: int, args: argparse.Namespace, site: str) -> float:
    """Events per second to a plain QoS 1 subscriber that only counts."""
    with device_fleet(port, site, args.devices, args.events // args.devices) as (conn, ids, _):
        arrived = [0]
        done = threading.Event()

        def on_message(_client: Client, _userdata: Any, _message: MQTTMessage) -> None:
            arrived[0] += 1
            if arrived[0] >= len(ids):
                done.set()

        counter = bare_client(f"{site}-counter")
        counter.on_message = on_message
        subscribed = threading.Event()
        counter.on_subscribe = lambda *_args: subscribed.set()
        counter.connect("127.0.0.1", port)
        counter.loop_start()
        counter.subscribe(site_filter(Kind.EVENT, site), qos=1)
        subscribed.wait(10)
        started = time.monotonic()
        conn.send("go")
        done.wait(TIMEOUT_S)
        elapsed = time.monotonic() - started
        conn.recv()
        counter.disconnect()
        counter.loop_stop()
    if arrived[0] < len(ids):
        log.error("baseline: only %d of %d arrived", arrived[0], len(ids))
    return arrived[0] / elapsed


def run_hub(port: int, args: argparse.Namespace, site: str, url: str) -> tuple[float, int, int]:
    """Events per second into the ledger, acks delivered; also (lost, duplicated)."""
    engine = make_engine(url)
    migrate(engine)
    metrics = Metrics()
    settings = IngestSettings(
        port=port,
        client_id=f"{site}-hub",
        batch_max=args.batch_max,
        batch_wait_s=args.batch_wait,
    )
    ingest = Ingest(settings, LedgerSink(engine), metrics).start()
    try:
        with device_fleet(port, site, args.devices, args.events // args.devices) as fleet:
            conn, ids = fleet.conn, fleet.ids
            # Measured in the steady state: the committer process has taken over from the
            # thread that commits while it starts.
            if not wait_until(lambda: ingest.commit_in_process, 60):
                log.warning("%s: the committer process did not start", site)
            started, cpu, child_cpu = (
                time.monotonic(),
                time.process_time(),
                children_cpu_s(fleet.pid),
            )
            conn.send("go-and-wait-for-acks")
            wait_until(lambda: done(metrics, len(ids)), TIMEOUT_S, 0.002)
            ledger_done = time.monotonic()
            committed = metrics.value("ingest_events_new_total") >= len(ids)
            hub_cpu = time.process_time() - cpu, children_cpu_s(fleet.pid) - child_cpu
            acked, acks_done = (
                conn.recv() if committed and conn.poll(TIMEOUT_S) else (0, time.monotonic())
            )
        elapsed = max(ledger_done, acks_done) - started
        batches = metrics.value("ingest_batches_total")
        log.info(
            "%s: %d batches, %.0f events each, hub CPU (MQTT process / committer process) "
            "%.0f%% / %.0f%% of the elapsed time",
            site,
            batches,
            len(ids) / max(batches, 1),
            100 * hub_cpu[0] / elapsed,
            100 * hub_cpu[1] / elapsed,
        )
        log.info(
            "%s: committed=%s acked=%d of %d in %.2f s", site, committed, acked, len(ids), elapsed
        )
    finally:
        ingest.stop()
        forget_session(port, settings.client_id)
    lost, duplicated = audit(engine, site, ids)
    engine.dispose()
    return len(ids) / elapsed, lost, duplicated


def done(metrics: Metrics, expected: int) -> bool:
    """Every event recorded; or one refused, which no wait will mend (counted as lost)."""
    refused = sum(
        metrics.value("ingest_dead_letters_total", reason=kind)
        for kind in ("InvalidPayload", "InvalidTopic", "ForgedDevice")
    )
    return refused > 0 or metrics.value("ingest_events_new_total") >= expected


def children_cpu_s(devices_pid: int) -> float:
    """CPU seconds of this process's live children but the simulated devices (Linux /proc):
    the hub's committer process (PostgreSQL's are not our children)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        # After the command: state, ppid, ...; utime and stime are the 12th and 13th.
        if int(fields[1]) == os.getpid() and stat.parent.name != str(devices_pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def forget_session(port: int, client_id: str) -> None:
    # The stopped hub's persistent session would queue every later run's events and slow them.
    client = bare_client(client_id)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0
    client.connect("127.0.0.1", port, clean_start=True, properties=properties)
    client.loop_start()
    wait_until(client.is_connected, 5)
    client.disconnect()
    client.loop_stop()


def audit(engine: Engine, site: str, ids: list[str]) -> tuple[int, int]:
    with session_factory(engine)() as session:
        stored = [
            str(i)
            for i in session.scalars(select(EventRecord.event_id).where(EventRecord.site == site))
        ]
        rows = session.scalar(
            select(func.count()).select_from(EventRecord).where(EventRecord.site == site)
        )
    return len(set(ids) - set(stored)), int(rows or 0) - len(set(stored))


# ---------------------------------------------------------------- main


def run_round(
    broker: Mosquitto, postgres: PostgreSQL, args: argparse.Namespace, index: int
) -> dict[str, Any]:
    folder = broker.folder
    runs: dict[str, Callable[[str], tuple[float, int, int]]] = {
        "sqlite": lambda site: run_hub(broker.port, args, site, f"sqlite:///{folder}/{site}.db"),
        "postgres": lambda site: run_hub(
            broker.port, args, site, postgres.create_database(site.replace("-", "_"))
        ),
    }
    result: dict[str, Any] = {"baseline": run_baseline(broker.port, args, f"base-{index}")}
    log.info("round %d baseline: %.0f events/s", index, result["baseline"])
    for name, run in runs.items():
        rate, lost, duplicated = run(f"{name}-{index}")
        result[name] = rate
        result["lost"] = result.get("lost", 0) + lost
        result["duplicated"] = result.get("duplicated", 0) + duplicated
        log.info(
            "round %d %s: %.0f events/s, lost %d, duplicated %d",
            index,
            name,
            rate,
            lost,
            duplicated,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--batch-max", type=int, default=IngestSettings.batch_max)
    parser.add_argument("--batch-wait", type=float, default=IngestSettings.batch_wait_s)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    logging.getLogger("hub.ingest.consumer").setLevel(logging.WARNING)
    logging.getLogger("hub.ingest.consumer.paho").setLevel(logging.CRITICAL)
    with Mosquitto() as broker, PostgreSQL() as postgres:
        rounds = [run_round(broker, postgres, args, i) for i in range(args.rounds)]
    baseline = statistics.median(r["baseline"] for r in rounds)
    sqlite = statistics.median(r["sqlite"] for r in rounds)
    postgres_rate = statistics.median(r["postgres"] for r in rounds)
    summary = {
        "sqlite_events_per_s": round(sqlite, 1),
        "postgres_events_per_s": round(postgres_rate, 1),
        "baseline_events_per_s": round(baseline, 1),
        "ratio_sqlite": round(sqlite / baseline, 3),
        "ratio_postgres": round(postgres_rate / baseline, 3),
        "lost": sum(r["lost"] for r in rounds),
        "duplicated": sum(r["duplicated"] for r in rounds),
        "events": args.devices * (args.events // args.devices),
        "devices": args.devices,
        "batch_max": args.batch_max,
        "batch_wait_s": args.batch_wait,
        "rounds": [{k: round(v, 1) for k, v in r.items()} for r in rounds],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
