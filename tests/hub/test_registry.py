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
from hub.registry.models import OrganisationCategory, VatRegime
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


def test_billing_details_are_stored_in_canonical_form(db: Session) -> None:
    org = service.create_organisation(
        db,
        name="Atelier Ada",
        category="resident_artisan",
        enterprise_number="0403.170.701",
        vat_number="BE 0403.170.701",
        street=" Rue de la Brasserie 12 ",
        postcode="4000",
        city="Liège",
        country="be",
        billing_email="Compta@Atelier-Ada.be",
        vat_regime="reverse_charge",
        buyer_reference="ADA-2026",
    )
    db.commit()
    db.expire_all()
    assert (org.street, org.postcode, org.city, org.country) == (
        "Rue de la Brasserie 12",
        "4000",
        "Liège",
        "BE",
    )
    assert (org.billing_email, org.vat_regime, org.buyer_reference) == (
        "compta@atelier-ada.be",
        VatRegime.REVERSE_CHARGE,
        "ADA-2026",
    )
    # No override: billing derives the Peppol endpoint (0208 + enterprise number) itself.
    assert (org.peppol_scheme, org.peppol_id) == (None, None)


def test_billing_details_default_to_a_belgian_standard_rated_buyer(db: Session) -> None:
    org = service.create_organisation(db, name="Jean Dupont", category="training")
    member = service.create_member(db, name="Jean")
    db.commit()
    assert (org.country, org.vat_regime, org.street, org.billing_email) == (
        "BE",
        VatRegime.STANDARD,
        None,
        None,
    )
    assert (member.country, member.street, member.postcode, member.city) == ("BE", None, None, None)


@pytest.mark.parametrize("country", ["BEL", "B", "B1", "", "  ", "ÉS", "B\x00"])
def test_an_unknown_country_code_is_refused(db: Session, country: str) -> None:
    with pytest.raises(Invalid, match="country code"):
        service.create_organisation(db, name="X", category="external", country=country)
    with pytest.raises(Invalid, match="country code"):
        service.create_member(db, name="X", country=country)


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        ({"billing_email": "compta-at-ada"}, "e-mail"),
        ({"vat_regime": "zero"}, "VAT regime"),
        ({"vat_regime": "reverse_charge"}, "VAT number"),
        ({"peppol_scheme": "208"}, "EAS"),
        ({"peppol_id": "0403170701"}, "scheme"),
        ({"peppol_scheme": "0208"}, "Peppol id"),  # and no enterprise number to fall back on
        ({"peppol_scheme": "0208", "peppol_id": "0403170702"}, "enterprise number"),
        ({"peppol_scheme": "0088", "peppol_id": "not an id"}, "participant id"),
        ({"street": "x" * 201}, "street"),
        ({"city": "Li\x00ge"}, "city"),
    ],
)
def test_inconsistent_billing_details_are_refused(
    db: Session, details: dict[str, str], reason: str
) -> None:
    with pytest.raises(Invalid, match=reason):
        service.create_organisation(db, name="X", category="external", **details)


def test_a_peppol_endpoint_override_is_checked_per_scheme(db: Session) -> None:
    by_email = service.create_organisation(
        db, name="A", category="external", peppol_scheme="em", peppol_id="Ada@Example.org"
    )
    by_vat = service.create_organisation(
        db, name="B", category="external", peppol_scheme="9925", peppol_id="be 0428.759.497"
    )
    other = service.create_organisation(
        db, name="C", category="external", peppol_scheme="0088", peppol_id="5798000000001"
    )
    assert (by_email.peppol_scheme, by_email.peppol_id) == ("EM", "ada@example.org")
    assert (by_vat.peppol_scheme, by_vat.peppol_id) == ("9925", "BE0428759497")
    assert (other.peppol_scheme, other.peppol_id) == ("0088", "5798000000001")


def test_billing_details_change_without_touching_access_lists(db: Session) -> None:
    org = service.create_organisation(
        db, name="Atelier", category="external", vat_number="BE0403170701", city="Liège"
    )
    member = service.create_member(db, name="Ada", email="ada@example.org")
    db.commit()
    version = acl_version(db)

    service.update_organisation_billing(
        db, organisation_id=org.id, country="NL", vat_regime="reverse_charge", city=None
    )
    service.update_member_address(db, member_id=member.id, street="Quai de la Batte 1")
    db.commit()
    assert (org.country, org.vat_regime, org.city, org.name) == (
        "NL",
        VatRegime.REVERSE_CHARGE,
        None,
        "Atelier",
    )
    assert (member.street, member.country) == ("Quai de la Batte 1", "BE")
    assert acl_version(db) == version

    # A refused change leaves every detail as it was.
    with pytest.raises(Invalid):
        service.update_organisation_billing(db, organisation_id=org.id, city="Gent", country="X")
    assert (org.city, org.country) == (None, "NL")
    with pytest.raises(NotFound):
        service.update_organisation_billing(db, organisation_id=999, city="Gent")
    with pytest.raises(NotFound):
        service.update_member_address(db, member_id=999, city="Gent")


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
