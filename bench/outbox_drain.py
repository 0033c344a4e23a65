"""Drain 10,000 events queued while the broker was down, against a bare paho QoS 1 baseline.

Run: `.venv/bin/python -m bench.outbox_drain [--events N] [--window W] [--protocol 5|3.1.1]`;
progress goes to stderr, one JSON object (events_per_s, baseline_events_per_s, ratio, lost,
duplicated) ends stdout. Both sides use the same MQTT version: paho parses v5 properties on
every packet, which alone costs about a third of the throughput.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from contracts.codec import encode
from contracts.models import Event
from contracts.topics import Kind, topic
from edge.config import DeviceConfig, MqttConfig
from edge.link import MqttLink
from edge.outbox import Outbox
from edge.publisher import Publisher
from edge.store import Store
from machinerie.ackhub import AckingHub, wait_until
from machinerie.servers import Mosquitto

log = logging.getLogger("bench.outbox_drain")
SITE, DEVICE, MACHINE = "bench", "bench-pi", "bench-machine"
MAX_INFLIGHT = 100  # the same paho window for the baseline and the link
Protocol = Literal["3.1.1", "5"]


def bare_client(client_id: str, protocol: Protocol) -> Client:
    version = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
    return Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version)


def make_events(count: int) -> list[Event]:
    boot, now = uuid.uuid4(), datetime.now(UTC)
    return [
        Event.model_validate(
            {
                "event_id": uuid.uuid4(),
                "site": SITE,
                "device_id": DEVICE,
                "machine_id": MACHINE,
                "boot_id": boot,
                "seq": seq,
                "time": now,
                "clock_synced": True,
                "type": "access_denied",
                "data": {"badge_uid": "04A2246AB12C80", "reason": "expired"},
            }
        )
        for seq in range(1, count + 1)
    ]


class Counter:
    """A plain QoS 1 subscriber that counts arrivals."""

    def __init__(self, port: int, subscription: str, expected: int, protocol: Protocol) -> None:
        self.count, self._expected = 0, expected
        self.done = threading.Event()
        self._ready = threading.Event()
        self.client = bare_client("bench-counter", protocol)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(subscription, qos=1)
        self.client.loop_start()
        self._ready.wait(5)

    def _on_message(self, _client: Client, _userdata: Any, _message: MQTTMessage) -> None:
        self.count += 1
        if self.count >= self._expected:
            self.done.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def counter_process(
    port: int, subscription: str, expected: int, protocol: Protocol, conn: Connection
) -> None:
    counter = Counter(port, subscription, expected, protocol)
    conn.send("ready")
    counter.done.wait(120)
    conn.send(counter.count)
    counter.close()


def hub_process(port: int, protocol: Protocol, conn: Connection) -> None:
    hub = AckingHub(port, protocol=protocol, validate=False).start()
    conn.send("ready")
    conn.recv()
    hub.stop()
    conn.send(([a.event_id for a in hub.arrivals], hub.seqs(), hub.duplicates))


def consumer(target: Callable[..., None], *args: Any) -> tuple[BaseProcess, Connection]:
    """Run a consumer in its own process: the hub is another machine, and sharing this
    process's GIL would measure the stand-in hub's validation instead of the edge."""
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    process = context.Process(target=target, args=(*args, theirs), daemon=True)
    process.start()
    if not mine.poll(30) or mine.recv() != "ready":
        raise RuntimeError(f"{target.__name__} did not start")
    return process, mine


def run_baseline(port: int, payloads: list[bytes], protocol: Protocol) -> float:
    """Events per second of a bare paho QoS 1 publisher to a plain subscriber."""
    # Another prefix: the hub's persistent session must not queue the baseline's copies.
    target = topic(SITE, DEVICE, Kind.EVENT, prefix="baseline")
    process, conn = consumer(counter_process, port, target, len(payloads), protocol)
    started = time.perf_counter()
    publisher = bare_client("bench-baseline", protocol)
    publisher.max_inflight_messages_set(MAX_INFLIGHT)
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    for payload in payloads:
        publisher.publish(target, payload, qos=1)
    count = conn.recv() if conn.poll(120) else 0
    elapsed = time.perf_counter() - started
    publisher.disconnect()
    publisher.loop_stop()
    process.join(10)
    if count < len(payloads):
        log.error("baseline: only %d of %d arrived", count, len(payloads))
    return int(count) / elapsed


def prebuilt(event: Event) -> Callable[[int], Event]:
    return lambda _seq: event


def run_outbox(
    broker: Mosquitto, events: list[Event], window: int, protocol: Protocol
) -> dict[str, Any]:
    """Queue every event with the broker down, start it, then time the drain to an empty outbox."""
    folder = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    store = Store(folder / "agent.db")
    outbox = Outbox(store, max_events=len(events) + 1, alarm_fraction=1.0)
    broker.stop()
    for event in events:
        outbox.append(prebuilt(event))
    log.info("queued %d events with the broker down; starting it", outbox.backlog())
    broker.start()
    process, conn = consumer(hub_process, broker.port, protocol)
    link, publisher = wire(broker.port, outbox, window, protocol)
    started = time.perf_counter()
    link.start()
    publisher.start()
    drained = wait_until(lambda: outbox.backlog() == 0, 120, step=0.002)
    elapsed = time.perf_counter() - started
    log.info("drained=%s in %.2f s; publisher %s", drained, elapsed, publisher.counters)
    publisher.stop()
    link.stop()
    conn.send("stop")
    ids, seqs, duplicates = conn.recv() if conn.poll(30) else ([], [], 0)
    process.join(10)
    store.close()
    rate = len(events) / elapsed if drained else 0.0
    return verdict(events, set(ids), seqs, duplicates, rate)


def wire(port: int, outbox: Outbox, window: int, protocol: Protocol) -> tuple[MqttLink, Publisher]:
    holder: list[Publisher] = []

    def on_connection_change(up: bool) -> None:
        holder[0].on_connection_change(up)

    def on_message(kind: Kind, payload: bytes) -> None:
        if kind is Kind.ACK:
            holder[0].handle_ack(payload)

    link = MqttLink(
        MqttConfig(host="127.0.0.1", port=port, protocol=protocol),
        DeviceConfig(site=SITE, device_id=DEVICE, machine_id=MACHINE),
        will_payload=b"{}",
        status_payload=lambda: b"{}",
        on_message=on_message,
        on_connection_change=on_connection_change,
        max_inflight=MAX_INFLIGHT,
    )
    holder.append(Publisher(outbox, link, window=window, ack_timeout_s=30))
    return link, holder[0]


def verdict(
    events: list[Event], arrived: set[str], seqs: list[int], duplicates: int, rate: float
) -> dict[str, Any]:
    return {
        "events_per_s": round(rate, 1),
        "lost": len({str(e.event_id) for e in events} - arrived),
        "duplicated": duplicates,
        "in_order": seqs == [e.seq for e in events],
    }


def run_round(events: list[Event], args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    with Mosquitto() as broker:
        log.info("baseline: bare paho QoS 1, MQTT %s, %d payloads", args.protocol, len(events))
        baseline = run_baseline(broker.port, [encode(e) for e in events], args.protocol)
        log.info("baseline: %.0f events/s", baseline)
        result = run_outbox(broker, events, args.window, args.protocol)
        log.info("outbox: %s", result)
    return baseline, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    # Rounds alternate baseline and outbox so a noisy neighbour hits both; medians are kept.
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    logging.getLogger("edge").setLevel(logging.WARNING)
    logging.getLogger("machinerie").setLevel(logging.WARNING)
    for noisy in ("edge.link.paho", "machinerie.ackhub.paho"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    events = make_events(args.events)
    rounds = [run_round(events, args) for _ in range(args.rounds)]
    baseline = statistics.median(b for b, _ in rounds)
    rate = statistics.median(r["events_per_s"] for _, r in rounds)
    summary = {
        "events_per_s": round(rate, 1),
        "baseline_events_per_s": round(baseline, 1),
        "ratio": round(rate / baseline, 3),
        "lost": max(r["lost"] for _, r in rounds),
        "duplicated": sum(r["duplicated"] for _, r in rounds),
        "in_order": all(r["in_order"] for _, r in rounds),
        "rounds": [[round(b), r["events_per_s"]] for b, r in rounds],
        "events": args.events,
        "window": args.window,
        "protocol": args.protocol,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
