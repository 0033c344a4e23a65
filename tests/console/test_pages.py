"""Role guards, the language switch, the member's page and the console's plumbing."""

from __future__ import annotations

import pytest

from hub.api.models import UserRole
from tests.console.pages import browser, logged_in
from tests.hub.factories import workshop
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api

api = hub_api.api  # the API over a migrated database, as a fixture of this module
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def member_of_workshop(api: Api, username: str = "ada") -> int:
    with api.sessions() as db:
        member_id = workshop(db).member_id
    api.add_user(username, UserRole.MEMBER, member_id=member_id)
    return member_id


def test_a_member_gets_a_friendly_refusal_on_the_board(api: Api) -> None:
    member_of_workshop(api)
    page = logged_in(api, "ada").get("/console/")
    assert page.status_code == 403
    assert "<h1>Accès refusé</h1>" in page.text
    assert "Votre rôle (membre) ne permet pas d&#39;ouvrir cette page." in page.text
    assert 'href="/console/me"' in page.text  # a way back to their own page


@pytest.mark.parametrize("role", [UserRole.ACCOUNTANT, UserRole.MAINTAINER])
def test_accountants_and_maintainers_see_the_board_but_not_the_audit_log(
    api: Api, role: UserRole
) -> None:
    api.add_user("staff", role)
    client = logged_in(api, "staff")
    assert client.get("/console/").status_code == 200
    assert client.get("/console/audit").status_code == 403


def test_the_navigation_follows_the_role(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    api.add_user("maintenance", UserRole.MAINTAINER)
    manager = logged_in(api, "gerante").get("/console/").text
    maintainer = logged_in(api, "maintenance").get("/console/").text
    assert 'href="/console/audit"' in manager
    assert 'href="/console/audit"' not in maintainer
    assert '<a href="/console/" aria-current="page">Machines</a>' in maintainer


def test_anonymous_visitors_are_sent_to_login_and_back(api: Api) -> None:
    response = browser(api).get("/console/audit?limit=5")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/audit%3Flimit%3D5"
    login = browser(api).get(response.headers["location"])
    assert 'name="next" value="/console/audit?limit=5"' in login.text


def test_the_hub_root_leads_to_the_console(api: Api) -> None:
    response = browser(api).get("/")
    assert response.status_code == 303 and response.headers["location"] == "/console/"


def test_the_stylesheet_is_served_by_the_hub(api: Api) -> None:
    response = browser(api).get("/console/static/console.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in response.text


def test_the_footer_switch_gives_english_and_remembers_it(api: Api) -> None:
    client = browser(api)
    french = client.get("/console/login")
    assert 'href="/console/lang/en?next=/console/login"' in french.text
    switched = client.get("/console/lang/en", params={"next": "/console/login"})
    assert switched.status_code == 303 and switched.headers["location"] == "/console/login"
    english = client.get("/console/login")
    assert '<html lang="en">' in english.text
    assert '<button type="submit">Log in</button>' in english.text
    assert '<label for="username">Username</label>' in english.text


def test_the_browser_language_is_the_default_choice(api: Api) -> None:
    client = browser(api)
    english = client.get("/console/login", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in english.text
    german = client.get("/console/login", headers={"Accept-Language": "de-DE"})
    assert '<html lang="fr">' in german.text


def test_an_unknown_language_falls_back_to_french(api: Api) -> None:
    client = browser(api)
    client.get("/console/lang/xx", params={"next": "https://evil.example/"})
    assert '<html lang="fr">' in client.get("/console/login").text


def test_a_member_sees_their_own_page(api: Api) -> None:
    member_of_workshop(api)
    page = logged_in(api, "ada").get("/console/me")
    assert page.status_code == 200
    assert "Ada Lovelace" in page.text
    assert page.text.count("<h1") == 1


def test_staff_see_only_a_note_on_the_member_page(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    page = logged_in(api, "gerante").get("/console/me")
    assert page.status_code == 200
    assert "votre compte (gestionnaire) n&#39;est lié à aucun membre" in page.text


def test_a_logged_in_visitor_skips_the_login_form(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    response = logged_in(api, "gerante").get("/console/login")
    assert response.status_code == 303 and response.headers["location"] == "/console/"
