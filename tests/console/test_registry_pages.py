"""The registry pages: a manager registers organisations and members, enrols the badge just tapped
at a reader, grants and revokes qualifications; each write is audited and republishes the access
lists. Refused input shows the reason and changes nothing; other roles only look, or get the 403
page. Writes run on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.api.models import UserRole
from hub.console import audit, text_registry
from hub.ledger.service import record_events
from hub.registry import service
from hub.registry.models import Badge, BadgeSighting, Member, Organisation, Qualification
from tests.console.pages import browser, csrf_of, logged_in
from tests.hub.factories import T0, denied, workshop
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api

# The API over a migrated database and a session on it, as fixtures of this module.
api, db = hub_api.api, hub_api.db
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
ENTERPRISE = "0403170701"  # a valid Belgian enterprise number
UNKNOWN_UID = "04C3D2E1F0A1B2"


def manager(api: Api) -> TestClient:
    api.add_user("gerante", UserRole.MANAGER)
    return logged_in(api, "gerante")


def submit(client: TestClient, page: str, action: str, **fields: str) -> httpx.Response:
    """Send a form of `page` as a browser would: with the CSRF token the page carried."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    response: httpx.Response = client.post(action, data={"csrf": csrf_of(shown), **fields})
    return response


def followed(client: TestClient, response: httpx.Response) -> httpx.Response:
    assert response.status_code == 303, response.text
    page: httpx.Response = client.get(response.headers["location"])
    return page


def audited(db: Session) -> list[tuple[str, str, str]]:
    db.rollback()  # a fresh snapshot: SQLite (WAL) keeps the old one per transaction
    return [(e.action, e.target, e.detail) for e in audit.entries(db) if e.action != "login"]


def error_of(page: httpx.Response) -> str:
    found = re.search(r'<p class="error" role="alert" id="form-error">([^<]*)</p>', page.text)
    assert found, page.text
    return found.group(1)


def test_a_manager_registers_an_organisation_and_sees_it(api: Api, db: Session) -> None:
    client = manager(api)
    response = submit(
        client,
        "/console/organisations",
        "/console/organisations",
        name="  Atelier Bois SRL ",
        category="resident_artisan",
        enterprise_number="0403.170.701",
    )
    org = db.scalars(select(Organisation)).one()
    assert (
        response.headers["location"] == f"/console/organisations/{org.id}?done=organisation_created"
    )
    page = followed(client, response)
    assert "<h1>Atelier Bois SRL</h1>" in page.text
    assert "Organisation créée." in page.text and ENTERPRISE in page.text
    listing = client.get("/console/organisations").text
    assert f'<tr data-organisation="{org.id}">' in listing and "Artisan résident" in listing
    assert audited(db) == [("organisation.create", "Atelier Bois SRL", "")]
    assert api.registry_changes == [1]


def test_a_bad_enterprise_number_is_explained_and_nothing_is_stored(api: Api, db: Session) -> None:
    client = manager(api)
    page = submit(
        client,
        "/console/organisations",
        "/console/organisations",
        name="Atelier Bois SRL",
        category="resident_artisan",
        enterprise_number="0403.170.702",
    )
    assert page.status_code == 422
    assert (
        error_of(page) == "« 0403.170.702 » n&#39;est pas un numéro d&#39;entreprise belge valide."
    )
    assert 'value="Atelier Bois SRL"' in page.text  # what was typed comes back to correct
    assert db.scalar(select(func.count()).select_from(Organisation)) == 0
    assert audited(db) == [] and api.registry_changes == []


def test_members_are_created_listed_by_organisation_and_filtered(api: Api, db: Session) -> None:
    client = manager(api)
    bois = service.create_organisation(db, name="Atelier Bois", category="resident_artisan")
    db.commit()
    response = submit(
        client,
        "/console/members",
        "/console/members",
        name="Alice Martin",
        email="Alice@Example.org",
        organisation=str(bois.id),
    )
    alice = db.scalars(select(Member)).one()
    assert alice.organisation_id == bois.id and alice.email == "alice@example.org"
    page = followed(client, response)
    assert "<h1>Alice Martin</h1>" in page.text and "Membre créé." in page.text
    submit(client, "/console/members", "/console/members", name="Bruno Private")
    organisation = client.get(f"/console/organisations/{bois.id}").text
    assert f'data-member="{alice.id}"' in organisation and "Bruno Private" not in organisation
    only_bois = client.get("/console/members", params={"organisation": bois.id}).text
    assert "Alice Martin" in only_bois and "Bruno Private" not in only_bois
    everyone = client.get("/console/members").text
    assert "Alice Martin" in everyone and "Bruno Private" in everyone
    inactive = client.get("/console/members", params={"active": "0"}).text
    assert "Aucun membre ne correspond." in inactive
    assert [a for a, _, _ in audited(db)] == ["member.create", "member.create"]
    assert api.registry_changes == [1, 1]


def test_a_second_member_with_the_same_email_is_refused(api: Api, db: Session) -> None:
    client = manager(api)
    service.create_member(db, name="Alice", email="alice@example.org")
    db.commit()
    page = submit(
        client, "/console/members", "/console/members", name="Alice bis", email="alice@example.org"
    )
    assert page.status_code == 409
    assert error_of(page) == "Un membre utilise déjà l&#39;adresse alice@example.org."
    assert db.scalar(select(func.count()).select_from(Member)) == 1
    assert audited(db) == []


def test_a_member_is_deactivated_and_reactivated(api: Api, db: Session) -> None:
    ada = workshop(db).member_id
    client = manager(api)
    page = f"/console/members/{ada}"
    response = submit(client, page, f"{page}/active", active="0")
    shown = followed(client, response)
    assert '<dd id="member-state"><strong class="tag tag-off">Désactivé</strong></dd>' in shown.text
    assert "Réactiver ce membre" in shown.text
    db.rollback()  # a fresh snapshot: SQLite (WAL) keeps the old one per transaction
    assert db.get(Member, ada).active is False  # type: ignore[union-attr]
    followed(client, submit(client, page, f"{page}/active", active="1"))
    db.rollback()  # a fresh snapshot: SQLite (WAL) keeps the old one per transaction
    assert db.get(Member, ada).active is True  # type: ignore[union-attr]
    assert [(a, t) for a, t, _ in audited(db)] == [
        ("member.reactivate", "m-0001 Ada Lovelace"),
        ("member.deactivate", "m-0001 Ada Lovelace"),
    ]
    assert api.registry_changes == [1, 1]


def test_the_member_page_shows_badges_and_qualifications(api: Api, db: Session) -> None:
    ada = workshop(db).member_id
    service.grant_qualification(
        db,
        member_id=ada,
        machine_id="laser-1",
        role="user",
        granted_by="training",
        expires_at=T0 + timedelta(days=30),
        now=T0,
    )
    db.commit()
    page = manager(api).get(f"/console/members/{ada}").text
    assert '<li data-uid="04A2246AB12C80">' in page
    assert '<li data-machine="laser-1">Trotec Speedy 400 · Utilisation' in page
    assert "Jusqu&#39;au 23/12/2026" in page


def tap(api: Api, uid: str, *, minutes: int = 0) -> None:
    """An unknown badge tapped at laser-1's reader, as the ledger records it."""
    with api.sessions() as session:
        at = T0 + timedelta(minutes=minutes)
        record_events(session, [denied(uid, time=at)], received_at=at)
        session.commit()


def test_the_badge_just_tapped_is_listed_and_linked_to_a_member(api: Api, db: Session) -> None:
    ada = workshop(db).member_id
    tap(api, "04AA000000", minutes=1)
    tap(api, UNKNOWN_UID, minutes=5)
    tap(api, UNKNOWN_UID, minutes=6)
    client = manager(api)
    page = client.get("/console/badges").text
    rows = re.findall(r'<tr data-uid="([0-9A-F]+)">', page)
    assert rows == [UNKNOWN_UID, "04AA000000"]  # newest first
    row = page[page.index(f'<tr data-uid="{UNKNOWN_UID}">') :]
    assert "Trotec Speedy 400" in row.split("</tr>")[0] and "23/11/2026 14:37" in row
    assert '<label for="link-member-1">Membre</label>' in page
    assert '<button type="submit">Associer</button>' in page
    response = submit(
        client, "/console/badges", "/console/badges", uid=UNKNOWN_UID, member=str(ada)
    )
    shown = followed(client, response)
    assert "Badge enrôlé" in shown.text
    assert re.findall(r'<tr data-uid="([0-9A-F]+)">', shown.text) == ["04AA000000"]
    assert f'<tr data-badge="{UNKNOWN_UID}">' in shown.text
    db.rollback()  # a fresh snapshot: SQLite (WAL) keeps the old one per transaction
    badge = db.get(Badge, UNKNOWN_UID)
    assert badge is not None and badge.member_id == ada and badge.active
    assert db.scalar(select(BadgeSighting).where(BadgeSighting.uid == UNKNOWN_UID)) is None
    assert audited(db) == [("badge.enrol", UNKNOWN_UID, "m-0001")]
    assert api.registry_changes == [1]


@sqlite_only
def test_a_typed_uid_is_enrolled_in_its_compact_form(api: Api, db: Session) -> None:
    ada = workshop(db).member_id
    client = manager(api)
    response = submit(
        client, "/console/badges", "/console/badges", uid="04:c3:d2:e1", member=str(ada)
    )
    followed(client, response)
    db.rollback()  # a fresh snapshot: SQLite (WAL) keeps the old one per transaction
    assert db.get(Badge, "04C3D2E1") is not None


@sqlite_only
@pytest.mark.parametrize(
    ("uid", "member", "status", "message"),
    [
        ("not a uid", "1", 422, "« not a uid » n&#39;est pas un UID de badge"),
        ("04A2246AB12C80", "1", 409, "Le badge 04A2246AB12C80 est déjà enrôlé."),
        ("04c3d2e1", "", 422, "Choisissez un membre."),
        ("04C3D2E1", "999", 404, "Ce membre n&#39;existe pas."),
        ("04C3D2E1", "Ada", 404, "Ce membre n&#39;existe pas."),
    ],
)
def test_a_refused_enrolment_says_why_and_changes_nothing(  # noqa: PLR0917  (the cases' fields)
    api: Api, db: Session, uid: str, member: str, status: int, message: str
) -> None:
    workshop(db)
    client = manager(api)
    page = submit(client, "/console/badges", "/console/badges", uid=uid, member=member)
    assert page.status_code == status
    assert error_of(page).startswith(message)
    assert db.scalar(select(func.count()).select_from(Badge)) == 1
    assert audited(db) == [] and api.registry_changes == []
    assert api.metrics.value("console_registry_refused", form="badge") == 1


def test_a_badge_is_deactivated(api: Api, db: Session) -> None:
    uid = workshop(db).badge_uid
    client = manager(api)
    response = submit(client, "/console/badges", f"/console/badges/{uid}/active", active="0")
    shown = followed(client, response)
    assert "Badge désactivé." in shown.text and ">Réactiver</button>" in shown.text
    db.rollback()  # a fresh snapshot: SQLite (WAL) keeps the old one per transaction
    assert db.get(Badge, uid).active is False  # type: ignore[union-attr]
    assert audited(db) == [("badge.deactivate", uid, "m-0001")]
    assert api.registry_changes == [1]


def test_a_qualification_is_granted_with_an_expiry_and_revoked(api: Api, db: Session) -> None:
    ada = workshop(db).member_id
    client = manager(api)
    page = client.get("/console/qualifications").text
    for field, label in (("member", "Membre"), ("machine", "Machine"), ("role", "Rôle")):
        assert f'<label for="grant-{field}">{label}</label>' in page
    assert '<button type="submit">Qualifier</button>' in page
    assert "Personne n&#39;est qualifié sur cette machine." in page
    response = submit(
        client,
        "/console/qualifications",
        "/console/qualifications",
        member=str(ada),
        machine="laser-1",
        role="maintainer",
        instructor="1",
        expires_on="2026-12-31",
    )
    shown = followed(client, response)
    assert "Qualification accordée." in shown.text
    assert f'<tr data-member="{ada}">' in shown.text and "31/12/2026" in shown.text
    assert "Maintenance · formateur" in shown.text
    db.rollback()  # a fresh snapshot: SQLite (WAL) keeps the old one per transaction
    live = service.live_qualification(db, member_id=ada, machine_id="laser-1")
    assert live is not None and live.role == "maintainer" and live.instructor
    assert live.granted_by == "user gerante"
    # Valid through the 31st in Brussels: it ends at midnight local time (23:00 UTC).
    assert (
        live.expires_at is not None and live.expires_at.isoformat() == "2026-12-31T23:00:00+00:00"
    )
    revoked = submit(
        client,
        "/console/qualifications",
        "/console/qualifications/revoke",
        member=str(ada),
        machine="laser-1",
    )
    assert "Qualification retirée." in followed(client, revoked).text
    db.rollback()  # a fresh snapshot: SQLite (WAL) keeps the old one per transaction
    assert service.live_qualification(db, member_id=ada, machine_id="laser-1") is None
    assert audited(db) == [
        ("qualification.revoke", "m-0001 laser-1", ""),
        ("qualification.grant", "m-0001 laser-1", "maintainer, instructor, until 2026-12-31"),
    ]
    assert api.registry_changes == [1, 1]


@sqlite_only
@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"role": "user", "expires_on": "2026-11-22"}, 422, "d&#39;échéance 2026-11-22 est déjà"),
        (
            {"role": "user", "expires_on": "31/12/2026"},
            422,
            "« 31/12/2026 » n&#39;est pas une date",
        ),
        ({"role": "boss"}, 422, "Choisissez un rôle de la liste."),
        ({"role": "user", "machine": "lathe-9"}, 404, "Cette machine n&#39;existe pas."),
        ({"role": "user", "machine": ""}, 422, "Choisissez une machine."),
        ({"role": "user", "member": "999"}, 404, "Ce membre n&#39;existe pas."),
    ],
)
def test_a_refused_grant_says_why_and_changes_nothing(
    api: Api, db: Session, fields: dict[str, str], status: int, message: str
) -> None:
    ada = workshop(db).member_id
    client = manager(api)
    form = {"member": str(ada), "machine": "laser-1", **fields}
    page = submit(client, "/console/qualifications", "/console/qualifications", **form)
    assert page.status_code == status
    assert message in error_of(page)
    assert db.scalar(select(func.count()).select_from(Qualification)) == 0
    assert audited(db) == [] and api.registry_changes == []


@sqlite_only
def test_revoking_what_is_not_held_is_not_found(api: Api, db: Session) -> None:
    ada = workshop(db).member_id
    client = manager(api)
    page = submit(
        client,
        "/console/qualifications",
        "/console/qualifications/revoke",
        member=str(ada),
        machine="laser-1",
    )
    assert page.status_code == 404
    assert error_of(page) == "Ce membre n&#39;a pas de qualification sur cette machine."


@sqlite_only
def test_a_maintainer_reads_qualifications_but_may_not_change_them(api: Api, db: Session) -> None:
    ada = workshop(db).member_id
    service.grant_qualification(
        db, member_id=ada, machine_id="laser-1", role="user", granted_by="training", now=T0
    )
    db.commit()
    api.add_user("maintenance", UserRole.MAINTAINER)
    client = logged_in(api, "maintenance")
    page = client.get("/console/qualifications")
    assert page.status_code == 200
    assert "Ada Lovelace" in page.text and "sans échéance" in page.text
    assert "Qualifier un membre" not in page.text and "Retirer" not in page.text
    assert '<a href="/console/qualifications"' in page.text
    assert 'href="/console/members"' not in page.text
    refused = client.post(
        "/console/qualifications/revoke",
        data={"csrf": csrf_of(page), "member": str(ada), "machine": "laser-1"},
    )
    assert refused.status_code == 403 and "Accès refusé" in refused.text
    assert service.live_qualification(db, member_id=ada, machine_id="laser-1") is not None
    for path in ("/console/members", "/console/badges", "/console/organisations"):
        assert client.get(path).status_code == 403


@sqlite_only
@pytest.mark.parametrize("role", [UserRole.ACCOUNTANT, UserRole.MEMBER])
def test_accountants_and_members_get_the_403_page(api: Api, db: Session, role: UserRole) -> None:
    ada = workshop(db).member_id
    api.add_user("someone", role, member_id=ada if role is UserRole.MEMBER else None)
    client = logged_in(api, "someone")
    for path in (
        "/console/organisations",
        "/console/members",
        f"/console/members/{ada}",
        "/console/badges",
        "/console/qualifications",
    ):
        page = client.get(path)
        assert page.status_code == 403 and "<h1>Accès refusé</h1>" in page.text, path


@sqlite_only
def test_a_form_without_its_token_changes_nothing(api: Api, db: Session) -> None:
    uid = workshop(db).badge_uid
    client = manager(api)
    response = client.post(f"/console/badges/{uid}/active", data={"active": "0"})
    assert response.status_code == 403 and "Formulaire refusé" in response.text
    assert db.get(Badge, uid).active is True  # type: ignore[union-attr]
    assert api.registry_changes == []


@sqlite_only
def test_anonymous_visitors_go_to_the_login_page(api: Api) -> None:
    response = browser(api).get("/console/badges")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/badges"


@sqlite_only
def test_an_unknown_member_or_organisation_is_a_404_page(api: Api) -> None:
    client = manager(api)
    for path, message in (
        ("/console/members/999", "Ce membre n&#39;existe pas."),
        ("/console/members/abc", "Ce membre n&#39;existe pas."),
        ("/console/organisations/7", "Cette organisation n&#39;existe pas."),
    ):
        page = client.get(path)
        assert page.status_code == 404 and message in page.text, path


@sqlite_only
def test_the_pages_speak_english_and_the_manager_menu_lists_them(api: Api, db: Session) -> None:
    workshop(db)
    tap(api, UNKNOWN_UID)
    client = manager(api)
    client.cookies.set("lang", "en")
    badges = client.get("/console/badges").text
    assert '<label for="link-member-1">Member</label>' in badges
    assert '<button type="submit">Link</button>' in badges
    qualifications = client.get("/console/qualifications").text
    assert '<label for="grant-role">Role</label>' in qualifications
    assert '<button type="submit">Grant</button>' in qualifications
    for path in ("organisations", "members", "badges", "qualifications"):
        assert f'<a href="/console/{path}"' in badges
    refused = submit(client, "/console/badges", "/console/badges", uid="04A2246AB12C80", member="1")
    assert refused.status_code == 409
    assert error_of(refused) == "The badge 04A2246AB12C80 is enrolled already."
    organisation = submit(
        client,
        "/console/organisations",
        "/console/organisations",
        name="Atelier Bois SRL",
        category="resident_artisan",
        enterprise_number="0403170701",
        vat_number="BE0403170702",
    )
    assert error_of(organisation).startswith("“BE0403170702” is not a valid Belgian VAT number")


def test_every_registry_word_exists_in_both_languages() -> None:
    assert text_registry.FR.keys() == text_registry.EN.keys()
