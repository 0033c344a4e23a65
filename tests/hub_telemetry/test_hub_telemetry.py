"""The hub's telemetry end to end: a real edge agent, broker, hub, ledger and store
(VictoriaMetrics). Machine samples and closed sessions reach the store; bad samples are counted
and lose nothing else; with the store away for a while the ledger and the edge are unaffected
and telemetry resumes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion

from contracts.codec import encode
from contracts.models import MachineState, Telemetry
from contracts.topics import Kind, topic
from hub.ledger.models import MachineSession
from hub.service import Hub
from hub.telemetry.sessions import CURSOR_FILE
from machinerie.ackhub import wait_until
from machinerie.sandbox import ALICE, DEVICE, SITE, Sandbox
from machinerie.servers import Mosquitto, VictoriaMetrics
from tests.hub_service.conftest import count, edge, hub_settings, seed

Series = list[dict[str, Any]]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"


def telemetry_settings(store: VictoriaMetrics) -> dict[str, Any]:
    return {"enabled": True, "url": store.url, "flush_interval_s": 0.2, "retry_max_s": 1.0}


def wait_series(store: VictoriaMetrics, name: str, predicate: Any, timeout: float = 20) -> Series:
    found: Series = []

    def ready() -> bool:
        nonlocal found
        found = store.export(name)
        return bool(predicate(found))

    assert wait_until(ready, timeout), f"{name}: {found}"
    return found


def session(sandbox: Sandbox, seconds: float) -> None:
    sandbox.badge(ALICE.uid)
    sandbox.wait_relay(True)
    time.sleep(seconds)
    sandbox.badge(ALICE.uid)
    sandbox.wait_relay(False)


def publisher(port: int) -> Client:
    client = Client(CallbackAPIVersion.VERSION2, client_id="test-device-telemetry")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def sample(**changes: Any) -> Telemetry:
    values: dict[str, Any] = {
        "site": SITE,
        "device_id": DEVICE,
        "machine_id": DEVICE,
        "time": datetime.now(UTC),
        "state": MachineState.RUNNING,
        "metrics": {"power_w": 812.5},
    }
    return Telemetry(**(values | changes))


def test_samples_and_sessions_reach_the_store_and_bad_samples_are_counted(
    tmp_path: Path, mosquitto: Mosquitto, victoria: VictoriaMetrics, sqlite_url: str
) -> None:
    seed(sqlite_url)
    settings = hub_settings(
        tmp_path, sqlite_url, mosquitto.port, telemetry=telemetry_settings(victoria)
    )
    with Hub(settings) as hub, edge(tmp_path, mosquitto.port, hub.keys) as sandbox:
        assert wait_until(lambda: sandbox.acl_version() == hub.acl.published_version, 10)
        assert hub.telemetry.feed is not None and hub.telemetry.feed.wait_subscribed(10)
        device = publisher(mosquitto.port)
        try:
            where = topic(SITE, DEVICE, Kind.TELEMETRY)
            device.publish(where, b"{not json")
            device.publish(where, encode(sample(device_id="someone-else")))
            device.publish(where, encode(sample())).wait_for_publish(5)
        finally:
            device.disconnect()
            device.loop_stop()
        session(sandbox, 1.2)

        power = wait_series(victoria, "machine_power_w", lambda s: s)
        assert power[0]["metric"]["machine_id"] == DEVICE
        assert power[0]["values"] == [812.5]
        state = wait_series(victoria, "machine_state_code", lambda s: s)
        assert state[0]["values"] == [2.0]
        badge = wait_series(victoria, "session_badge_s", lambda s: s)
        assert badge[0]["metric"]["organisation"] == "Bois Vif"
        assert badge[0]["values"][0] >= 1.0
        usage = wait_series(victoria, "usage_badge_s", lambda s: s)
        assert sum(sum(s["values"]) for s in usage) >= 1.0

        metrics = hub.metrics
        assert metrics.value("telemetry_rejected_total", reason="malformed") == 1
        assert metrics.value("telemetry_rejected_total", reason="forged") == 1
        assert metrics.value("telemetry_samples_total") == 1
        assert "machinerie_telemetry_points_buffered 0" in metrics.render()
        # The cursor is kept: a restarted hub does not export the session again.
        cursor = (tmp_path / "hub" / CURSOR_FILE).read_text().strip()
        assert int(cursor) > 0


def test_store_away_leaves_ledger_and_edge_alone_and_telemetry_resumes(
    tmp_path: Path, mosquitto: Mosquitto, victoria: VictoriaMetrics, sqlite_url: str
) -> None:
    seed(sqlite_url)
    settings = hub_settings(
        tmp_path, sqlite_url, mosquitto.port, telemetry=telemetry_settings(victoria)
    )
    with Hub(settings) as hub, edge(tmp_path, mosquitto.port, hub.keys) as sandbox:
        assert wait_until(lambda: sandbox.acl_version() == hub.acl.published_version, 10)
        session(sandbox, 0.3)
        wait_series(victoria, "session_badge_s", lambda s: len(s) == 1)
        victoria.stop()

        for _ in range(3):
            session(sandbox, 0.3)
        # The edge's events were acknowledged by the hub, store or no store.
        assert sandbox.drained(15), "the ledger waited on the telemetry store"
        assert count(hub.engine, MachineSession) == 4
        writer = hub.telemetry.writer
        assert writer is not None
        assert wait_until(lambda: writer.stats.failed_requests > 0, 10)

        victoria.start()
        series = wait_series(
            victoria, "session_badge_s", lambda s: sum(len(x["values"]) for x in s) == 4, 30
        )
        assert sum(len(x["values"]) for x in series) == 4
        assert writer.stats.dropped == 0
