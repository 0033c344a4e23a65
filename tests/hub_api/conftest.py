"""The API against a real database, on SQLite and on PostgreSQL, through FastAPI's TestClient.

`Api` logs users of each role in through the real login route and keeps their bearer headers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.api.accounts import create_user
from hub.api.app import create_app
from hub.api.models import UserRole
from hub.db import session_factory
from hub.ingest.metrics import Metrics
from tests.hub.factories import T0

# argon2 at its production cost takes a fifth of a second per hash; tests need not pay it.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class Api:
    """The app, a client for it, and what the composition root would have seen."""

    app: FastAPI
    client: TestClient
    sessions: sessionmaker[Session]
    metrics: Metrics
    registry_changes: list[int] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    now: datetime = T0

    def add_user(self, username: str, role: UserRole, *, member_id: int | None = None) -> str:
        """A user with a fresh random password, which is returned."""
        password = secrets.token_urlsafe(12)
        with self.sessions() as db:
            create_user(
                db,
                username=username,
                password=password,
                role=role,
                member_id=member_id,
                now=self.now,
                hasher=CHEAP_HASHER,
            )
            db.commit()
        self.passwords[username] = password
        return password

    def login(self, username: str, password: str | None = None) -> httpx.Response:
        body = {"username": username, "password": password or self.passwords[username]}
        response: httpx.Response = self.client.post("/auth/login", json=body)
        return response

    def headers(self, username: str) -> dict[str, str]:
        response = self.login(username)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def as_role(self, role: UserRole, *, member_id: int | None = None) -> dict[str, str]:
        """Bearer headers of a new user holding `role`."""
        username = f"{role.value}-{len(self.passwords)}"
        self.add_user(username, role, member_id=member_id)
        return self.headers(username)


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    sessions = session_factory(engine)
    metrics = Metrics()
    changes: list[int] = []
    app = create_app(
        sessions=sessions, metrics=metrics, on_registry_change=lambda: changes.append(1)
    )
    harness = Api(app=app, client=TestClient(app), sessions=sessions, metrics=metrics)
    harness.registry_changes = changes
    app.state.hasher = CHEAP_HASHER
    app.state.clock = lambda: harness.now
    with harness.client:
        yield harness


@pytest.fixture
def db(api: Api) -> Iterator[Session]:
    with api.sessions() as session:
        yield session
