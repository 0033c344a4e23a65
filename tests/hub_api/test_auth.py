"""Logging in, bearer tokens of both kinds, the failed-login limit, and user creation."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.models import AuthToken, UserRole
from hub.api.ratelimit import FailedLogins
from tests.hub_api.conftest import Api


def test_json_and_form_logins_give_bearer_tokens(api: Api) -> None:
    password = api.add_user("ada", UserRole.MANAGER)
    by_json = api.login("Ada", password)
    by_form = api.client.post(
        "/auth/login", data={"username": "ada", "password": password, "grant_type": "password"}
    )
    for response in (by_json, by_form):
        assert response.status_code == 200, response.text
        token = response.json()
        assert token["token_type"] == "bearer"  # noqa: S105  (OAuth2 token type)
        me = api.client.get(
            "/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert me.json() == {"user_id": 1, "username": "ada", "role": "manager", "member_id": None}


def test_wrong_password_and_unknown_user_are_401(api: Api) -> None:
    api.add_user("ada", UserRole.MANAGER)
    for username, password in (("ada", "not her password"), ("nobody", "whatever1")):
        response = api.login(username, password)
        assert response.status_code == 401
        assert response.json() == {"detail": "wrong username or password"}
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.metrics.value("api_logins", outcome="failed") == 2


def test_missing_unknown_and_expired_tokens_are_401(api: Api) -> None:
    api.add_user("ada", UserRole.MANAGER)
    headers = api.headers("ada")
    assert api.client.get("/members").status_code == 401
    bogus = {"Authorization": "Bearer mch_not-a-token"}
    assert api.client.get("/members", headers=bogus).status_code == 401
    assert api.client.get("/members", headers=headers).status_code == 200
    api.now += timedelta(hours=13)  # login tokens live twelve hours
    expired = api.client.get("/members", headers=headers)
    assert expired.status_code == 401
    assert expired.json() == {"detail": "the bearer token has expired"}


def test_failed_logins_are_limited_per_username(api: Api) -> None:
    clock = [1000.0]
    api.app.state.failed_logins = FailedLogins(clock=lambda: clock[0])
    password = api.add_user("ada", UserRole.MANAGER)
    api.add_user("bob", UserRole.ACCOUNTANT)
    assert [api.login("ada", "guess-1234").status_code for _ in range(5)] == [401] * 5
    limited = api.login("ada", password)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert "too many failed logins" in limited.json()["detail"]
    assert api.login("bob").status_code == 200  # another username is not locked out
    clock[0] += 61
    assert api.login("ada", password).status_code == 200
    assert api.metrics.value("api_logins", outcome="limited") == 1


def test_api_tokens_are_shown_once_stored_hashed_and_revocable(api: Api, db: Session) -> None:
    manager = api.as_role(UserRole.MANAGER)
    created = api.client.post(
        "/auth/tokens", json={"name": "accounting export", "role": "accountant"}, headers=manager
    )
    assert created.status_code == 201, created.text
    issued = created.json()
    secret = issued["token"]
    stored = db.scalars(select(AuthToken).where(AuthToken.id == issued["id"])).one()
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    integration = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/usage?month=2026-11", headers=integration).status_code == 200
    assert api.client.get("/members", headers=integration).status_code == 403
    listed = api.client.get("/auth/tokens", headers=manager).json()
    assert [(t["id"], t["name"]) for t in listed] == [(issued["id"], "accounting export")]
    assert "token" not in listed[0]
    deleted = api.client.delete(f"/auth/tokens/{issued['id']}", headers=manager)
    assert deleted.status_code == 204
    assert api.client.get("/usage?month=2026-11", headers=integration).status_code == 401
    assert api.client.delete(f"/auth/tokens/{issued['id']}", headers=manager).status_code == 404


def test_api_token_expiry(api: Api) -> None:
    manager = api.as_role(UserRole.MANAGER)
    body = {"name": "dashboard", "role": "maintainer", "expires_at": "2026-11-24T00:00:00+01:00"}
    secret = api.client.post("/auth/tokens", json=body, headers=manager).json()["token"]
    integration = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/machines", headers=integration).status_code == 200
    api.now += timedelta(hours=10)  # past the token, not yet past the login
    assert api.client.get("/machines", headers=integration).status_code == 401
    past = body | {"expires_at": "2026-11-01T00:00:00Z"}
    refused = api.client.post("/auth/tokens", json=past, headers=manager)
    assert refused.status_code == 422
    assert refused.json() == {"detail": "the token would already be expired"}


def test_only_managers_issue_tokens_and_create_users(api: Api) -> None:
    accountant = api.as_role(UserRole.ACCOUNTANT)
    body = {"name": "x", "role": "manager"}
    assert api.client.post("/auth/tokens", json=body, headers=accountant).status_code == 403
    user = {"username": "eve", "password": "long enough", "role": "manager"}
    assert api.client.post("/auth/users", json=user, headers=accountant).status_code == 403


def test_managers_create_users(api: Api) -> None:
    manager = api.as_role(UserRole.MANAGER)
    member = api.client.post("/members", json={"name": "Bob"}, headers=manager).json()
    user = {"username": "bob", "password": "long enough", "role": "member"}
    unlinked = api.client.post("/auth/users", json=user, headers=manager)
    assert unlinked.status_code == 422
    assert unlinked.json() == {"detail": "a member user must be linked to a registry member"}
    ghost = api.client.post("/auth/users", json=user | {"member_id": 999}, headers=manager)
    assert ghost.status_code == 404
    linked = api.client.post(
        "/auth/users", json=user | {"member_id": member["id"]}, headers=manager
    )
    assert linked.status_code == 201
    assert linked.json()["member_id"] == member["id"]
    again = api.client.post("/auth/users", json=user | {"member_id": member["id"]}, headers=manager)
    assert again.status_code == 409
    assert api.login("bob", "long enough").status_code == 200


def test_malformed_login_bodies_are_422(api: Api) -> None:
    # Both were found by schemathesis: bytes that are not UTF-8, and a form with many fields.
    not_utf8 = api.client.post(
        "/auth/login", content=b"\x80", headers={"Content-Type": "application/json"}
    )
    assert not_utf8.status_code == 422
    many = "&".join(f"f{i}=x" for i in range(50)) + "&username=ada&password=secret-12"
    form = api.client.post(
        "/auth/login",
        content=many,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 401
    huge = api.client.post("/auth/login", json={"username": "ada", "password": "x" * 5000})
    assert huge.status_code == 422
