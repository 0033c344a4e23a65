"""Registry routes: writes by managers, hub errors as 404/409/422, enrolling a sighted badge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from hub.api.models import UserRole
from hub.ledger.service import record_events
from hub.registry.sightings import Sighting, note_sightings
from tests.hub.factories import T0, denied, workshop
from tests.hub_api.conftest import Api


def test_a_workshop_is_built_through_the_api(api: Api) -> None:
    manager = api.as_role(UserRole.MANAGER)
    post = api.client.post
    assert post("/sites", json={"id": "dony", "name": "Dony"}, headers=manager).status_code == 201
    machine = {"id": "laser-1", "site_id": "dony", "name": "Trotec", "kind": "laser_cutter"}
    assert post("/machines", json=machine, headers=manager).status_code == 201
    organisation = post(
        "/organisations",
        json={
            "name": "Atelier Ada",
            "category": "resident_artisan",
            "vat_number": "BE 0403.170.701",
        },
        headers=manager,
    ).json()
    assert (organisation["enterprise_number"], organisation["vat_number"]) == (None, "BE0403170701")
    member = post(
        "/members",
        json={"name": "Ada", "email": "Ada@Example.org", "organisation_id": organisation["id"]},
        headers=manager,
    ).json()
    assert member["email"] == "ada@example.org"
    badge = post("/badges", json={"uid": "04:a2:24", "member_id": member["id"]}, headers=manager)
    assert badge.json()["uid"] == "04A224"
    grant = {"member_id": member["id"], "machine_id": "laser-1", "instructor": True}
    granted = post("/qualifications", json=grant, headers=manager).json()
    assert (granted["role"], granted["granted_by"]) == ("user", "user manager-0")
    revoked = post("/qualifications/revoke", json=grant, headers=manager).json()
    assert revoked["revoked_at"] is not None
    blocked = api.client.patch("/badges/04-A2-24", json={"active": False}, headers=manager)
    assert blocked.json()["active"] is False
    left = api.client.patch(f"/members/{member['id']}", json={"active": False}, headers=manager)
    assert left.json()["active"] is False
    assert len(api.registry_changes) == 9


def test_registry_change_is_signalled_only_after_committed_writes(api: Api) -> None:
    manager = api.as_role(UserRole.MANAGER)
    site = {"id": "dony", "name": "Dony"}
    api.client.post("/sites", json=site, headers=manager)
    assert api.registry_changes == [1]
    assert api.client.post("/sites", json=site, headers=manager).status_code == 409
    api.client.get("/sites", headers=manager)
    api.client.get("/sites/dony", headers=manager)
    assert api.registry_changes == [1]


def test_an_invalid_belgian_vat_number_is_a_readable_422(api: Api) -> None:
    manager = api.as_role(UserRole.MANAGER)
    body = {"name": "Typo BV", "category": "external", "vat_number": "BE 0403.170.702"}
    response = api.client.post("/organisations", json=body, headers=manager)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("'BE 0403.170.702' is not a valid Belgian VAT number")
    assert api.registry_changes == []


def test_duplicates_are_409(api: Api) -> None:
    manager = api.as_role(UserRole.MANAGER)
    body = {"name": "Atelier", "category": "external", "enterprise_number": "0403.170.701"}
    assert api.client.post("/organisations", json=body, headers=manager).status_code == 201
    again = api.client.post("/organisations", json=body, headers=manager)
    assert again.status_code == 409
    assert again.json() == {"detail": "enterprise 0403170701 is already registered"}


def test_unknown_ids_are_404(api: Api, db: Session) -> None:
    workshop(db)
    manager = api.as_role(UserRole.MANAGER)
    for path in ("/members/999", "/machines/nope", "/sites/nope", "/badges/FFFF"):
        response = api.client.get(path, headers=manager)
        assert response.status_code == 404, path
        assert response.json()["detail"].startswith("no ")
    orphan = api.client.post("/badges", json={"uid": "0A0B", "member_id": 999}, headers=manager)
    assert orphan.json() == {"detail": "no member 999"}
    machine = {"id": "mill", "site_id": "nowhere", "name": "Mill"}
    assert api.client.post("/machines", json=machine, headers=manager).status_code == 404
    revoke = {"member_id": 1, "machine_id": "laser-1"}
    assert (
        api.client.post("/qualifications/revoke", json=revoke, headers=manager).status_code == 404
    )


def test_bad_input_is_422_never_500(api: Api, db: Session) -> None:
    workshop(db)
    manager = api.as_role(UserRole.MANAGER)
    post = api.client.post
    bad = [
        ("/sites", {"id": "Dony!", "name": "Dony"}),
        ("/sites", {"id": "dony", "name": "Dony", "timezone": "Mars/Olympus"}),
        ("/sites", {"id": "dony", "name": "Do\u0000ny"}),
        ("/members", {"name": "Ada", "email": "not-an-address"}),
        ("/badges", {"uid": "not hex", "member_id": 1}),
        ("/qualifications", {"member_id": 1, "machine_id": "m", "expires_at": "2027-01-01T00:00"}),
        ("/qualifications", {"member_id": 2**40, "machine_id": "m"}),
    ]
    for path, body in bad:
        assert post(path, json=body, headers=manager).status_code == 422, body


def test_a_badge_seen_at_a_machine_is_enrolled(api: Api, db: Session) -> None:
    shop = workshop(db)
    record_events(db, [denied("04BBCCDD", time=T0)], received_at=T0)
    note_sightings(db, [Sighting("0A0B0C0D", "laser-1", "laser-1-pi", T0 + timedelta(minutes=1))])
    db.commit()
    manager = api.as_role(UserRole.MANAGER)
    seen = api.client.get("/badges/sightings", headers=manager).json()
    assert [(s["uid"], s["machine_id"], s["count"]) for s in seen] == [
        ("0A0B0C0D", "laser-1", 1),
        ("04BBCCDD", "laser-1", 1),
    ]
    body = {"member_id": shop.member_id}
    enrolled = api.client.post("/badges/sightings/04bbccdd/enrol", json=body, headers=manager)
    assert enrolled.status_code == 201
    assert enrolled.json()["member_id"] == shop.member_id
    assert api.registry_changes == [1]
    left = api.client.get("/badges/sightings?machine_id=laser-1", headers=manager).json()
    assert [s["uid"] for s in left] == ["0A0B0C0D"]
    never = api.client.post("/badges/sightings/ABCDEF/enrol", json=body, headers=manager)
    assert never.status_code == 404
    taken = api.client.post("/badges", json={"uid": "04BBCCDD", **body}, headers=manager)
    assert taken.status_code == 409


def test_each_role_reaches_only_its_part(api: Api, db: Session) -> None:
    shop = workshop(db)
    headers = {
        role: api.as_role(role, member_id=shop.member_id if role is UserRole.MEMBER else None)
        for role in UserRole
    }
    allowed = {
        ("GET", "/members"): {UserRole.MANAGER},
        ("GET", "/organisations"): {UserRole.MANAGER},
        ("GET", "/badges/sightings"): {UserRole.MANAGER},
        ("GET", "/machines"): {UserRole.MANAGER, UserRole.MAINTAINER},
        ("GET", "/qualifications"): {UserRole.MANAGER, UserRole.MAINTAINER},
        ("GET", "/usage?month=2026-11"): {UserRole.MANAGER, UserRole.ACCOUNTANT},
        ("GET", "/sessions?month=2026-11"): {
            UserRole.MANAGER,
            UserRole.ACCOUNTANT,
            UserRole.MAINTAINER,
        },
        ("GET", "/me/usage?month=2026-11"): {UserRole.MEMBER},
        ("GET", "/me/sessions?month=2026-11"): {UserRole.MEMBER},
        ("PATCH", f"/members/{shop.member_id}"): {UserRole.MANAGER},
        ("POST", "/auth/tokens"): {UserRole.MANAGER},
    }
    bodies = {"PATCH": {"active": True}, "POST": {"name": "x", "role": "accountant"}}
    for (method, path), roles in allowed.items():
        for role in UserRole:
            response = api.client.request(
                method, path, headers=headers[role], json=bodies.get(method)
            )
            expected = {"GET": 200, "PATCH": 200, "POST": 201}[method] if role in roles else 403
            assert response.status_code == expected, (role, method, path, response.text)


def test_billing_details_go_in_and_come_back(api: Api) -> None:
    manager = api.as_role(UserRole.MANAGER)
    body = {
        "name": "Atelier Ada",
        "category": "resident_artisan",
        "enterprise_number": "0403.170.701",
        "street": "Rue de la Brasserie 12",
        "postcode": "4000",
        "city": "Liège",
        "billing_email": "Compta@Atelier-Ada.be",
        "buyer_reference": "ADA-2026",
    }
    created = api.client.post("/organisations", json=body, headers=manager)
    assert created.status_code == 201, created.text
    organisation = created.json()
    assert {k: organisation[k] for k in ("country", "billing_email", "vat_regime")} == {
        "country": "BE",
        "billing_email": "compta@atelier-ada.be",
        "vat_regime": "standard",
    }
    changes = {"country": "nl", "city": None, "peppol_scheme": "0208"}
    patched = api.client.patch(
        f"/organisations/{organisation['id']}", json=changes, headers=manager
    )
    assert patched.status_code == 200, patched.text
    expected = {**organisation, "country": "NL", "city": None, "peppol_scheme": "0208"}
    assert patched.json() == expected
    assert api.client.get(f"/organisations/{organisation['id']}", headers=manager).json() == (
        expected
    )
    # Billing details are in no access list: nothing goes out to the machines.
    assert api.registry_changes == [1]


def test_a_member_billed_directly_has_an_address(api: Api) -> None:
    manager = api.as_role(UserRole.MANAGER)
    address = {"street": "Quai de la Batte 1", "postcode": "4020", "city": "Liège"}
    created = api.client.post("/members", json={"name": "Jean", **address}, headers=manager)
    assert created.status_code == 201, created.text
    member = created.json()
    assert {k: member[k] for k in (*address, "country")} == {**address, "country": "BE"}
    moved = api.client.patch(
        f"/members/{member['id']}", json={"city": "Herstal", "postcode": "4040"}, headers=manager
    )
    assert moved.json() == {**member, "city": "Herstal", "postcode": "4040"}
    assert api.registry_changes == [1]
    left = api.client.patch(f"/members/{member['id']}", json={"active": False}, headers=manager)
    assert left.json() == {**moved.json(), "active": False}
    assert api.registry_changes == [1, 1]


def test_bad_billing_details_are_a_readable_422(api: Api, db: Session) -> None:
    shop = workshop(db)
    manager = api.as_role(UserRole.MANAGER)
    base = {"name": "X", "category": "external"}
    bad = [
        ("post", "/organisations", {**base, "country": "Belgium"}),
        ("post", "/organisations", {**base, "country": "B1"}),
        ("post", "/organisations", {**base, "vat_regime": "reverse_charge"}),
        ("post", "/organisations", {**base, "peppol_scheme": "0208", "peppol_id": "12"}),
        ("post", "/members", {"name": "Jean", "country": "XXX"}),
        ("patch", f"/members/{shop.member_id}", {"country": None}),
    ]
    for method, path, body in bad:
        response = api.client.request(method, path, json=body, headers=manager)
        assert response.status_code == 422, (body, response.text)
    refused = api.client.post("/organisations", json={**base, "country": "1E"}, headers=manager)
    assert "country" in str(refused.json()["detail"])
    organisation = api.client.post("/organisations", json=base, headers=manager).json()
    patch = api.client.patch(
        f"/organisations/{organisation['id']}", json={"billing_email": "nope"}, headers=manager
    )
    assert patch.json() == {"detail": "'nope' is not an e-mail address"}
    missing = api.client.patch("/organisations/999", json={"city": "Gent"}, headers=manager)
    assert missing.status_code == 404
