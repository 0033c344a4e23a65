"""Usage reports: a session counts in the local month where it starts, closed sessions only.

Busy time and energy are summed over the sessions that measured them, beside badge time.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from contracts.models import Event
from hub.cli import app
from hub.errors import Invalid
from hub.ledger.service import record_events
from hub.ledger.usage import UsageDetail, UsageRow, month_period, usage, usage_detail
from hub.registry import service
from hub.registry.numbers import member_ref
from tests.hub.factories import T0, ended, started, workshop

BRUSSELS = ZoneInfo("Europe/Brussels")


def _local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


def _seed(db: Session) -> tuple[str, str, int]:
    shop = workshop(db)
    org = service.create_organisation(db, name="Atelier Bois", category="resident_artisan")
    ada = service.create_member(db, name="Ada", organisation_id=org.id)
    db.commit()
    ada_ref, grace_ref = member_ref(ada.id), member_ref(shop.member_id)
    sessions = [
        (ada_ref, _local(2026, 11, 30, 23, 30), timedelta(hours=1)),  # November, by local time
        (ada_ref, _local(2026, 11, 1, 0, 30), timedelta(minutes=30)),  # October in UTC
        (grace_ref, _local(2026, 11, 15, 10, 0), timedelta(minutes=45)),
        (grace_ref, _local(2026, 10, 31, 23, 30), timedelta(hours=5)),  # October
        (grace_ref, _local(2026, 12, 1, 0, 10), timedelta(hours=7)),  # December
    ]
    events = []
    for member, start, length in sessions:
        sid = uuid.uuid4()
        events += [
            started(sid, start, member=member),
            ended(sid, start, start + length, member=member),
        ]
    # Still open: not billable yet, so not counted.
    events.append(started(uuid.uuid4(), _local(2026, 11, 20, 9, 0), member=ada_ref))
    record_events(db, events, received_at=T0)
    db.commit()
    return ada_ref, grace_ref, org.id


def _unmeasured(key: str, label: str, *, sessions: int, badge_seconds: int) -> UsageRow:
    """A row of machines without a firmware bridge or power meter: badge time only."""
    return UsageRow(
        key=key,
        label=label,
        sessions=sessions,
        badge_seconds=badge_seconds,
        busy_seconds=0,
        measured_sessions=0,
        energy_wh=None,
    )


def test_usage_per_member_organisation_and_machine(db: Session) -> None:
    ada, grace, org = _seed(db)
    assert usage(db, month="2026-11", group_by="member") == [
        _unmeasured(grace, "Ada Lovelace", sessions=1, badge_seconds=45 * 60),
        _unmeasured(ada, "Ada", sessions=2, badge_seconds=90 * 60),
    ]
    assert usage(db, month="2026-11", group_by="organisation") == [
        _unmeasured(str(org), "Atelier Bois", sessions=2, badge_seconds=5400),
        _unmeasured("private", "Private persons", sessions=1, badge_seconds=2700),
    ]
    [laser] = usage(db, month="2026-11", group_by="machine")
    assert (laser.key, laser.label, laser.sessions) == ("laser-1", "Trotec Speedy 400", 3)
    assert laser.hours == Decimal("2.25")
    assert (laser.busy_hours, laser.measured_sessions, laser.energy_wh) == (Decimal(0), 0, None)
    assert [r.badge_seconds for r in usage(db, month="2026-10", group_by="machine")] == [18000]
    assert [r.badge_seconds for r in usage(db, month="2026-12", group_by="machine")] == [25200]


def test_raw_badge_time_per_member_organisation_and_machine(db: Session) -> None:
    ada, _, org = _seed(db)
    detail = usage_detail(db, start=date(2026, 11, 30), end=date(2026, 12, 1))
    assert detail == [
        UsageDetail(
            member_id=ada,
            member_name="Ada",
            organisation_id=org,
            organisation_name="Atelier Bois",
            machine_id="laser-1",
            machine_name="Trotec Speedy 400",
            sessions=1,
            badge_seconds=3600,
            busy_seconds=0,
            measured_sessions=0,
            energy_wh=None,
        )
    ]


def _on(machine_id: str, event: Event) -> Event:
    """The same event as sent by the device beside another machine of the site."""
    return event.model_copy(update={"machine_id": machine_id, "device_id": f"{machine_id}-pi"})


def _seed_measured(db: Session) -> tuple[str, str, int]:
    """The laser has a firmware bridge and a meter (not always both); the CNC has neither."""
    shop = workshop(db)
    service.create_machine(
        db, machine_id="cnc-1", site_id="dony", name="Shaper", kind="cnc_mill", device_id="cnc-1-pi"
    )
    org = service.create_organisation(db, name="Atelier Bois", category="resident_artisan")
    ada = service.create_member(db, name="Ada", organisation_id=org.id)
    db.commit()
    ada_ref, grace_ref = member_ref(ada.id), member_ref(shop.member_id)
    december = _local(2026, 12, 1, 0, 10)
    sessions: list[tuple[str, str, datetime, int, dict[str, float] | None]] = [
        (ada_ref, "laser-1", _local(2026, 11, 3, 9, 0), 60, {"busy_s": 1199.6, "energy_wh": 310.5}),
        # Measured and idle: 0 s busy, which is not "not measured"; 12.25 Wh counts as 12.3.
        (ada_ref, "laser-1", _local(2026, 11, 4, 9, 0), 30, {"busy_s": 0.0, "energy_wh": 12.25}),
        (ada_ref, "cnc-1", _local(2026, 11, 5, 9, 0), 20, None),
        # The bridge reported busy time, but no meter was wired that day.
        (grace_ref, "laser-1", _local(2026, 11, 6, 9, 0), 45, {"busy_s": 1800.2}),
        (grace_ref, "cnc-1", _local(2026, 11, 7, 9, 0), 10, None),
        # November 30 in UTC but December where the laser stands.
        (grace_ref, "laser-1", december, 60, {"busy_s": 3000, "energy_wh": 999.9}),
    ]
    events = []
    for member, machine_id, start, minutes, measured in sessions:
        sid, end = uuid.uuid4(), start + timedelta(minutes=minutes)
        events += [
            _on(machine_id, started(sid, start, member=member)),
            _on(machine_id, ended(sid, start, end, member=member, machine=measured)),
        ]
    # Still open, with nothing measured yet: not counted.
    events.append(started(uuid.uuid4(), _local(2026, 11, 20, 9, 0), member=ada_ref))
    record_events(db, events, received_at=T0)
    db.commit()
    return ada_ref, grace_ref, org.id


def _measures(rows: list[UsageRow]) -> list[tuple[str, int, int, int, int, Decimal | None]]:
    return [
        (r.key, r.sessions, r.badge_seconds, r.busy_seconds, r.measured_sessions, r.energy_wh)
        for r in rows
    ]


def test_busy_time_and_energy_per_member_organisation_and_machine(db: Session) -> None:
    ada, grace, org = _seed_measured(db)
    ada_totals = (3, 110 * 60, 1200, 2, Decimal("322.8"))
    grace_totals = (2, 55 * 60, 1800, 1, None)
    assert _measures(usage(db, month="2026-11", group_by="member")) == [
        (grace, *grace_totals),
        (ada, *ada_totals),
    ]
    assert _measures(usage(db, month="2026-11", group_by="organisation")) == [
        (str(org), *ada_totals),
        ("private", *grace_totals),
    ]
    cnc, laser = usage(db, month="2026-11", group_by="machine")
    assert _measures([cnc, laser]) == [
        ("cnc-1", 2, 30 * 60, 0, 0, None),
        ("laser-1", 3, 135 * 60, 3000, 3, Decimal("322.8")),
    ]
    assert (laser.hours, laser.busy_hours) == (Decimal("2.25"), Decimal("0.83"))
    assert _measures(usage(db, month="2026-12", group_by="machine")) == [
        ("laser-1", 1, 3600, 3000, 1, Decimal("999.9"))
    ]


def test_raw_busy_time_and_energy_per_member_and_machine(db: Session) -> None:
    ada, grace, _ = _seed_measured(db)
    detail = usage_detail(db, month="2026-11")
    assert [
        (d.member_id, d.machine_id, d.busy_seconds, d.measured_sessions, d.energy_wh)
        for d in detail
    ] == [
        (grace, "cnc-1", 0, 0, None),
        (grace, "laser-1", 1800, 1, None),
        (ada, "cnc-1", 0, 0, None),
        (ada, "laser-1", 1200, 2, Decimal("322.8")),
    ]


def test_the_usage_command_shows_busy_time_and_energy(
    engine: Engine, db: Session, tmp_path: Path
) -> None:
    _seed_measured(db)
    env = {
        "MACHINERIE_HUB_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COLUMNS": "200",
    }

    def lines(group_by: str) -> dict[str, list[str]]:
        args = ["usage", "--month", "2026-11", "--group-by", group_by]
        report = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path / "hub")], env=env)
        assert report.exit_code == 0, report.output
        # Header cells are ruled with heavy bars, body cells with light ones.
        split = (re.split("[│┃]", line)[1:-1] for line in report.output.splitlines())
        cells = [[c.strip() for c in row] for row in split]
        return {row[0]: row[1:] for row in cells if row}

    by_machine = lines("machine")
    assert by_machine["Machine"][-3:] == ["Busy", "Busy h", "Energy kWh"]
    assert by_machine["cnc-1"] == ["Shaper", "2", "0:30:00", "0.50", "—", "—", "—"]
    assert by_machine["laser-1"] == [
        "Trotec Speedy 400",
        "3",
        "2:15:00",
        "2.25",
        "0:50:00",
        "0.83",
        "0.323",
    ]
    assert by_machine["Total"] == ["", "5", "2:45:00", "2.75", "0:50:00", "0.83", "0.323"]
    # Busy but never metered: busy time shown, energy a dash.
    by_member = lines("member")
    assert by_member["m-0001"] == ["Ada Lovelace", "2", "0:55:00", "0.92", "0:30:00", "0.50", "—"]
    assert by_member["m-0002"] == ["Ada", "3", "1:50:00", "1.83", "0:20:00", "0.33", "0.323"]


def test_periods_are_checked() -> None:
    assert month_period("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    with pytest.raises(Invalid):
        month_period("2026-13")


def test_bad_queries_are_refused(db: Session) -> None:
    with pytest.raises(Invalid):
        usage(db, month="2026-11", group_by="colour")
    with pytest.raises(Invalid):
        usage(db, start=date(2026, 12, 1), end=date(2026, 11, 1), group_by="member")
