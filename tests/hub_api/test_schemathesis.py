"""Schemathesis against the OpenAPI document: generated calls, as a manager, never get a 5xx.

One database per backend serves every operation, seeded with a small workshop so ids can hit.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import select

from hub.api.accounts import create_user, issue_login_token
from hub.api.app import create_app
from hub.api.models import User, UserRole
from hub.db import make_engine, migrate, session_factory
from hub.ledger.service import record_events
from machinerie.servers import PostgreSQL
from tests.hub.factories import T0, denied, workshop
from tests.hub_api.conftest import CHEAP_HASHER

# The schema is read from an app whose database is swapped in per backend by `fuzzed`:
# the OpenAPI document does not depend on it. (`schemathesis.pytest.from_fixture` does not run
# on pytest 9.)
APP = create_app(sessions=session_factory(make_engine("sqlite://")))
APP.state.hasher = CHEAP_HASHER
APP.state.clock = lambda: T0
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """A seeded database behind the app; yields a maker of fresh manager tokens."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'hub.db'}"
    else:
        server: PostgreSQL = request.getfixturevalue("postgres_server")
        url = server.create_database("fuzz_" + uuid.uuid4().hex[:12])
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as db:
        workshop(db)
        record_events(db, [denied("0A0B0C0D")], received_at=T0)
        create_user(
            db,
            username="root",
            password=secrets.token_urlsafe(),
            role=UserRole.MANAGER,
            hasher=CHEAP_HASHER,
        )
        db.commit()

    def token() -> str:
        # A fresh one per call: the fuzzer may well revoke the last one (DELETE /auth/tokens/1).
        with sessions() as db:
            manager = db.scalars(select(User).where(User.username == "root")).one()
            secret = issue_login_token(db, user=manager, now=T0).secret
            db.commit()
        return secret

    APP.state.sessions = sessions
    yield token
    engine.dispose()


@schema.parametrize()
@settings(
    max_examples=6,
    derandomize=True,  # the same cases on every run; failures stay reproducible
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: Any, fuzzed: Callable[[], str]) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzzed()}"}, checks=[not_a_server_error]
    )
