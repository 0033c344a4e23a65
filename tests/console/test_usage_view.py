"""The usage page's pure parts: choosing a period, adding up, the top organisations, the charts'
layout, numbers as each language writes them, and the CSV's cells."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from hub.console.usage_charts import BAR_SPAN, bar_chart, column_chart, nice_ceiling
from hub.console.usage_view import (
    Numbers,
    Period,
    PeriodRefused,
    choose_period,
    csv_text,
    per_bucket,
    per_organisation,
    preset_period,
)
from hub.ledger.usage import ClosedSession, UsageDetail

TODAY = date(2026, 1, 15)


@pytest.mark.parametrize(
    ("preset", "first", "last"),
    [
        ("month", date(2026, 1, 1), date(2026, 1, 31)),
        ("last_month", date(2025, 12, 1), date(2025, 12, 31)),
        ("year", date(2026, 1, 1), date(2026, 12, 31)),
        ("30d", date(2025, 12, 17), date(2026, 1, 15)),
    ],
)
def test_presets_are_whole_local_periods(preset: str, first: date, last: date) -> None:
    period = preset_period(preset, TODAY)
    assert (period.first, period.last, period.preset) == (first, last, preset)


def test_dates_win_over_a_preset_and_are_both_included() -> None:
    period = choose_period(TODAY, preset="year", start="2026-02-28", end=" 2026-03-01 ")
    assert (period.first, period.last, period.end, period.days) == (
        date(2026, 2, 28),
        date(2026, 3, 1),
        date(2026, 3, 2),
        2,
    )
    assert choose_period(TODAY).preset == "month"


@pytest.mark.parametrize(
    ("start", "end", "message_id"),
    [
        ("2026-03-02", "2026-03-01", "usage.error.reversed"),
        ("01/03/2026", "2026-03-01", "usage.error.date"),
        ("", "2026-03-01", "usage.error.both"),
        ("2024-01-01", "2026-01-01", "usage.error.too_long"),
    ],
)
def test_a_wrong_period_is_refused_with_its_reason(start: str, end: str, message_id: str) -> None:
    with pytest.raises(PeriodRefused) as refused:
        choose_period(TODAY, start=start, end=end)
    assert refused.value.message_id == message_id


def closed(
    day: date, minutes: int, *, machine: str = "laser-1", member: str = "m-0001"
) -> ClosedSession:
    return ClosedSession(
        started_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
        local_day=day,
        member_id=member,
        machine_id=machine,
        badge_seconds=minutes * 60,
        busy_seconds=None,
        energy_wh=None,
    )


def test_long_periods_count_per_week_from_monday() -> None:
    period = Period(date(2026, 3, 1), date(2026, 5, 31))  # a Sunday to a Sunday, 92 days
    assert period.weekly
    buckets = per_bucket([closed(date(2026, 3, 1), 60), closed(date(2026, 3, 8), 30)], period)
    assert [(b.first, b.last) for b in buckets[:3]] == [
        (date(2026, 3, 1), date(2026, 3, 1)),
        (date(2026, 3, 2), date(2026, 3, 8)),
        (date(2026, 3, 9), date(2026, 3, 15)),
    ]
    assert buckets[-1].first == date(2026, 5, 25) and buckets[-1].last == date(2026, 5, 31)
    assert [b.totals.badge_seconds for b in buckets[:3]] == [3600, 1800, 0]
    assert len(per_bucket([], Period(date(2026, 3, 1), date(2026, 5, 1)))) == 62


def detail(member: str, organisation: int | None, seconds: int) -> UsageDetail:
    return UsageDetail(
        member_id=member,
        member_name=member,
        organisation_id=organisation,
        organisation_name=None if organisation is None else f"Org {organisation:02d}",
        machine_id="laser-1",
        machine_name="Laser",
        sessions=1,
        badge_seconds=seconds,
        busy_seconds=0,
        measured_sessions=0,
        energy_wh=None,
    )


def test_the_ten_busiest_organisations_then_the_others_together() -> None:
    details = [detail(f"m-{n:04d}", n, 3600 * n) for n in range(1, 14)]
    details += [detail("m-0100", None, 3600 * 20), detail("m-0101", 2, 60)]
    rows = per_organisation(details)
    assert [(r.kind, r.name) for r in rows[:3]] == [
        ("private", ""),
        ("organisation", "Org 13"),
        ("organisation", "Org 12"),
    ]
    others = rows[-1]
    assert len(rows) == 11 and others.kind == "others"
    # Organisations 1 to 4 are left: 1 + 2 + 3 + 4 hours and one minute, five members.
    assert (others.count, others.badge_seconds, others.members) == (4, 36060, 5)


def test_numbers_as_each_language_writes_them() -> None:
    french, english = Numbers("fr"), Numbers("en")
    assert french.hours(Decimal("1234.5")) == "1\u202f234,50\u00a0h"
    assert english.hours(Decimal("1234.5"), 1) == "1,234.5\u00a0h"
    assert (
        french.percent(Decimal(2) / 3) == "67\u00a0%" and english.percent(Decimal("0.5")) == "50%"
    )
    assert french.hours(None) == "—" and english.kwh(Decimal("1.25")) == "1.3\u00a0kWh"
    assert french.day(date(2026, 10, 25)) == "25/10/2026"
    assert english.day(date(2026, 10, 25)) == "2026-10-25"


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_quoted() -> None:
    row = detail("m-0001", 1, 5400)
    sneaky = replace(row, member_name='=HYPERLINK("x")')
    lines = csv_text([sneaky]).splitlines()
    assert lines[1] == 'm-0001;"\'=HYPERLINK(""x"")";Org 01;laser-1;Laser;1;1.50;;0;'


def test_the_axis_ends_on_a_round_figure() -> None:
    assert [nice_ceiling(Decimal(v)) for v in ("0", "0.3", "4", "5", "5.01", "37", "200")] == [
        1,
        Decimal("0.5"),
        5,
        5,
        10,
        50,
        200,
    ]


def test_bars_share_one_scale_and_unmeasured_draws_nothing() -> None:
    chart = bar_chart(
        [("Laser", [("badge", Decimal(4)), ("busy", None)]), ("Mill", [("badge", Decimal(2))])]
    )
    laser, mill = chart.rows
    assert laser.bars[0].width == BAR_SPAN * 4 / 5 and mill.bars[0].width == BAR_SPAN * 2 / 5
    assert laser.bars[1].width == 0 and laser.bars[1].value is None
    assert mill.label_y > laser.bars[1].y and chart.height > mill.bars[0].y


def test_columns_fit_the_plot_and_dates_do_not_crowd() -> None:
    chart = column_chart([(f"{d:02d}/10", Decimal(d % 3)) for d in range(1, 32)])
    assert len(chart.columns) == 31
    assert (
        chart.columns[0].x >= chart.left
        and chart.columns[-1].x + chart.columns[-1].width <= chart.right
    )
    assert sum(c.labelled for c in chart.columns) <= 7
    assert [t.value for t in chart.ticks] == [0, 1, 2]
    highest = max(chart.columns, key=lambda c: c.value)
    assert highest.y == pytest.approx(chart.ticks[-1].y)
