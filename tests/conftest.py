"""Shared fixtures: real servers on free loopback ports, gpiozero's own mock pin factory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from sqlalchemy import Engine

from hub.db import make_engine, migrate
from machinerie.servers import InfluxDB, Mosquitto, PostgreSQL, VictoriaMetrics


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A fresh Mosquitto per test: stop, kill and restart it freely."""
    with Mosquitto() as broker:
        yield broker


@pytest.fixture
def victoria() -> Iterator[VictoriaMetrics]:
    """A fresh, empty VictoriaMetrics per test (InfluxDB line protocol in, export out)."""
    with VictoriaMetrics() as store:
        yield store


@pytest.fixture
def influxdb() -> Iterator[InfluxDB]:
    """A fresh, empty InfluxDB 1.x per test: line protocol in, InfluxQL out."""
    with InfluxDB() as store:
        yield store


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    """gpiozero's MockFactory, installed as the default and reset after the test."""
    saved = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = saved


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgreSQL]:
    """One PostgreSQL cluster for the whole run; each test gets a database of its own."""
    with PostgreSQL(durable=False) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgreSQL) -> str:
    """A fresh, empty PostgreSQL database for this test (SQLAlchemy URL, psycopg 3)."""
    name = "t_" + uuid.uuid4().hex[:16]
    return postgres_server.create_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated, empty hub database: every test using it runs on both backends."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'hub.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    made = make_engine(url)
    migrate(made)
    yield made
    made.dispose()
