"""Every store test runs twice, on SQLite and a real PostgreSQL (`engine`, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.db import session_factory


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session
