"""Two hub processes in one shared-subscription group over one database: each event once."""

from __future__ import annotations

from pathlib import Path

from hub.acl.keys import load_or_create_signing_key
from hub.db import make_engine
from hub.ledger.models import EventRecord, MachineSession
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE
from machinerie.servers import Mosquitto
from tests.hub_service.conftest import count, edge, seed
from tests.hub_service.test_kill import start_hub

CYCLES = 20


def replica_config(folder: Path, database_url: str, port: int, name: str) -> Path:
    # One data folder (same signing key and broker password), one client id each, one group.
    path = folder / f"{name}.toml"
    path.write_text(
        f'data_dir = "{folder / "hub"}"\ndatabase_url = "{database_url}"\n'
        f'[mqtt]\nport = {port}\nclient_id = "hub-{name}"\ngroup = "hubs"\n'
    )
    return path


def test_two_hub_processes_in_one_group_record_each_event_once(
    tmp_path: Path, mosquitto: Mosquitto, postgres_url: str
) -> None:
    seed(postgres_url)
    keys = load_or_create_signing_key(tmp_path / "hub")
    engine = make_engine(postgres_url)
    replicas = [
        start_hub(
            replica_config(tmp_path, postgres_url, mosquitto.port, name), tmp_path / f"{name}.log"
        )
        for name in ("a", "b")
    ]
    try:
        with edge(tmp_path, mosquitto.port, keys) as sandbox:
            assert wait_until(lambda: sandbox.acl_version() is not None, 20)
            for _ in range(CYCLES):
                sandbox.badge(ALICE.uid)
                sandbox.wait_relay(True)
                sandbox.badge(ALICE.uid)
                sandbox.wait_relay(False)
            assert sandbox.drained(30), "the replicas never acked everything"
            sent = sandbox.agent.parts.outbox.last_seq
        assert count(engine, EventRecord) == sent
        assert count(engine, MachineSession) == CYCLES
        logs = [(tmp_path / f"{name}.log").read_text() for name in ("a", "b")]
        assert all("connected" in log for log in logs), logs
    finally:
        for replica in replicas:
            replica.terminate()
            replica.wait(15)
        engine.dispose()
