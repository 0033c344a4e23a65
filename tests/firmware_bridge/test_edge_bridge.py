"""End to end: a simulated Marlin printer on a pty, the edge agent with its bridge, a real
Mosquitto, the hub's ingest and ledger. Badge out mid-print keeps power until the print ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, select

from contracts.codec import decode_event
from contracts.models import (
    EventType,
    JobEnded,
    JobStarted,
    PowerOffDeferred,
    SessionEnded,
    SessionStarted,
)
from firmware_bridge.marlin.sim import MarlinSimulator
from firmware_bridge.simport import PtyServer
from hub.db import make_engine, migrate, session_factory
from hub.ingest.consumer import Ingest, IngestSettings
from hub.ingest.sink import LedgerSink
from hub.ledger.models import EventRecord, MachineSession
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, Sandbox
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
