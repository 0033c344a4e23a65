"""The console's busiest pages over a year of a workshop's ledger.

Run: `.venv/bin/python -m bench.console_pages [--sessions 50000] [--events-per-session 4]
[--rounds 15]`. For SQLite (the embedded default) and PostgreSQL (a server the script starts on
a free loopback port), a fresh hub database is seeded (not timed) with the registry of the
ateliers Dony (10 machines, 26 workshops, 70 artisans) and a year of closed sessions with their
ledger events (session start and end, jobs, refused badges); then a manager, logged in once,
asks each page `--rounds` times through the hub's own ASGI app: the live board (which every
open board asks again every 10 s), the year's usage page and its CSV, the device page. Each
page's median and slowest time are reported, in milliseconds, with the process's peak memory.
The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from hub.api.accounts import create_user
from hub.api.app import create_app
from hub.db import make_engine, migrate, session_factory
from hub.ledger.models import EventRecord, MachineSession
from hub.registry.models import Machine, MachineKind, Member, Organisation, Site
from hub.registry.numbers import member_ref
from machinerie.servers import PostgreSQL

log = logging.getLogger("bench.console_pages")
NOW = datetime.now(UTC)
PAGES = {
    "live_board": "/console/",
    "usage_year": "/console/usage?period=year",
    "usage_csv_year": "/console/usage.csv?period=year",
    "devices": "/console/devices",
}
KINDS = [MachineKind.LASER_CUTTER, MachineKind.CNC_MILL, MachineKind.PRINTER_3D]
CHUNK = 5_000
PASSWORD = "bench-manager-password"  # noqa: S105 - a throwaway database's
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def seed(
    sessions: sessionmaker[Session], *, count: int, per_session: int, rng: random.Random
) -> int:
    """The registry, `count` sessions over the past year and their events; how many events."""
    members = _registry(sessions)
    engine = sessions.kw["bind"]
    machines = [f"machine-{i}" for i in range(10)]
    session_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    for n in range(count):
        machine = rng.choice(machines)
        began = NOW - timedelta(seconds=rng.randrange(365 * 86400))
        badge = rng.randrange(60, 4 * 3600)
        session_rows.append(_session(machine, rng.choice(members), began, badge, rng))
        event_rows += _events(machine, began, badge, per_session, seq=n * per_session)
        if len(event_rows) >= CHUNK:
            _insert(engine, session_rows, event_rows)
            session_rows, event_rows = [], []
    _insert(engine, session_rows, event_rows)
    return count * per_session


def _registry(sessions: sessionmaker[Session]) -> list[str]:
    with sessions.begin() as db:
        db.add(Site(id="dony", name="Ateliers Dony", timezone="Europe/Brussels"))
        db.flush()
        for i in range(10):
            kind = KINDS[i % len(KINDS)]
            db.add(
                Machine(
                    id=f"machine-{i}",
                    site_id="dony",
                    name=f"Machine {i}",
                    kind=kind,
                    device_id=f"machine-{i}-pi",
                )
            )
        for i in range(1, 27):
            db.add(Organisation(id=i, name=f"Atelier {i:02d}", category="resident_artisan"))
        db.flush()
        for i in range(1, 71):
            db.add(Member(id=i, name=f"Artisan {i}", organisation_id=(i - 1) % 26 + 1))
        create_user(db, username="gerante", password=PASSWORD, role="manager")
    return [member_ref(i) for i in range(1, 71)]


def _session(
    machine: str, member: str, began: datetime, badge: int, rng: random.Random
) -> dict[str, Any]:
    return {
        "session_id": uuid.UUID(int=rng.getrandbits(128)),
        "site": "dony",
        "machine_id": machine,
        "device_id": f"{machine}-pi",
        "member_id": member,
        "badge_uid": "04A2246AB12C80",
        "role": "user",
        "started_at": began,
        "ended_at": began + timedelta(seconds=badge),
        "end_reason": "badge_out",
        "unclean": False,
        "badge_seconds": badge,
        "busy_seconds": badge // 2,
        "energy_wh": badge / 10,
    }


def _events(
    machine: str, began: datetime, badge: int, per_session: int, *, seq: int
) -> list[dict[str, Any]]:
    kinds = ["session_started", "job_started", "job_ended", "session_ended", "access_denied"]
    return [
        {
            "event_id": uuid.uuid4(),
            "site": "dony",
            "device_id": f"{machine}-pi",
            "machine_id": machine,
            "boot_id": uuid.UUID(int=0),
            "seq": seq + k,
            "type": kinds[k % len(kinds)],
            "time": began + timedelta(seconds=badge * k // per_session),
            "clock_synced": True,
            # The ledger keeps each event's JSON: a realistic size matters for the scans.
            "payload": json.dumps({"data": {"job_id": f"job-{seq + k}", "name": "boite.svg"}})
            + " " * 250,
            "received_at": began + timedelta(seconds=badge),
        }
        for k in range(per_session)
    ]


def _insert(engine: Any, sessions: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        if sessions:
            connection.execute(insert(MachineSession), sessions)
        if events:
            connection.execute(insert(EventRecord), events)


def logged_in(client: TestClient) -> None:
    form = client.get("/console/login")
    found = CSRF.search(form.text)
    assert found, "no login form"
    body = {"username": "gerante", "password": PASSWORD, "csrf": found.group(1)}
    answer = client.post("/console/login", data=body)
    assert answer.status_code == 303, answer.text


def measure(url: str, rounds: int) -> dict[str, dict[str, float]]:
    engine = make_engine(url)
    try:
        app = create_app(sessions=session_factory(engine))
        timings: dict[str, dict[str, float]] = {}
        with TestClient(app, follow_redirects=False) as client:
            logged_in(client)
            for name, path in PAGES.items():
                client.get(path)  # warm: templates compiled, first queries planned
                seconds = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    answer = client.get(path)
                    seconds.append(time.perf_counter() - started)
                    assert answer.status_code == 200, (path, answer.status_code)
                timings[name] = {
                    "median_ms": round(statistics.median(seconds) * 1000, 1),
                    "max_ms": round(max(seconds) * 1000, 1),
                }
        return timings
    finally:
        engine.dispose()


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'hub.db'}"
        return
    with PostgreSQL() as server:
        yield server.create_database("console_bench")


def one_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="machinerie-bench-") as folder,
        database(kind, Path(folder)) as url,
    ):
        engine = make_engine(url)
        migrate(engine)
        started = time.perf_counter()
        events = seed(
            session_factory(engine),
            count=args.sessions,
            per_session=args.events_per_session,
            rng=random.Random(7),
        )
        engine.dispose()
        log.info(
            "%s: seeded %d sessions, %d events in %.1f s",
            kind,
            args.sessions,
            events,
            time.perf_counter() - started,
        )
        timings = measure(url, args.rounds)
        log.info("%s: %s", kind, timings)
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--events-per-session", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    results = {kind: one_database(kind, args) for kind in ("sqlite", "postgresql")}
    flat = {
        f"{kind}_{page}_{stat}": value
        for kind, pages in results.items()
        for page, stats in pages.items()
        for stat, value in stats.items()
    }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "events": args.sessions * args.events_per_session,
                **flat,
                "max_rss_mb": round(peak_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
