"""What the usage page shows: a period's totals and three charts (hours per machine, per day or
week, per organisation) built from the ledger's closed sessions, and the CSV of its rows.

Pure: the router reads the ledger (`hub.ledger.usage`), this module chooses the period, adds up,
lays the charts out in SVG units and writes the CSV. Hours are Decimal, rounded to hundredths.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hub.console.numbers import fixed
from hub.console.usage_charts import BarChart, ColumnChart, bar_chart, column_chart
from hub.errors import Invalid
from hub.ledger.usage import ClosedSession, UsageDetail

PRESETS = ("month", "last_month", "year", "30d")
DEFAULT_PRESET = "month"
# Two years of weekly columns is already over a hundred; longer periods are a spreadsheet's job.
MAX_DAYS = 731
# Up to two months a column per day; beyond, a column per week (from Monday).
DAILY_UP_TO = 62
# Far enough either way for any workshop, and safe from the calendar's ends in date arithmetic.
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)
TOP_ORGANISATIONS = 10
HUNDREDTHS = Decimal("0.01")
CSV_HEADER = (
    "member_id",
    "member",
    "organisation",
    "machine_id",
    "machine",
    "sessions",
    "badge_hours",
    "busy_hours",
    "measured_sessions",
    "energy_kwh",
)
# A spreadsheet runs a cell starting so as a formula: a member named "=HYPERLINK(...)" must not.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NBSP = "\u00a0"
NOT_MEASURED = "—"
Translate = Callable[..., str]


class PeriodRefused(Invalid):
    """The period asked for cannot be shown; `message_id` says why, in the visitor's words."""

    def __init__(self, message_id: str, **values: object) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.values = values


@dataclass(frozen=True)
class Period:
    """Local dates of the site, both included."""

    first: date
    last: date
    preset: str | None = None

    @property
    def end(self) -> date:
        """The day after the last, as the ledger takes a period."""
        return self.last + timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def weekly(self) -> bool:
        return self.days > DAILY_UP_TO


def preset_period(preset: str, today: date) -> Period:
    """This month, last month, this year (whole calendar periods), or the last 30 days."""
    month_start = today.replace(day=1)
    if preset == "month":
        return Period(month_start, _next_month(month_start) - timedelta(days=1), preset)
    if preset == "last_month":
        last = month_start - timedelta(days=1)
        return Period(last.replace(day=1), last, preset)
    if preset == "year":
        return Period(date(today.year, 1, 1), date(today.year, 12, 31), preset)
    if preset == "30d":
        return Period(today - timedelta(days=29), today, preset)
    raise PeriodRefused("usage.error.preset")


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def choose_period(today: date, *, preset: str = "", start: str = "", end: str = "") -> Period:
    """The period of the page's query: dates when given (both), else a preset, else this month."""
    if not start.strip() and not end.strip():
        return preset_period(preset or DEFAULT_PRESET, today)
    if not start.strip() or not end.strip():
        raise PeriodRefused("usage.error.both")
    first, last = _date(start), _date(end)
    if first > last:
        raise PeriodRefused("usage.error.reversed")
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise PeriodRefused("usage.error.too_long", days=MAX_DAYS)
    return period


def _date(text: str) -> date:
    try:
        found = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise PeriodRefused("usage.error.date", given=text.strip()[:20]) from exc
    if not EARLIEST <= found <= LATEST:
        raise PeriodRefused("usage.error.range", first=EARLIEST.year, last=LATEST.year)
    return found


def hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(HUNDREDTHS, ROUND_HALF_UP)


@dataclass
class Totals:
    """Sessions of a period, a machine, a day or an organisation, added up.

    Busy time counts only where the controller measured it, so the busy share compares it with
    the badge time of those same sessions.
    """

    sessions: int = 0
    badge_seconds: int = 0
    busy_seconds: int = 0
    measured_sessions: int = 0
    measured_badge_seconds: int = 0
    energy_wh: Decimal | None = None
    member_ids: set[str] = field(default_factory=set)

    def add(self, one: ClosedSession) -> None:
        self.sessions += 1
        self.badge_seconds += one.badge_seconds
        self.member_ids.add(one.member_id)
        if one.busy_seconds is not None:
            self.busy_seconds += one.busy_seconds
            self.measured_sessions += 1
            self.measured_badge_seconds += one.badge_seconds
        if one.energy_wh is not None:
            self.energy_wh = one.energy_wh + (self.energy_wh or 0)

    @property
    def members(self) -> int:
        return len(self.member_ids)

    @property
    def badge_hours(self) -> Decimal:
        return hours(self.badge_seconds)

    @property
    def busy_hours(self) -> Decimal | None:
        """None when no session measured it: unmeasured is not idle."""
        return hours(self.busy_seconds) if self.measured_sessions else None

    @property
    def busy_share(self) -> Decimal | None:
        """Busy time over the badge time of the measured sessions, from 0 to 1."""
        if not self.measured_badge_seconds:
            return None
        return Decimal(self.busy_seconds) / Decimal(self.measured_badge_seconds)

    @property
    def energy_kwh(self) -> Decimal | None:
        return None if self.energy_wh is None else self.energy_wh / 1000


def totals_of(sessions: Iterable[ClosedSession]) -> Totals:
    found = Totals()
    for one in sessions:
        found.add(one)
    return found


@dataclass(frozen=True)
class MachineUsage:
    machine_id: str
    name: str
    totals: Totals


def per_machine(sessions: Sequence[ClosedSession], names: dict[str, str]) -> list[MachineUsage]:
    """Every machine of `names` (idle ones too) and any other that worked; the busiest first."""
    found: dict[str, Totals] = {machine_id: Totals() for machine_id in names}
    for one in sessions:
        found.setdefault(one.machine_id, Totals()).add(one)
    rows = [MachineUsage(m, names.get(m, m), totals) for m, totals in found.items()]
    return sorted(rows, key=lambda r: (-r.totals.badge_seconds, r.name.casefold(), r.machine_id))


@dataclass(frozen=True)
class Bucket:
    """A day, or a week from Monday cut to the period's ends."""

    first: date
    last: date
    totals: Totals


def per_bucket(sessions: Sequence[ClosedSession], period: Period) -> list[Bucket]:
    """Every day (or week) of the period, the empty ones too, in order."""
    starts = _bucket_starts(period)
    found = {first: Totals() for first in starts}
    for one in sessions:
        found[_bucket_of(one.local_day, period)].add(one)
    ends = [*(s - timedelta(days=1) for s in starts[1:]), period.last]
    return [Bucket(first, last, found[first]) for first, last in zip(starts, ends, strict=True)]


def _bucket_of(day: date, period: Period) -> date:
    if not period.weekly:
        return day
    return max(day - timedelta(days=day.weekday()), period.first)


def _bucket_starts(period: Period) -> list[date]:
    days = (period.first + timedelta(days=n) for n in range(period.days))
    return sorted({_bucket_of(day, period) for day in days})


@dataclass(frozen=True)
class OrganisationUsage:
    """`kind` is `organisation`, `private` (members of none) or `others` (beyond the top)."""

    kind: str
    name: str
    sessions: int
    badge_seconds: int
    members: int
    count: int = 1

    @property
    def badge_hours(self) -> Decimal:
        return hours(self.badge_seconds)


def per_organisation(
    details: Iterable[UsageDetail], *, top: int = TOP_ORGANISATIONS
) -> list[OrganisationUsage]:
    """The `top` organisations by badge time (private persons as one), then all others as one."""
    sessions: dict[tuple[str, str], int] = defaultdict(int)
    seconds: dict[tuple[str, str], int] = defaultdict(int)
    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    for d in details:
        key = ("private", "") if d.organisation_id is None else _organisation(d)
        sessions[key] += d.sessions
        seconds[key] += d.badge_seconds
        members[key].add(d.member_id)
    ranked = sorted(seconds, key=lambda k: (-seconds[k], k[1].casefold(), k[0]))
    rows = [OrganisationUsage(k[0], k[1], sessions[k], seconds[k], len(members[k])) for k in ranked]
    if len(rows) <= top:
        return rows
    rest = ranked[top:]
    others = OrganisationUsage(
        kind="others",
        name="",
        sessions=sum(sessions[k] for k in rest),
        badge_seconds=sum(seconds[k] for k in rest),
        members=len(set().union(*(members[k] for k in rest))),
        count=len(rest),
    )
    return [*rows[:top], others]


def _organisation(detail: UsageDetail) -> tuple[str, str]:
    return "organisation", detail.organisation_name or str(detail.organisation_id)


def csv_text(details: Iterable[UsageDetail]) -> str:
    """One line per member and machine; `;` between fields, hours with a dot, as the ledger
    rounds them; busy hours and energy empty where nothing was measured."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for d in details:
        writer.writerow(
            (
                _cell(d.member_id),
                _cell(d.member_name),
                _cell(d.organisation_name or ""),
                _cell(d.machine_id),
                _cell(d.machine_name),
                d.sessions,
                hours(d.badge_seconds),
                hours(d.busy_seconds) if d.measured_sessions else "",
                d.measured_sessions,
                "" if d.energy_wh is None else (d.energy_wh / 1000).quantize(Decimal("0.0001")),
            )
        )
    return out.getvalue()


def csv_bytes(details: Iterable[UsageDetail]) -> bytes:
    """The CSV in UTF-8 with a byte order mark, which Excel needs to read accents right."""
    return csv_text(details).encode("utf-8-sig")


def csv_filename(period: Period, machine_id: str | None) -> str:
    name = f"usage-{period.first.isoformat()}_{period.last.isoformat()}"
    if machine_id:
        name += "-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in machine_id)
    return name + ".csv"


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


@dataclass(frozen=True)
class Numbers:
    """Numbers and dates as the visitor reads them: `12,5 h` in French, `12.5 h` in English."""

    lang: str

    def number(self, value: Decimal | int, places: int = 2) -> str:
        return fixed(value, self.lang, places)

    def hours(self, value: Decimal | None, places: int = 2) -> str:
        return NOT_MEASURED if value is None else f"{self.number(value, places)}{NBSP}h"

    def kwh(self, value: Decimal | None) -> str:
        return NOT_MEASURED if value is None else f"{self.number(value, 1)}{NBSP}kWh"

    def percent(self, share: Decimal | None) -> str:
        if share is None:
            return NOT_MEASURED
        figure = self.number(share * 100, 0)
        return f"{figure}{NBSP}%" if self.lang == "fr" else f"{figure}%"

    def day(self, value: date) -> str:
        return value.strftime("%d/%m/%Y" if self.lang == "fr" else "%Y-%m-%d")

    def short_day(self, value: date) -> str:
        return value.strftime("%d/%m" if self.lang == "fr" else "%m-%d")


@dataclass(frozen=True)
class Figures:
    """Everything the page shows of a period, optionally of one machine."""

    period: Period
    machine_id: str | None
    totals: Totals
    machines: list[MachineUsage]
    buckets: list[Bucket]
    organisations: list[OrganisationUsage]


def figures(
    period: Period,
    *,
    sessions: Sequence[ClosedSession],
    details: Iterable[UsageDetail],
    machines: dict[str, str],
    machine_id: str | None = None,
) -> Figures:
    """The period's figures from its closed sessions and their per-member details; `machines`
    names the machines to list (idle ones too)."""
    shown = {m: n for m, n in machines.items() if machine_id in (None, m)}
    return Figures(
        period=period,
        machine_id=machine_id,
        totals=totals_of(sessions),
        machines=per_machine(sessions, shown),
        buckets=per_bucket(sessions, period),
        organisations=per_organisation(details),
    )


@dataclass(frozen=True)
class Charts:
    machines: BarChart
    days: ColumnChart
    organisations: BarChart


def charts(found: Figures, numbers: Numbers, t: Translate) -> Charts:
    """The three charts, labelled in the visitor's language."""
    return Charts(
        machines=bar_chart(
            [
                (m.name, [("badge", m.totals.badge_hours), ("busy", m.totals.busy_hours)])
                for m in found.machines
            ]
        ),
        days=column_chart(
            [(numbers.short_day(b.first), b.totals.badge_hours) for b in found.buckets]
        ),
        organisations=bar_chart(
            [(organisation_label(o, t), [("badge", o.badge_hours)]) for o in found.organisations]
        ),
    )


def organisation_label(row: OrganisationUsage, t: Translate) -> str:
    if row.kind == "private":
        return t("usage.private")
    if row.kind == "others":
        return t("usage.others", count=row.count)
    return row.name
