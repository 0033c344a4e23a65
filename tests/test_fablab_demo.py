"""The README's first command: the whole workshop for 60 s at high speed, usage = ledger, and
the month billed: gapless invoices that add up to their drafts and pass the Peppol rules."""

from __future__ import annotations

import json
import logging
import zipfile
from decimal import Decimal
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import func, select

from hub.billing.models import BillingDocument, DocumentStatus, InvoicedSession
from hub.billing.validation import fatal, not_applicable, rules
from hub.db import make_engine, session_factory
from hub.devices.models import DeviceStatus
from hub.ledger.models import EventRecord, MachineSession
from machinerie.ackhub import wait_until
from machinerie.billing_demo import PRIVATE_PERSON, MonthBilling
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
    text = console.export_text()
    assert "usage total matches the ledger: True" in text
    engine = make_engine(f"sqlite:///{tmp_path / 'hub' / 'hub.db'}")
    with session_factory(engine)() as session:
        denied = session.scalars(
            select(EventRecord.payload).where(EventRecord.type == "access_denied")
        )
        reasons = {json.loads(payload)["data"]["reason"] for payload in denied}
        closed = session.scalar(
            select(func.count()).where(MachineSession.badge_seconds.is_not(None))
        )
        settled = session.scalar(select(func.count()).select_from(InvoicedSession))
        laser_busy_s = session.scalar(
            select(func.coalesce(func.sum(MachineSession.busy_seconds), 0)).where(
                MachineSession.machine_id == "laser-1"
            )
        )
        issued_cents = session.scalar(
            select(func.sum(BillingDocument.payable_cents)).where(
                BillingDocument.status == DocumentStatus.ISSUED
            )
        )
    engine.dispose()
    assert {"unknown_badge", "not_qualified", "expired"} <= reasons
    # Maintenance: the shipped plans on every machine, counted from the day's busy time.
    assert "Maintenance counters" in text
    tube = next(line for line in text.splitlines() if "laser tube" in line)
    assert f"{int(laser_busy_s or 0) / 3600:.2f}" in tube, tube
    assert "maintenance alerts raised: " in text

    billing = outcome.billing
    assert billing is not None, text
    assert_gapless(billing)
    assert billing.payable == billing.drafted_payable > 0
    assert Decimal(issued_cents or 0) / 100 == billing.drafted_payable
    assert settled == closed, "every session of the day is on an invoice or settled as free"
    assert_accountant_zip(billing)
    assert billing.numbers[-1] in text and str(billing.zip_path) in text
    # The private person is billed in person, reached by e-mail rather than on Peppol.
    (private,) = (doc for doc in billing.documents if doc.buyer.name == PRIVATE_PERSON.name)
    assert private.buyer.endpoint_scheme == "EM"
    assert private.buyer.endpoint_id == PRIVATE_PERSON.email


def assert_gapless(billing: MonthBilling) -> None:
    assert len(billing.documents) >= 8, "most of the cooperative has something to pay"
    (issued_on,) = {doc.issue_date for doc in billing.documents}
    assert issued_on is not None
    expected = [f"F{issued_on.year}-{n:06d}" for n in range(1, len(billing.documents) + 1)]
    assert billing.numbers == expected


def assert_accountant_zip(billing: MonthBilling) -> None:
    with zipfile.ZipFile(billing.zip_path) as archive:
        names = set(archive.namelist())
        ubl = {name for name in names if name.startswith("ubl/")}
        assert ubl == {f"ubl/{number}.xml" for number in billing.numbers}
        assert {f"pdf/{number}.pdf" for number in billing.numbers} <= names
        assert {"journal.csv", "documents.csv"} <= names
        for doc in billing.documents:
            findings = rules().check(archive.read(f"ubl/{doc.number}.xml"))
            assert fatal(findings, waive=not_applicable(doc)) == [], doc.number


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
            # The console's device page: every machine's edge online, its controller named.
            assert wait_until(lambda: len(_identified(lab)) == len(machines.json()), 15)
            assert "Grbl" in _identified(lab)["cnc-1"] and "Marlin" in _identified(lab)["printer-1"]
            assert "machinerie_device_messages_rejected_total{" not in lab.hub.metrics.render()
        finally:
            lab.stop()


def _identified(lab: Fablab) -> dict[str, str]:
    """The devices the hub has seen online, with the firmware their controller reported."""
    with lab.hub.sessions() as db:
        rows = db.scalars(select(DeviceStatus).where(DeviceStatus.online)).all()
        return {row.machine_id: row.firmware or "" for row in rows if row.firmware}
