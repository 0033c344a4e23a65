"""The demo's cooperative: the pôle numérique of the ateliers Dony and a dozen occupants.

Seeded into the hub's registry from a random seed, so each run of the demo with the same seed
has the same artisans, badges and qualifications; the numbers are valid Belgian ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hub.registry import service

SITE = "dony"
SITE_NAME = "Ateliers Dony, pôle numérique"


@dataclass(frozen=True)
class DemoMachine:
    machine_id: str
    name: str
    kind: str


MACHINES = (
    DemoMachine("cnc-1", "Fraiseuse CNC", "cnc_mill"),
    DemoMachine("laser-1", "Découpe laser CO2", "laser_cutter"),
    DemoMachine("printer-1", "Imprimante 3D n°1", "printer_3d"),
    DemoMachine("printer-2", "Imprimante 3D n°2", "printer_3d"),
    DemoMachine("printer-3", "Imprimante 3D n°3", "printer_3d"),
)

# (workshop, category, artisans); category is how billing will treat the occupant.
OCCUPANTS = (
    ("Bois Vif", "resident_artisan", ("Alice Lambert", "Hugo Delvaux")),
    ("Terre & Feu", "resident_artisan", ("Bruno Dethier",)),
    ("Fil d'Ourthe", "resident_artisan", ("Chloé Marchal", "Inès Dumont")),
    ("Forge du Longdoz", "resident_artisan", ("Didier Renard",)),
    ("Atelier Outremeuse", "cooperative_member", ("Émile Collard",)),
    ("Céramiques Sainte-Marguerite", "resident_artisan", ("Fanny Leclercq",)),
    ("Luminaires Saint-Léonard", "resident_artisan", ("Gaspard Hennen", "Julie Pirard")),
    ("Verrerie de la Dérivation", "resident_artisan", ("Karim Benali",)),
    ("Cuir & Sellerie Féronstrée", "cooperative_member", ("Laura Gilson",)),
    ("Typographie du Carré", "resident_artisan", ("Mathieu Lejeune",)),
    ("Meubles Vennes", "external", ("Nadia Bodart",)),
    ("Dynamocoop", "cooperative_member", ("Marc Piron",)),
)
MAINTAINER = "Marc Piron"
NOT_QUALIFIED_ON_LASER = "Didier Renard"
EXPIRED_ON_LASER = "Chloé Marchal"


@dataclass(frozen=True)
class Artisan:
    member_id: int
    name: str
    workshop: str
    badge_uid: str
    machines: tuple[str, ...]


def enterprise_number(rng: random.Random) -> str:
    """A valid Belgian enterprise number: 0 + 7 digits, then 97 minus their value mod 97."""
    number = rng.randrange(2_000_000, 9_999_999)  # after the leading 0 of current numbers
    return f"0{number:07d}{97 - number % 97:02d}"


def badge_uid(rng: random.Random) -> str:
    # Most cards in the workshop are 7-byte NTAGs (NXP's 0x04 manufacturer byte), some 4-byte.
    if rng.random() < 0.7:
        return "04" + "".join(f"{rng.randrange(256):02X}" for _ in range(6))
    return "".join(f"{rng.randrange(256):02X}" for _ in range(4))


def seed(session: Session, *, rng: random.Random, now: datetime | None = None) -> list[Artisan]:
    """Create the site, its machines and the cooperative; returns the artisans with badges."""
    now = now or datetime.now(UTC)
    service.create_site(session, site_id=SITE, name=SITE_NAME)
    for machine in MACHINES:
        service.create_machine(
            session,
            machine_id=machine.machine_id,
            site_id=SITE,
            name=machine.name,
            kind=machine.kind,
            device_id=machine.machine_id,
        )
    artisans = []
    for workshop, category, names in OCCUPANTS:
        number = enterprise_number(rng)
        organisation = service.create_organisation(
            session,
            name=workshop,
            category=category,
            enterprise_number=number,
            vat_number=f"BE{number}",
        )
        for name in names:
            artisans.append(
                _artisan(
                    session,
                    rng,
                    name=name,
                    workshop=workshop,
                    organisation_id=organisation.id,
                    now=now,
                )
            )
    session.flush()
    return artisans


def _artisan(
    session: Session,
    rng: random.Random,
    *,
    name: str,
    workshop: str,
    organisation_id: int,
    now: datetime,
) -> Artisan:
    member = service.create_member(session, name=name, organisation_id=organisation_id)
    uid = badge_uid(rng)
    service.enrol_badge(session, uid=uid, member_id=member.id, now=now)
    machines = _qualify(session, rng, name, member.id, now)
    return Artisan(member.id, name, workshop, uid, machines)


def _qualify(
    session: Session, rng: random.Random, name: str, member_id: int, now: datetime
) -> tuple[str, ...]:
    all_ids = [m.machine_id for m in MACHINES]
    if name == MAINTAINER:
        for machine_id in all_ids:
            service.grant_qualification(
                session,
                member_id=member_id,
                machine_id=machine_id,
                role="maintainer",
                granted_by="seed",
                now=now,
            )
        return tuple(all_ids)
    chosen = set(rng.sample(all_ids, rng.randint(1, 3))) | {"laser-1"}
    if name == NOT_QUALIFIED_ON_LASER:
        chosen.discard("laser-1")
    for machine_id in sorted(chosen):
        expires = (
            now - timedelta(days=3) if (name, machine_id) == (EXPIRED_ON_LASER, "laser-1") else None
        )
        service.grant_qualification(
            session,
            member_id=member_id,
            machine_id=machine_id,
            role="user",
            granted_by="seed",
            expires_at=expires,
            now=now,
        )
    return tuple(sorted(chosen))
