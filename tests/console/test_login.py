"""Logging in and out of the console: the API's users and tokens, its rate limit, CSRF forms."""

from __future__ import annotations

import pytest

from hub.api.models import UserRole
from hub.console.auth import SESSION_COOKIE
from tests.console.pages import browser, csrf_of, logged_in, submit_login
from tests.hub.factories import workshop
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api

api = hub_api.api  # the API over a migrated database, as a fixture of this module
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_the_login_form_is_french_and_labelled(api: Api) -> None:
    page = browser(api).get("/console/login")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert '<label for="username">' in page.text and 'id="username"' in page.text
    assert '<label for="password">' in page.text and 'id="password"' in page.text
    assert '<button type="submit">Se connecter</button>' in page.text


def test_a_manager_logs_in_to_the_live_board(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    client = browser(api)
    response = submit_login(client, "Gerante ", api.passwords["gerante"])
    assert response.status_code == 303
    assert response.headers["location"] == "/console/"
    cookie = next(h for h in response.headers.get_list("set-cookie") if SESSION_COOKIE in h)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/console/").status_code == 200
    assert api.metrics.value("console_logins", outcome="ok") == 1


def test_the_console_session_is_an_api_login_token(api: Api) -> None:
    api.add_user("compta", UserRole.ACCOUNTANT)
    client = logged_in(api, "compta")
    token = client.cookies[SESSION_COOKIE]
    me = api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "compta"


@sqlite_only
@pytest.mark.parametrize(
    ("role", "home"),
    [
        (UserRole.ACCOUNTANT, "/console/"),
        (UserRole.MAINTAINER, "/console/"),
        (UserRole.MEMBER, "/console/me"),
    ],
)
def test_each_role_lands_on_its_home(api: Api, role: UserRole, home: str) -> None:
    with api.sessions() as db:
        member_id = workshop(db).member_id
    api.add_user("someone", role, member_id=member_id if role is UserRole.MEMBER else None)
    response = submit_login(browser(api), "someone", api.passwords["someone"])
    assert response.headers["location"] == home


@sqlite_only
def test_login_goes_back_to_the_page_asked_for_but_never_elsewhere(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    password = api.passwords["gerante"]
    back = submit_login(browser(api), "gerante", password, next_path="/console/audit")
    assert back.headers["location"] == "/console/audit"
    away = submit_login(browser(api), "gerante", password, next_path="https://evil.example/")
    assert away.headers["location"] == "/console/"
    sneaky = submit_login(browser(api), "gerante", password, next_path="//evil.example/console")
    assert sneaky.headers["location"] == "/console/"


def test_a_wrong_password_says_so_and_is_counted(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    client = browser(api)
    response = submit_login(client, "gerante", "not-the-password")
    assert response.status_code == 401
    assert "Nom d&#39;utilisateur ou mot de passe incorrect." in response.text
    assert SESSION_COOKIE not in client.cookies
    assert 'value="gerante"' in response.text  # the username stays filled in
    assert api.metrics.value("console_logins", outcome="failed") == 1


@sqlite_only
def test_empty_credentials_are_refused_before_any_lookup(api: Api) -> None:
    response = submit_login(browser(api), "", "")
    assert response.status_code == 422
    assert "Indiquez un nom d&#39;utilisateur et un mot de passe." in response.text


@sqlite_only
def test_too_many_failures_lock_the_username_for_console_and_api_alike(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    client = browser(api)
    for _ in range(5):
        assert submit_login(client, "gerante", "guess").status_code == 401
    limited = submit_login(client, "gerante", api.passwords["gerante"])
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Trop de tentatives échouées" in limited.text
    assert SESSION_COOKIE not in client.cookies
    assert api.login("gerante").status_code == 429  # one limiter for both faces of the hub
    assert api.metrics.value("console_logins", outcome="limited") == 1


@sqlite_only
def test_a_login_form_without_its_token_is_refused(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    client = browser(api)
    client.get("/console/login")  # the pre-login cookie is set, but the form does not echo it
    body = {"username": "gerante", "password": api.passwords["gerante"], "csrf": "forged"}
    response = client.post("/console/login", data=body)
    assert response.status_code == 403
    assert "Formulaire refusé" in response.text
    assert SESSION_COOKIE not in client.cookies
    assert api.metrics.value("console_csrf_refused") == 1


def test_logout_needs_the_session_token_and_then_revokes_the_session(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    client = logged_in(api, "gerante")
    board = client.get("/console/")
    refused = client.post("/console/logout", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert client.get("/console/").status_code == 200  # still logged in
    stolen = client.cookies[SESSION_COOKIE]
    done = client.post("/console/logout", data={"csrf": csrf_of(board)})
    assert done.status_code == 303 and done.headers["location"] == "/console/login"
    assert SESSION_COOKIE not in client.cookies
    replay = browser(api)
    replay.cookies.set(SESSION_COOKIE, stolen)
    assert replay.get("/console/").status_code == 303  # the old cookie is worthless now


@sqlite_only
def test_cookies_are_secure_over_https(api: Api) -> None:
    api.add_user("gerante", UserRole.MANAGER)
    client = browser(api, base_url="https://testserver")
    response = submit_login(client, "gerante", api.passwords["gerante"])
    cookie = next(h for h in response.headers.get_list("set-cookie") if SESSION_COOKIE in h)
    assert "Secure" in cookie
