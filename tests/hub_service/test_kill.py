"""The hub as its own process, killed with SIGKILL in the middle of a burst and started again.

The broker keeps the hub's persistent session and the edge keeps its outbox, so after the
restart the ledger must hold every event the agent wrote exactly once, and the outbox drains.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import func, select

from hub.acl.keys import load_or_create_signing_key
from hub.db import make_engine, session_factory
from hub.ledger.models import EventRecord, MachineSession
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, Sandbox
from machinerie.servers import Mosquitto
from tests.hub_service.conftest import count, edge, seed

CYCLES = 50
KILL_AFTER_EVENTS = 30


def write_config(folder: Path, database_url: str, port: int) -> Path:
    path = folder / "hub.toml"
    path.write_text(
        f'data_dir = "{folder / "hub"}"\ndatabase_url = "{database_url}"\n[mqtt]\nport = {port}\n'
    )
    return path


def start_hub(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "run", "--config", str(config), "--no-api"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).parents[2],
            env={k: v for k, v in os.environ.items() if not k.startswith("MACHINERIE_HUB_")},
        )


def burst(sandbox: Sandbox, failures: list[BaseException]) -> None:
    try:
        for _ in range(CYCLES):
            sandbox.badge(ALICE.uid)
            sandbox.wait_relay(True)
            sandbox.badge(ALICE.uid)
            sandbox.wait_relay(False)
    except AssertionError as exc:
        failures.append(exc)


def test_sigkill_mid_burst_loses_and_duplicates_nothing(
    tmp_path: Path, mosquitto: Mosquitto, database_url: str
) -> None:
    seed(database_url)
    keys = load_or_create_signing_key(tmp_path / "hub")
    config = write_config(tmp_path, database_url, mosquitto.port)
    log = tmp_path / "hub.log"
    engine = make_engine(database_url)
    hub = start_hub(config, log)
    try:
        with edge(tmp_path, mosquitto.port, keys) as sandbox:
            assert wait_until(lambda: sandbox.acl_version() is not None, 20), log.read_text()
            failures: list[BaseException] = []
            worker = threading.Thread(target=burst, args=(sandbox, failures))
            worker.start()
            assert wait_until(lambda: count(engine, EventRecord) >= KILL_AFTER_EVENTS, 30)
            hub.send_signal(signal.SIGKILL)
            hub.wait(10)
            assert worker.is_alive(), "the burst ended before the kill: raise CYCLES"
            hub = start_hub(config, log)
            worker.join(120)
            assert not failures, failures
            assert sandbox.drained(60), f"backlog {sandbox.agent.parts.outbox.backlog()}"
            sent = sandbox.agent.parts.outbox.last_seq

        with session_factory(engine)() as db:
            seqs = sorted(db.scalars(select(EventRecord.seq)).all())
            distinct = db.scalar(select(func.count(func.distinct(EventRecord.event_id))))
            sessions = db.scalars(select(MachineSession)).all()
        assert seqs == list(range(1, sent + 1)), "an event is missing or recorded twice"
        assert distinct == sent
        assert len(sessions) == CYCLES
        assert all(s.end_reason == "badge_out" for s in sessions)
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(15) == 0, log.read_text()
        engine.dispose()
