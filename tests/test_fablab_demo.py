"""The README's first command: the whole workshop for 60 s at high speed, usage = ledger."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import select

from hub.db import make_engine, session_factory
from hub.ledger.models import EventRecord
from machinerie.fablab import Fablab, run
from machinerie.servers import EmbeddedBroker


def test_demo_day_usage_table_matches_the_ledger(tmp_path: Path) -> None:
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    console = Console(record=True, width=120)
    with EmbeddedBroker() as broker:
        outcome = run(console, tmp_path, broker.port, duration=60, speed=1200, seed_value=7)
    assert outcome.consistent, (
        outcome.events_sent,
        outcome.events_recorded,
        outcome.ledger_seconds,
    )
    assert outcome.events_sent > 50
    assert len(outcome.rows) >= 10, "most of the cooperative used a machine"
    assert "usage total matches the ledger: True" in console.export_text()
    engine = make_engine(f"sqlite:///{tmp_path / 'hub' / 'hub.db'}")
    with session_factory(engine)() as session:
        denied = session.scalars(
            select(EventRecord.payload).where(EventRecord.type == "access_denied")
        )
        reasons = {json.loads(payload)["data"]["reason"] for payload in denied}
    engine.dispose()
    assert {"unknown_badge", "not_qualified", "expired"} <= reasons


def test_demo_serves_the_api_while_it_runs(tmp_path: Path) -> None:
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    with EmbeddedBroker() as broker:
        lab = Fablab(tmp_path, broker.port, speed=600, seed_value=3, console=Console(record=True))
        try:
            lab.start()
            base = f"http://{lab.hub.settings.api.host}:{lab.hub.settings.api.port}"
            login = httpx.post(
                f"{base}/auth/login", json={"username": "manager", "password": lab.manager_password}
            )
            assert login.status_code == 200, login.text
            token = login.json()["access_token"]
            machines = httpx.get(f"{base}/machines", headers={"Authorization": f"Bearer {token}"})
            assert {m["id"] for m in machines.json()} >= {"cnc-1", "laser-1", "printer-3"}
        finally:
            lab.stop()
