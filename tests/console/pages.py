"""Helpers for the console's server-side tests: a browser-like client per person, form tokens.

Each `Visitor` is its own TestClient, so its cookies (session, language, login token) are its
own, as in a separate browser.
"""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from tests.hub_api.conftest import Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token a rendered page put in its forms."""
    found = CSRF.search(page.text)
    assert found, f"no CSRF token in {page.url}"
    return found.group(1)


def browser(api: Api, *, base_url: str = "http://testserver") -> TestClient:
    return TestClient(api.app, base_url=base_url, follow_redirects=False)


def submit_login(
    client: TestClient, username: str, password: str, *, next_path: str = ""
) -> httpx.Response:
    """Fill and send the login form as a browser would, with the token the form carried."""
    form = client.get("/console/login")
    body = {"username": username, "password": password, "csrf": csrf_of(form)}
    if next_path:
        body["next"] = next_path
    response: httpx.Response = client.post("/console/login", data=body)
    return response


def logged_in(api: Api, username: str) -> TestClient:
    """A client holding a console session of `username` (added to `api` beforehand)."""
    client = browser(api)
    response = submit_login(client, username, api.passwords[username])
    assert response.status_code == 303, response.text
    return client
