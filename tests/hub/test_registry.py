"""Registry behaviour a fablab manager relies on: valid numbers, badges, qualifications, lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from contracts.models import AccessEntry, Role
from hub.errors import Conflict, Invalid, NotFound
from hub.ledger.service import record_events
from hub.registry import service
from hub.registry.access import access_entries, acl_version
from hub.registry.models import OrganisationCategory
from hub.registry.sightings import recent_sightings
from tests.hub.factories import T0, denied, workshop

LATER = T0 + timedelta(days=1)


@pytest.mark.parametrize(
    ("given", "enterprise", "vat"),
    [
        ("0403.170.701", "0403170701", "BE0403170701"),
        ("BE 0428 759 497", "0428759497", "BE0428759497"),
        ("403019261", "0403019261", "BE0403019261"),
    ],
)
def test_belgian_numbers_are_stored_compact(
    db: Session, given: str, enterprise: str, vat: str
) -> None:
    org = service.create_organisation(
        db, name="Atelier", category="resident_artisan", enterprise_number=given, vat_number=given
    )
    db.commit()
    assert (org.enterprise_number, org.vat_number) == (enterprise, vat)
    assert org.category is OrganisationCategory.RESIDENT_ARTISAN


@pytest.mark.parametrize("bad", ["0403.170.702", "BE431150351", "12345", "BE04031707O1"])
def test_invalid_belgian_numbers_are_refused(db: Session, bad: str) -> None:
    with pytest.raises(Invalid):
        service.create_organisation(db, name="X", category="external", enterprise_number=bad)
    with pytest.raises(Invalid):
        service.create_organisation(db, name="X", category="external", vat_number=bad)


def test_private_persons_need_no_numbers_but_a_known_category(db: Session) -> None:
    org = service.create_organisation(db, name="Jean Dupont", category="training")
    assert org.enterprise_number is None and org.vat_number is None
    with pytest.raises(Invalid):
        service.create_organisation(db, name="X", category="friend")


def test_vat_must_belong_to_the_enterprise(db: Session) -> None:
    with pytest.raises(Invalid):
        service.create_organisation(
            db,
            name="X",
            category="external",
            enterprise_number="0403170701",
            vat_number="BE0428759497",
        )


def test_an_enterprise_is_registered_once(db: Session) -> None:
    service.create_organisation(db, name="A", category="external", enterprise_number="0403170701")
    with pytest.raises(Conflict):
        service.create_organisation(
            db, name="B", category="external", enterprise_number="BE0403.170.701"
        )
    db.commit()  # the savepoint kept the transaction usable


def test_email_is_unique_and_checked(db: Session) -> None:
    service.create_member(db, name="Ada", email="Ada@Example.org ")
    with pytest.raises(Conflict):
        service.create_member(db, name="Ada 2", email="ada@example.org")
    with pytest.raises(Invalid):
        service.create_member(db, name="Bob", email="bob-at-home")
    with pytest.raises(NotFound):
        service.create_member(db, name="Bob", organisation_id=999)


def test_a_badge_just_tapped_can_be_enrolled(db: Session) -> None:
    shop = workshop(db)
    record_events(db, [denied("04C0FFEE"), denied("04C0FFEE"), denied("0BADC0DE")], received_at=T0)
    db.commit()
    seen = recent_sightings(db, machine_id="laser-1")
    assert {(s.uid, s.count) for s in seen} == {("04C0FFEE", 2), ("0BADC0DE", 1)}

    badge = service.enrol_badge(db, uid="04:c0:ff:ee", member_id=shop.member_id, now=LATER)
    db.commit()
    assert badge.uid == "04C0FFEE"
    assert [s.uid for s in recent_sightings(db)] == ["0BADC0DE"]
    with pytest.raises(Conflict):
        service.enrol_badge(db, uid="04C0FFEE", member_id=shop.member_id)
    with pytest.raises(Invalid):
        service.enrol_badge(db, uid="not hex", member_id=shop.member_id)


def test_other_denials_are_not_sightings(db: Session) -> None:
    workshop(db)
    record_events(db, [denied("04A2246AB12C80", reason="not_qualified")], received_at=T0)
    assert recent_sightings(db) == []


def _roles(db: Session) -> list[AccessEntry]:
    return access_entries(db, machine_id="laser-1", now=LATER)


def test_access_list_follows_qualifications(db: Session) -> None:
    shop = workshop(db)
    ref = f"m-{shop.member_id:04d}"
    unqualified = AccessEntry(badge_uid=shop.badge_uid, member_id=ref, role=Role.NONE)
    assert access_entries(db, machine_id="laser-1", now=LATER) == [unqualified]

    expires = T0 + timedelta(hours=2)
    service.grant_qualification(
        db,
        member_id=shop.member_id,
        machine_id="laser-1",
        role=Role.USER,
        granted_by="supplier training",
        expires_at=expires,
        now=T0,
    )
    db.commit()
    # Past expiry the role stays, with its date: the edge then reports "expired".
    assert access_entries(db, machine_id="laser-1", now=LATER) == [
        AccessEntry(badge_uid=shop.badge_uid, member_id=ref, role=Role.USER, expires_at=expires)
    ]

    service.grant_qualification(
        db,
        member_id=shop.member_id,
        machine_id="laser-1",
        role="maintainer",
        granted_by=shop.member_id,
        now=T0 + timedelta(hours=3),
    )
    db.commit()
    [renewed] = access_entries(db, machine_id="laser-1", now=LATER)
    assert (renewed.role, renewed.expires_at) == (Role.MAINTAINER, None)

    service.revoke_qualification(db, member_id=shop.member_id, machine_id="laser-1", now=LATER)
    db.commit()
    assert access_entries(db, machine_id="laser-1", now=LATER) == [unqualified]
    with pytest.raises(NotFound):
        service.revoke_qualification(db, member_id=shop.member_id, machine_id="laser-1")


def test_inactive_members_and_badges_read_as_unknown(db: Session) -> None:
    shop = workshop(db)
    other = service.create_member(db, name="Grace")
    service.enrol_badge(db, uid="0AAA", member_id=other.id, now=T0)
    service.enrol_badge(db, uid="0BBB", member_id=other.id, now=T0)
    db.commit()
    assert [e.badge_uid for e in _roles(db)] == ["04A2246AB12C80", "0AAA", "0BBB"]

    service.set_badge_active(db, uid="0bbb", active=False)
    service.set_member_active(db, member_id=shop.member_id, active=False)
    db.commit()
    assert [e.badge_uid for e in _roles(db)] == ["0AAA"]


def test_no_role_none_grant_and_no_unknown_machine(db: Session) -> None:
    shop = workshop(db)
    with pytest.raises(Invalid):
        service.grant_qualification(
            db, member_id=shop.member_id, machine_id="laser-1", role=Role.NONE, granted_by="x"
        )
    with pytest.raises(NotFound):
        access_entries(db, machine_id="cnc-9", now=LATER)
    with pytest.raises(NotFound):
        service.create_machine(db, machine_id="cnc-9", site_id="nowhere", name="CNC")
    with pytest.raises(Invalid):
        service.create_site(db, site_id="kultura", name="Kultura", timezone="Mars/Olympus")


def test_acl_version_grows_with_every_registry_write(db: Session) -> None:
    versions = [acl_version(db)]
    shop = workshop(db)
    versions.append(acl_version(db))
    service.grant_qualification(
        db, member_id=shop.member_id, machine_id="laser-1", role="user", granted_by="x", now=T0
    )
    db.commit()
    versions.append(acl_version(db))
    service.set_badge_active(db, uid=shop.badge_uid, active=False)
    db.rollback()  # an abandoned change leaves the version where it was
    versions.append(acl_version(db))
    service.set_badge_active(db, uid=shop.badge_uid, active=False)
    db.commit()
    versions.append(acl_version(db))
    assert versions[0] == 1
    assert versions[1] > versions[0] and versions[2] > versions[1]
    assert versions[3] == versions[2] and versions[4] > versions[3]
