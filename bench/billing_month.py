"""A month of billing: 100,000 sessions for 500 organisations priced, invoiced, exported.

Run: `.venv/bin/python -m bench.billing_month [--orgs 500] [--sessions 100000] [--small 10000]`.
For each size, a fresh SQLite hub database (the embedded default) is seeded with the month's
closed sessions and a price list (not timed); then the timed part does what the accountant does:
draft the month (`billing run`), issue every invoice (numbers, UBL, seals: `billing issue`), and
export the UBL files and the sales journal CSV. Checking drafts against the Peppol rules and
rendering PDFs are timed apart (`validate_s`, `pdf_s`), as they cost per document, not per session.
The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from hub.billing import catalog, exports, service
from hub.billing.catalog import TariffSpec
from hub.billing.models import DocumentStatus, TariffBasis
from hub.billing.pdf import render_pdf
from hub.billing.settings import BillingSettings
from hub.db import make_engine, migrate, session_factory
from hub.ledger.models import MachineSession
from hub.registry.models import Machine, MachineKind, Member, Organisation, Site
from hub.registry.numbers import member_ref

log = logging.getLogger("bench.billing_month")
MONTH = "2026-11"
NOW = datetime(2026, 12, 2, 8, tzinfo=UTC)
MACHINES = [
    ("laser-1", MachineKind.LASER_CUTTER),
    ("laser-2", MachineKind.LASER_CUTTER),
    ("mill-1", MachineKind.CNC_MILL),
    ("printer-1", MachineKind.PRINTER_3D),
    ("printer-2", MachineKind.PRINTER_3D),
    ("printer-3", MachineKind.PRINTER_3D),
]


def enterprise(base8: int) -> str:
    return f"{base8:08d}{97 - base8 % 97:02d}"


def seed(sessions: sessionmaker[Session], *, orgs: int, count: int, seed_value: int) -> None:
    rng = random.Random(seed_value)
    with sessions.begin() as db:
        db.add(Site(id="dony", name="Ateliers Dony", timezone="Europe/Brussels"))
        db.flush()  # rows without ORM relationships are inserted in no particular order
        for machine_id, kind in MACHINES:
            db.add(Machine(id=machine_id, site_id="dony", name=machine_id.title(), kind=kind))
        db.flush()
        for i in range(1, orgs + 1):
            number = enterprise(4_000_000 + i)
            db.add(
                Organisation(
                    id=i,
                    name=f"Atelier {i:03d}",
                    enterprise_number=number,
                    vat_number="BE" + number,
                    category="resident_artisan",
                    street="Rue Dony 1",
                    postcode="4000",
                    city="Liège",
                    country="BE",
                )
            )
        db.flush()
        members = []
        for i in range(1, orgs * 2 + 1):
            db.add(Member(id=i, name=f"Artisan {i}", organisation_id=(i - 1) // 2 + 1, active=True))
            members.append(member_ref(i))
        for spec in price_list():
            catalog.add_tariff(db, spec, now=NOW)
    rows = []
    start = datetime(2026, 11, 1, 7, tzinfo=UTC)
    for _ in range(count):
        machine_id, kind = rng.choice(MACHINES)
        began = start + timedelta(seconds=rng.randrange(29 * 86400))
        badge = rng.randrange(60, 4 * 3600)
        measured = kind is not MachineKind.PRINTER_3D
        rows.append(
            {
                "session_id": uuid.UUID(int=rng.getrandbits(128)),
                "site": "dony",
                "machine_id": machine_id,
                "device_id": machine_id + "-pi",
                "member_id": rng.choice(members),
                "badge_uid": "04A2246AB12C80",
                "role": "user",
                "started_at": began,
                "ended_at": began + timedelta(seconds=badge),
                "end_reason": "badge_out",
                "unclean": False,
                "badge_seconds": badge,
                "busy_seconds": rng.randrange(0, badge) if measured else None,
                "energy_wh": round(rng.uniform(0, 3000), 1)
                if kind is MachineKind.CNC_MILL
                else None,
            }
        )
    with sessions.begin() as db:
        for chunk in range(0, len(rows), 5000):
            db.execute(insert(MachineSession), rows[chunk : chunk + 5000])


def price_list() -> list[TariffSpec]:
    first = date(2026, 1, 1)
    return [
        TariffSpec(
            name="Laser",
            machine_kind=MachineKind.LASER_CUTTER,
            valid_from=first,
            basis=TariffBasis.BUSY,
            hourly_price=Decimal("25.00"),
            minimum_s=300,
            idle_hourly_price=Decimal("6.00"),
            session_fee=Decimal("1.50"),
        ),
        TariffSpec(
            name="Laser from the 16th",
            machine_kind=MachineKind.LASER_CUTTER,
            valid_from=date(2026, 11, 16),
            basis=TariffBasis.BUSY,
            hourly_price=Decimal("27.50"),
            minimum_s=300,
            idle_hourly_price=Decimal("6.00"),
            session_fee=Decimal("1.50"),
        ),
        TariffSpec(
            name="CNC",
            machine_kind=MachineKind.CNC_MILL,
            valid_from=first,
            basis=TariffBasis.BUSY,
            hourly_price=Decimal("40.00"),
            increment_s=900,
            energy_kwh_price=Decimal("0.35"),
            monthly_cap=Decimal("400.00"),
        ),
        TariffSpec(
            name="3D",
            machine_kind=MachineKind.PRINTER_3D,
            valid_from=first,
            hourly_price=Decimal("2.00"),
            increment_s=3600,
        ),
    ]


def timed(label: str, action: Any) -> tuple[Any, float]:
    began = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - began
    log.info("%s: %.3f s", label, seconds)
    return result, seconds


def one_month(folder: Path, *, orgs: int, count: int) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{folder / 'hub.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    _, seed_s = timed(
        f"seed {count} sessions", lambda: seed(sessions, orgs=orgs, count=count, seed_value=count)
    )
    settings = BillingSettings(validate_drafts=False)
    run, draft_s = timed("draft", lambda: service.draft_month(sessions, MONTH, settings, now=NOW))
    numbers, issue_s = timed(
        "issue",
        lambda: service.issue_month(sessions, MONTH, settings, today=date(2026, 12, 2), now=NOW),
    )
    data, export_s = timed("export UBL + journal", lambda: export(sessions, settings))
    with sessions() as db:
        rows = service.documents(db, month=MONTH, status=DocumentStatus.ISSUED)
        docs = [service.document_of(r) for r in rows]
    _, validate_s = timed("validate", lambda: service.check_rules(docs))
    _, pdf_s = timed("pdf", lambda: [render_pdf(d) for d in docs])
    engine.dispose()
    billed = sum((d.totals().payable for d in docs), Decimal(0))
    assert len(numbers) == len(docs) == len(run.drafts)
    return {
        "sessions": count,
        "invoices": len(numbers),
        "seconds": draft_s + issue_s + export_s,
        "draft_s": round(draft_s, 3),
        "issue_s": round(issue_s, 3),
        "export_s": round(export_s, 3),
        "validate_s": round(validate_s, 3),
        "pdf_s": round(pdf_s, 3),
        "seed_s": round(seed_s, 3),
        "zip_bytes": len(data),
        "billed_eur": str(billed),
    }


def export(sessions: sessionmaker[Session], settings: BillingSettings) -> bytes:
    """The UBL files and the journal CSV, zipped: what the accountant imports."""
    with sessions() as db:
        rows = service.documents(db, month=MONTH, status=DocumentStatus.ISSUED)
        journal = exports.journal(rows, settings.accounts, "generic")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for row in rows:
                assert row.ubl is not None
                archive.writestr(f"ubl/{row.number}.xml", row.ubl)
            archive.writestr("journal.csv", journal)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    results = {}
    for count in (args.small, args.sessions):
        with tempfile.TemporaryDirectory(prefix="machinerie-bench-") as folder:
            results[count] = one_month(Path(folder), orgs=args.orgs, count=count)
            log.info("%s", results[count])
    big, small = results[args.sessions], results[args.small]
    print(
        json.dumps(
            {
                "seconds_100k": round(big["seconds"], 3),
                "seconds_10k": round(small["seconds"], 3),
                "scaling_ratio": round(big["seconds"] / small["seconds"], 2),
                "organisations": args.orgs,
                "invoices_100k": big["invoices"],
                "draft_s_100k": big["draft_s"],
                "issue_s_100k": big["issue_s"],
                "export_s_100k": big["export_s"],
                "validate_s_per_invoice": round(big["validate_s"] / big["invoices"], 4),
                "pdf_s_per_invoice": round(big["pdf_s"] / big["invoices"], 4),
                "billed_eur_100k": big["billed_eur"],
            }
        )
    )


if __name__ == "__main__":
    main()
