"""A small cooperative to bill: machines, occupants of every VAT kind, a price list, sessions.

Sessions go straight into the ledger's table, as the ingest leaves them; how they get there is
the ingest's tests' business.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy.orm import Session

from hub.billing import catalog
from hub.billing.catalog import TariffSpec
from hub.billing.models import TariffBasis
from hub.ledger.models import MachineSession
from hub.registry import service
from hub.registry.models import MachineKind
from hub.registry.numbers import member_ref

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def enterprise(base8: int) -> str:
    """A valid Belgian enterprise number from 8 digits (check digits: 97 - base % 97)."""
    return f"{base8:08d}{97 - base8 % 97:02d}"


@dataclass
class World:
    members: dict[str, int] = field(default_factory=dict)  # name -> registry id
    orgs: dict[str, int] = field(default_factory=dict)

    def ref(self, name: str) -> str:
        return member_ref(self.members[name])


def build(db: Session) -> World:
    world = World()
    service.create_site(db, site_id="dony", name="Ateliers Dony")
    for machine_id, name, kind in (
        ("laser-1", "Laser Trotec", "laser_cutter"),
        ("mill-1", "Fraiseuse CNC", "cnc_mill"),
        ("printer-1", "Prusa MK4", "printer_3d"),
    ):
        service.create_machine(db, machine_id=machine_id, site_id="dony", name=name, kind=kind)
    orgs = {
        "bois": dict(
            name="Atelier Bois SRL", category="resident_artisan", n=4031707, regime="standard"
        ),
        "ceram": dict(
            name="Céramique & Cie", category="cooperative_member", n=7654321, regime="standard"
        ),
        "nord": dict(
            name="Nordic Design AB", category="external", n=1234567, regime="reverse_charge"
        ),
        "ecole": dict(name="École du Bois ASBL", category="training", n=8765432, regime="exempt"),
    }
    for key, o in orgs.items():
        number = enterprise(int(str(o["n"])))
        row = service.create_organisation(
            db,
            name=str(o["name"]),
            category=str(o["category"]),
            enterprise_number=number,
            vat_number="BE" + number,
            street="Rue Dony 1",
            postcode="4000",
            city="Liège",
            billing_email=f"compta@{key}.example",
            vat_regime=str(o["regime"]),
        )
        world.orgs[key] = row.id
    for name, org in (
        ("alice", "bois"),
        ("bruno", "bois"),
        ("chloe", "ceram"),
        ("nils", "nord"),
        ("eva", "ecole"),
    ):
        world.members[name] = service.create_member(
            db, name=name.capitalize(), email=f"{name}@example.org", organisation_id=world.orgs[org]
        ).id
    world.members["pat"] = service.create_member(
        db,
        name="Pat Particulier",
        email="pat@example.org",
        street="Quai de la Dérivation 3",
        postcode="4020",
        city="Liège",
    ).id
    db.commit()
    return world


def price_list(db: Session) -> None:
    """Laser and mill on busy time, printers on badge time; laser prices change on 15 November."""
    laser = TariffSpec(
        name="Laser",
        machine_kind=MachineKind.LASER_CUTTER,
        valid_from=date(2026, 1, 1),
        basis=TariffBasis.BUSY,
        hourly_price=Decimal("25.00"),
        increment_s=60,
        minimum_s=300,
        idle_hourly_price=Decimal("6.00"),
        session_fee=Decimal("1.50"),
        account="700100",
    )
    new_laser_price = {
        "name": "Laser 2026-11-15",
        "valid_from": date(2026, 11, 15),
        "hourly_price": Decimal("30.00"),
    }
    for spec in (
        laser,
        laser.model_copy(update=new_laser_price),
        TariffSpec(
            name="CNC",
            machine_kind=MachineKind.CNC_MILL,
            valid_from=date(2026, 1, 1),
            basis=TariffBasis.BUSY,
            hourly_price=Decimal("40.00"),
            increment_s=900,
            energy_kwh_price=Decimal("0.35"),
            monthly_cap=Decimal("200.00"),
            account="700200",
        ),
        TariffSpec(
            name="Impression 3D",
            machine_kind=MachineKind.PRINTER_3D,
            valid_from=date(2026, 1, 1),
            hourly_price=Decimal("2.00"),
            increment_s=3600,
            vat_percent=Decimal(6),
            account="700300",
        ),
    ):
        catalog.add_tariff(db, spec, now=NOW)
    db.commit()


def session(
    db: Session,
    world: World,
    who: str,
    machine: str,
    start: datetime,
    *,
    minutes: float,
    busy_minutes: float | None = None,
    energy_wh: float | None = None,
    role: str = "user",
) -> UUID:
    ident = uuid.uuid4()
    seconds = round(minutes * 60)
    db.add(
        MachineSession(
            session_id=ident,
            site="dony",
            machine_id=machine,
            device_id=f"{machine}-pi",
            member_id=world.ref(who),
            badge_uid="04A2246AB12C80",
            role=role,
            started_at=start,
            ended_at=start + timedelta(seconds=seconds),
            end_reason="badge_out",
            badge_seconds=seconds,
            busy_seconds=None if busy_minutes is None else round(busy_minutes * 60),
            energy_wh=energy_wh,
        )
    )
    db.commit()
    return ident


def november(db: Session, world: World) -> None:
    """A month of use across every buyer, VAT case and tariff, both sides of the price change."""
    day = datetime(2026, 11, 3, 9, tzinfo=UTC)
    session(db, world, "alice", "laser-1", day, minutes=95, busy_minutes=61.5)
    session(db, world, "alice", "laser-1", day + timedelta(days=14), minutes=30, busy_minutes=12)
    session(
        db,
        world,
        "bruno",
        "mill-1",
        day + timedelta(days=1),
        minutes=200,
        busy_minutes=190,
        energy_wh=4321.7,
    )
    session(db, world, "bruno", "mill-1", day + timedelta(days=8), minutes=250, busy_minutes=240)
    session(db, world, "bruno", "printer-1", day + timedelta(days=2), minutes=185)
    session(db, world, "chloe", "printer-1", day + timedelta(days=3), minutes=61)
    session(db, world, "chloe", "laser-1", day + timedelta(days=4), minutes=20)  # unmeasured
    session(db, world, "nils", "laser-1", day + timedelta(days=5), minutes=45, busy_minutes=30)
    session(db, world, "eva", "mill-1", day + timedelta(days=6), minutes=60, busy_minutes=50)
    session(db, world, "pat", "printer-1", day + timedelta(days=7), minutes=300)
    session(db, world, "alice", "laser-1", day + timedelta(days=9), minutes=15, role="maintainer")
