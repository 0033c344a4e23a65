"""A site set up as docs/hub.md says: the shipped broker config, device accounts, the hub.

Badge at the simulated reader, the edge agent logged in with its own broker account, Mosquitto
with the shipped tuning and per-device ACL, the hub's ingest, the ledger, the usage table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from contracts.signing import KeyPair
from edge.agent import Agent
from edge.app import build
from edge.hw.simreader import SimulatedReader
from hub.cli import app
from hub.devices import BrokerFiles, add_device, write_broker_files
from hub.service import Hub
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, DEVICE, agent_config
from machinerie.servers import Mosquitto
from tests.hub_service.conftest import hub_settings, seed

SHIPPED = Path(__file__).parents[2] / "deploy" / "mosquitto" / "machinerie.conf"
# Lines naming this host's paths and port; the test broker supplies its own.
PER_HOST = ("listener", "persistence_location", "password_file", "acl_file")


def shipped_config(files: BrokerFiles) -> str:
    lines = SHIPPED.read_text().splitlines()
    kept = [line for line in lines if line.strip() and not line.startswith(("#", *PER_HOST))]
    return "\n".join([*kept, f"password_file {files.passwd}", f"acl_file {files.acl}"]) + "\n"


@contextmanager
def agent(folder: Path, port: int, keys: KeyPair, password: str) -> Iterator[Agent]:
    config = agent_config(folder, port, keys)
    folder.mkdir(parents=True, exist_ok=True)
    password_file = folder / "mqtt-password"
    password_file.write_text(password + "\n")
    mqtt = config.mqtt.model_copy(update={"username": DEVICE, "password_file": password_file})
    running = build(config.model_copy(update={"mqtt": mqtt}))
    stop = threading.Event()
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert running.ready.wait(15)
        yield running
    finally:
        stop.set()
        thread.join(15)


def test_badge_to_usage_through_the_shipped_broker_config(tmp_path: Path, sqlite_url: str) -> None:
    seed(sqlite_url)
    data_dir = tmp_path / "hub"
    _, password = add_device(data_dir, DEVICE, site="dony", machine_id=DEVICE)
    files = write_broker_files(data_dir, tmp_path / "broker")
    with (
        Mosquitto(extra=shipped_config(files)) as broker,
        Hub(hub_settings(tmp_path, sqlite_url, broker.port)) as hub,
        agent(tmp_path / "pi", broker.port, hub.keys, password) as edge,
    ):
        assert wait_until(lambda: edge.parts.acl.index is not None, 10), "no signed access list"
        reader = edge.parts.reader
        assert isinstance(reader, SimulatedReader)
        reader.present(ALICE.uid)
        assert wait_until(lambda: edge.parts.power.is_on, 5)
        reader.present(ALICE.uid)
        assert wait_until(lambda: not edge.parts.power.is_on, 5)
        assert wait_until(lambda: edge.parts.outbox.backlog() == 0, 10), "the hub never acked"
    result = CliRunner().invoke(
        app,
        ["usage", "--month", _this_month(), "--data-dir", str(data_dir)],
        env={"COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    assert "Alice Lambert" in result.output


def _this_month() -> str:
    return f"{datetime.now(ZoneInfo('Europe/Brussels')):%Y-%m}"
