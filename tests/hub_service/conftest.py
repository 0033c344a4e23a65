"""A seeded registry, the hub's settings, and the sandbox's edge agent trusting the hub's key.

The machine's device is the sandbox's `laser-1`; Alice (member 1) holds a user qualification.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from contracts.signing import KeyPair
from hub.db import make_engine, migrate, session_factory
from hub.registry import service
from hub.registry.numbers import member_ref
from hub.settings import HubSettings, load_settings
from machinerie.sandbox import ALICE, BRUNO, DEVICE, SITE, Sandbox, agent_config


@dataclass(frozen=True)
class Registry:
    alice: int
    bruno: int

    @property
    def alice_ref(self) -> str:
        return member_ref(self.alice)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"


def hub_settings(folder: Path, database_url: str, port: int, **values: Any) -> HubSettings:
    return load_settings(
        None, data_dir=folder / "hub", database_url=database_url, mqtt={"port": port}, **values
    )


def seed(database_url: str) -> Registry:
    """Site, organisation, Alice (qualified) and Bruno (not), badges, the gated machine."""
    engine = make_engine(database_url)
    migrate(engine)
    try:
        with session_factory(engine).begin() as db:
            service.create_site(db, site_id=SITE, name="Dony")
            org = service.create_organisation(db, name="Bois Vif", category="resident_artisan")
            alice = service.create_member(db, name=ALICE.name, organisation_id=org.id)
            bruno = service.create_member(db, name=BRUNO.name)
            service.enrol_badge(db, uid=ALICE.uid, member_id=alice.id)
            service.enrol_badge(db, uid=BRUNO.uid, member_id=bruno.id)
            service.create_machine(
                db, machine_id=DEVICE, site_id=SITE, name="Trotec", device_id=DEVICE
            )
            service.grant_qualification(
                db, member_id=alice.id, machine_id=DEVICE, role="user", granted_by="test"
            )
            return Registry(alice=alice.id, bruno=bruno.id)
    finally:
        engine.dispose()


def count(engine: Engine, model: type[object]) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def bridge_table(port: str) -> dict[str, object]:
    """A firmware bridge on a simulated Marlin at `port`, quick to report and to notice."""
    return {
        "controller": {"kind": "marlin", "port": port, "poll_s": 0.5},
        "stale_after_s": 5,
        "cooldown_s": 0,
        "telemetry_interval_s": 1,
    }


@contextmanager
def edge(folder: Path, port: int, keys: KeyPair, **session: Any) -> Iterator[Sandbox]:
    """The sandbox's agent, acked by the real hub and trusting only the hub's signing key."""
    sandbox = Sandbox(folder, port, acking_hub=False, **session)
    # Sandbox makes its own key pair; swap in a configuration that trusts the hub's instead.
    sandbox.config = agent_config(folder, port, keys, **session)
    try:
        sandbox.start_agent()
        yield sandbox
    finally:
        sandbox.close()
