"""End to end: a simulated Marlin printer on a pty, the edge agent with its bridge, a real
Mosquitto, the hub's ingest and ledger. Badge out mid-print keeps power until the print ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select

from contracts.codec import decode_event, decode_telemetry
from contracts.models import (
    Alarm,
    EventType,
    JobEnded,
    JobStarted,
    PowerOffDeferred,
    SessionEnded,
    SessionStarted,
    Telemetry,
)
from contracts.topics import Kind, topic
from edge.errors import ConfigError
from firmware_bridge.marlin.sim import MarlinSimulator
from firmware_bridge.model import MachineState
from firmware_bridge.simport import PtyServer
from hub.db import make_engine, migrate, session_factory
from hub.ingest.consumer import Ingest, IngestSettings
from hub.ingest.sink import LedgerSink
from hub.ledger.models import EventRecord, MachineSession
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, DEVICE, SITE, Sandbox
from machinerie.servers import Mosquitto

PRINT_S = 4.0
T = TypeVar("T")


@pytest.fixture
def printer() -> Iterator[PtyServer]:
    with PtyServer(MarlinSimulator()) as server:
        yield server


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def bridge_table(port: str) -> dict[str, object]:
    return {
        "controller": {"kind": "marlin", "port": port, "poll_s": 0.5},
        "stale_after_s": 5,
        "cooldown_s": 0,
        "telemetry_interval_s": 1,
    }


def simulator(printer: PtyServer) -> MarlinSimulator:
    device = printer.device
    assert isinstance(device, MarlinSimulator)
    return device


def test_badge_out_mid_print_keeps_power_until_the_print_ends(
    tmp_path: Path, mosquitto: Mosquitto, printer: PtyServer, ledger: Engine
) -> None:
    ingest = Ingest(IngestSettings(port=mosquitto.port), LedgerSink(ledger)).start()
    bridge = bridge_table(printer.path)
    try:
        with Sandbox(tmp_path, mosquitto.port, acking_hub=False, bridge=bridge) as sandbox:
            sandbox.publish_acl()
            sandbox.badge(ALICE.uid)
            sandbox.wait_relay(True)
            with printer.lock:
                truth = simulator(printer).start_sd_print("bracket_v3.gcode", PRINT_S)
            sandbox.wait_event(EventType.JOB_STARTED)
            sandbox.badge(ALICE.uid)  # badge out one second into the print
            [deferred] = sandbox.wait_event(EventType.POWER_OFF_DEFERRED)
            assert isinstance(deferred.data, PowerOffDeferred)
            assert deferred.data.reason == "job_running"
            assert sandbox.relay_on(), "power was cut mid-print"
            while truth.end is None:
                assert sandbox.relay_on(), "power was cut mid-print"
                wait_until(lambda: truth.end is not None, 0.2)
            assert wait_until(lambda: not sandbox.relay_on(), 5), "power stayed after the print"
            assert sandbox.drained(15)
        started = _data(ledger, EventType.SESSION_STARTED, SessionStarted)
        ended = _data(ledger, EventType.SESSION_ENDED, SessionEnded)
        job_started = _data(ledger, EventType.JOB_STARTED, JobStarted)
        job_ended = _data(ledger, EventType.JOB_ENDED, JobEnded)
    finally:
        ingest.stop()

    assert ended.end_reason == "badge_out" and ended.end_requested_at is not None
    assert ended.ended_at > ended.end_requested_at
    assert ended.busy_s is not None and abs(ended.busy_s - truth.printing_s) < 1.0
    assert job_started.session_id == job_ended.session_id == started.session_id
    assert job_ended.outcome == "completed" and job_ended.name == "bracket_v3.gcode"
    assert abs(job_ended.busy_s - truth.printing_s) < 1.0
    with session_factory(ledger)() as db:
        [row] = db.scalars(select(MachineSession)).all()
    assert row.badge_seconds is not None and row.busy_seconds is not None
    assert row.badge_seconds >= row.busy_seconds >= round(truth.printing_s) - 1


def _data(engine: Engine, kind: EventType, model: type[T]) -> T:
    with session_factory(engine)() as db:
        payloads = db.scalars(select(EventRecord.payload).where(EventRecord.type == kind.value))
        [event] = [decode_event(p.encode() if isinstance(p, str) else bytes(p)) for p in payloads]
    assert isinstance(event.data, model)
    return event.data


def test_the_edge_publishes_telemetry_and_flags_a_silent_controller(
    tmp_path: Path, mosquitto: Mosquitto, printer: PtyServer
) -> None:
    watcher = Client(CallbackAPIVersion.VERSION2)
    samples: list[Telemetry] = []
    watcher.on_message = lambda _c, _u, message: samples.append(
        decode_telemetry(bytes(message.payload))
    )
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.subscribe(topic(SITE, DEVICE, Kind.TELEMETRY))
    watcher.loop_start()
    try:
        with Sandbox(tmp_path, mosquitto.port, bridge=bridge_table(printer.path)) as sandbox:
            sandbox.publish_acl()
            sandbox.badge(ALICE.uid)
            sandbox.wait_relay(True)
            with printer.lock:
                simulator(printer).start_sd_print("vase.gcode", 30)

            def printing(sample: Telemetry) -> bool:
                return sample.state is MachineState.RUNNING and "temp_nozzle_c" in sample.metrics

            assert wait_until(lambda: any(printing(s) for s in samples), 10)
            running = next(s for s in samples if printing(s))
            assert running.metrics["temp_nozzle_c"] > 0 and "progress_pct" in running.metrics
            printer.stop()  # the USB cable is pulled mid-print
            [alarm] = sandbox.wait_event(EventType.ALARM, timeout=20)
            assert isinstance(alarm.data, Alarm)
            assert alarm.data.code == "bridge_telemetry_stale" and alarm.data.active
            sandbox.badge(ALICE.uid)
            [deferred] = sandbox.wait_event(EventType.POWER_OFF_DEFERRED)
            assert isinstance(deferred.data, PowerOffDeferred)
            assert deferred.data.reason == "job_state_unknown"
            assert sandbox.relay_on(), "power was cut while the job's state was unknown"
    finally:
        watcher.loop_stop()
        watcher.disconnect()


def test_a_port_owned_by_another_program_is_refused(tmp_path: Path, mosquitto: Mosquitto) -> None:
    bridge = {"controller": {"kind": "marlin", "port": "/dev/ttyACM0", "owner": "other"}}
    sandbox = Sandbox(tmp_path, mosquitto.port, bridge=bridge)
    try:
        with pytest.raises(ConfigError, match="belongs to another program"):
            sandbox.start_agent()
    finally:
        sandbox.close()


def test_garbage_from_the_controller_is_counted_in_the_status(
    tmp_path: Path, mosquitto: Mosquitto, printer: PtyServer
) -> None:
    with Sandbox(tmp_path, mosquitto.port, bridge=bridge_table(printer.path)) as sandbox:
        agent = sandbox.agent
        assert wait_until(lambda: agent.parts.bridge is not None, 5)
        with printer.lock:
            simulator(printer).inject(b"\x80\xffnot marlin at all\n" * 3)
        assert wait_until(lambda: agent.all_counters().get("bridge_marlin_unknown", 0) >= 3, 10)
        assert agent.status().counters["bridge_marlin_unknown"] >= 3
