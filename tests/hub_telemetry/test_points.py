"""Line protocol of the `machine` and `session` measurements: exact text, and what a real store
(VictoriaMetrics) reads from it."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.models import MachineState, Telemetry
from hub.errors import Invalid
from hub.telemetry.points import escape_key, machine_point, session_point, timestamp_ms
from machinerie.servers import VictoriaMetrics

AT = datetime(2026, 11, 23, 13, 31, 0, 123456, tzinfo=UTC)
AT_MS = 1_795_440_660_123
BRUSSELS = ZoneInfo("Europe/Brussels")


def telemetry(**changes: Any) -> Telemetry:
    values: dict[str, Any] = {
        "site": "dony",
        "device_id": "laser-1-pi",
        "machine_id": "laser-1",
        "time": AT,
    }
    return Telemetry(**(values | changes))


def test_machine_point_carries_state_metrics_and_millisecond_time() -> None:
    t = telemetry(state=MachineState.RUNNING, metrics={"power_w": 812.5, "temp_c": 21.0})
    assert machine_point(t) == [
        "machine,device_id=laser-1-pi,machine_id=laser-1,site=dony "
        f'state="running",state_code=2.0,power_w=812.5,temp_c=21.0 {AT_MS}'
    ]


def test_metrics_are_floats_even_when_whole_and_non_finite_ones_are_left_out() -> None:
    t = telemetry(metrics={"count": 3, "big": 1e20, "tiny": 1e-7, "bad": math.nan, "hot": math.inf})
    [line] = machine_point(t)
    fields = line.split(" ")[1]
    # No `i` suffix: a field keeps one type (float) whatever the value.
    assert fields == "big=1e+20,count=3.0,tiny=1e-07"


def test_a_sample_without_state_or_metrics_yields_no_point() -> None:
    assert machine_point(telemetry()) == []
    assert machine_point(telemetry(metrics={"power_w": math.nan})) == []


def test_a_metric_named_state_never_clashes_with_the_state_field() -> None:
    [line] = machine_point(telemetry(state=MachineState.IDLE, metrics={"state": 2.0}))
    assert ' state="idle",state_code=1.0 ' in line
    assert machine_point(telemetry(metrics={"state": 2.0})) == []


def test_timestamps_are_whole_milliseconds_of_any_time_zone() -> None:
    brussels = AT.astimezone(ZoneInfo("Europe/Brussels"))
    assert timestamp_ms(AT) == timestamp_ms(brussels) == AT_MS
    assert timestamp_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    with pytest.raises(Invalid):
        timestamp_ms(datetime(2026, 11, 23, 13, 31))  # naive


def test_session_point_with_organisation_and_measures() -> None:
    line = session_point(
        site="dony",
        machine_id="laser-1",
        member_id="M0042",
        organisation="Atelier Dupont, SPRL",
        started_at=AT - timedelta(hours=1, seconds=0.4),
        ended_at=AT,
        zone=BRUSSELS,
        busy_s=1800.5,
        energy_wh=412.25,
    )
    assert line == (
        "session,machine_id=laser-1,member_id=M0042,month=2026-11,"
        "organisation=Atelier\\ Dupont\\,\\ SPRL,"
        f"site=dony badge_s=3600.0,busy_s=1800.5,energy_wh=412.25 {AT_MS}"
    )


def test_session_point_of_a_private_member_without_measures() -> None:
    line = session_point(
        site="dony",
        machine_id="cnc-1",
        member_id="M0007",
        organisation=None,
        started_at=AT,
        ended_at=AT + timedelta(minutes=90),
        zone=BRUSSELS,
    )
    assert line == (
        "session,machine_id=cnc-1,member_id=M0007,month=2026-11,organisation=private,site=dony "
        f"badge_s=5400.0 {AT_MS + 90 * 60_000}"
    )


def test_a_clock_step_backwards_gives_zero_badge_seconds_like_the_ledger() -> None:
    line = session_point(
        site="dony",
        machine_id="cnc-1",
        member_id="M0007",
        organisation="",
        started_at=AT,
        ended_at=AT - timedelta(seconds=5),
        zone=BRUSSELS,
    )
    assert " badge_s=0.0 " in line
    assert ",organisation=private," in line


@given(st.text(min_size=1, max_size=40))
def test_an_escaped_key_has_no_bare_separator_and_unescapes_back(text: str) -> None:
    escaped = escape_key(text)
    assert "\n" not in escaped and "\r" not in escaped
    # Read it back as a store does: a backslash takes the next character literally.
    read, rest = [], iter(escaped)
    for char in rest:
        if char in " ,=":
            pytest.fail(f"bare separator {char!r} in {escaped!r}")
        read.append(next(rest) if char == "\\" else char)
    expected = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    assert "".join(read) == expected


TRICKY = [
    "plain",
    "with space",
    "comma,inside",
    "equals=inside",
    'quote"inside',
    "back\\slash",
    "trailing\\",
    "all , = \\ at once",
    "élève à Liège",
]


def test_a_real_store_reads_back_tags_and_values_as_written(victoria: VictoriaMetrics) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    lines = [
        session_point(
            site="dony",
            machine_id="laser-1",
            member_id=name,
            organisation=f"org {name}",
            started_at=now - timedelta(seconds=60 + i),
            ended_at=now,
            zone=BRUSSELS,
            busy_s=float(i),
        )
        for i, name in enumerate(TRICKY)
    ]
    victoria.write(lines)
    series = _wait_for(victoria, "session_badge_s", len(TRICKY))
    got = {s["metric"]["member_id"]: s for s in series}
    assert set(got) == set(TRICKY)
    for i, name in enumerate(TRICKY):
        assert got[name]["metric"]["organisation"] == f"org {name}"
        assert got[name]["values"] == [60 + i]
        assert got[name]["timestamps"] == [timestamp_ms(now)]


def _wait_for(store: VictoriaMetrics, name: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        series = store.export(name)
        if len(series) >= count or time.monotonic() > deadline:
            return series
        time.sleep(0.2)
