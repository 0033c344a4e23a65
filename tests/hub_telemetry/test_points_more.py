"""Line protocol of the `usage`, `maintenance` and `alert` measurements, and the numeric state."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.models import Alert, AlertCounter, AlertLevel, MachineState, Telemetry
from hub.telemetry.points import (
    STATE_CODES,
    alert_point,
    machine_point,
    maintenance_point,
    timestamp_ms,
    usage_points,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
SLICE = re.compile(
    r"^usage,hour=(\d\d),machine_id=cnc-1,site=dony,weekday=([1-7]) badge_s=(\S+) (\d+)$"
)


def slices(start: datetime, end: datetime) -> list[tuple[str, str, float, int]]:
    out = []
    for text in usage_points(
        site="dony", machine_id="cnc-1", started_at=start, ended_at=end, zone=BRUSSELS
    ):
        match = SLICE.match(text)
        assert match, text
        hour, weekday, seconds, ms = match.groups()
        out.append((weekday, hour, float(seconds), int(ms)))
    return out


def test_every_state_has_a_distinct_number_written_beside_it() -> None:
    assert len(set(STATE_CODES.values())) == len(MachineState)
    sample = Telemetry(
        site="dony",
        device_id="pi-1",
        machine_id="cnc-1",
        time=datetime(2026, 11, 23, 12, tzinfo=UTC),
        state=MachineState.ALARM,
        metrics={"state_code": 9.0, "power_w": 3.0},
    )
    (text,) = machine_point(sample)
    assert 'state="alarm",state_code=4.0,power_w=3.0 ' in text


def test_a_session_is_cut_at_local_hour_boundaries() -> None:
    # Monday 23 November 2026, 09:40 to 11:15 in Liège (08:40 to 10:15 UTC).
    start = datetime(2026, 11, 23, 8, 40, tzinfo=UTC)
    got = slices(start, start + timedelta(minutes=95))
    assert [(w, h, s) for w, h, s, _ in got] == [
        ("1", "09", 1200.0),
        ("1", "10", 3600.0),
        ("1", "11", 900.0),
    ]
    assert got[0][3] == timestamp_ms(start)
    assert got[1][3] == timestamp_ms(datetime(2026, 11, 23, 9, tzinfo=UTC))


def test_slices_across_midnight_change_weekday_and_a_dst_change_keeps_real_seconds() -> None:
    # Saturday 24 October 2026 23:30 local to Sunday 03:30 local: the night clocks go back.
    start = datetime(2026, 10, 24, 21, 30, tzinfo=UTC)
    end = datetime(2026, 10, 25, 2, 30, tzinfo=UTC)
    got = slices(start, end)
    assert sum(s for _, _, s, _ in got) == (end - start).total_seconds()
    assert got[0][:3] == ("6", "23", 1800.0)
    assert got[1][:2] == ("7", "00")
    # 02:00 local happens twice: two slices of an hour each, at distinct times.
    assert [h for _, h, _, _ in got].count("02") == 2
    assert len({ms for *_, ms in got}) == len(got)


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(min_value=0, max_value=3 * 86400),
)
def test_slices_add_up_to_the_session_and_none_spans_an_hour(start: datetime, length: int) -> None:
    start = start.replace(tzinfo=UTC)
    got = slices(start, start + timedelta(seconds=length))
    assert sum(s for _, _, s, _ in got) == pytest.approx(length, abs=1e-6)
    assert all(0 < s <= 3600 for _, _, s, _ in got)
    assert [ms for *_, ms in got] == sorted({ms for *_, ms in got})


def test_maintenance_point_carries_value_thresholds_ratio_and_due_days() -> None:
    at = datetime(2026, 11, 23, 12, tzinfo=UTC)
    text = maintenance_point(
        site="dony",
        machine_id="laser-1",
        plan="laser tube",
        counter="busy_hours",
        value=450.0,
        warning=1800.0,
        limit=2000.0,
        at=at,
        due_at=at + timedelta(days=10, hours=12),
    )
    assert text == (
        "maintenance,counter=busy_hours,machine_id=laser-1,plan=laser\\ tube,site=dony "
        f"value=450.0,limit=2000.0,warning=1800.0,ratio=0.225,due_in_days=10.5 {timestamp_ms(at)}"
    )


def test_alert_point() -> None:
    alert = Alert(
        alert_id=UUID(int=1),
        site="dony",
        machine_id="laser-1",
        plan="lens",
        counter=AlertCounter.DAYS,
        level=AlertLevel.LIMIT,
        value=31.0,
        threshold=30.0,
        raised_at=datetime(2026, 11, 23, 12, tzinfo=UTC),
        message='clean the "lens"',
    )
    assert alert_point(alert) == (
        "alert,counter=days,level=limit,machine_id=laser-1,plan=lens,site=dony "
        'value=31.0,threshold=30.0,message="clean the \\"lens\\"" '
        f"{timestamp_ms(alert.raised_at)}"
    )
