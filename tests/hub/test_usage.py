"""Usage reports: a session counts in the local month where it starts, closed sessions only."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

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


def test_usage_per_member_organisation_and_machine(db: Session) -> None:
    ada, grace, org = _seed(db)
    assert usage(db, month="2026-11", group_by="member") == [
        UsageRow(key=grace, label="Ada Lovelace", sessions=1, badge_seconds=45 * 60),
        UsageRow(key=ada, label="Ada", sessions=2, badge_seconds=90 * 60),
    ]
    assert usage(db, month="2026-11", group_by="organisation") == [
        UsageRow(key=str(org), label="Atelier Bois", sessions=2, badge_seconds=5400),
        UsageRow(key="private", label="Private persons", sessions=1, badge_seconds=2700),
    ]
    [laser] = usage(db, month="2026-11", group_by="machine")
    assert (laser.key, laser.label, laser.sessions) == ("laser-1", "Trotec Speedy 400", 3)
    assert laser.hours == Decimal("2.25")
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
        )
    ]


def test_periods_are_checked() -> None:
    assert month_period("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    with pytest.raises(Invalid):
        month_period("2026-13")


def test_bad_queries_are_refused(db: Session) -> None:
    with pytest.raises(Invalid):
        usage(db, month="2026-11", group_by="colour")
    with pytest.raises(Invalid):
        usage(db, start=date(2026, 12, 1), end=date(2026, 11, 1), group_by="member")
