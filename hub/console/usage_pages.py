"""The console's usage page: machine hours per period, with charts, and its CSV.

Managers and accountants choose a period (a preset or two local dates of the site, both
included) and optionally a machine; the figures come from the ledger's closed sessions
(`hub.ledger.usage`), added up and laid out by `hub.console.usage_view`. Reads only.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.deps import Now, SessionDep
from hub.api.models import UserRole
from hub.console import i18n, usage_view
from hub.console.auth import Visitor, page_for
from hub.console.usage_view import Numbers, Period, PeriodRefused
from hub.console.web import download, language, render
from hub.ledger.usage import closed_sessions, details_of
from hub.registry.models import Machine
from hub.registry.service import home_timezone

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)

UsagePage = Annotated[Visitor, page_for(UserRole.MANAGER, UserRole.ACCOUNTANT)]
# No length limits here: FastAPI would answer an overlong value with JSON, not with the page.
PresetQuery = Annotated[str, Query(alias="period")]
FromQuery = Annotated[str, Query(alias="from")]
ToQuery = Annotated[str, Query(alias="to")]
MachineQuery = Annotated[str, Query(alias="machine")]
CSV = "text/csv; charset=utf-8"
REFUSED_METRIC = "console_usage_refused"


@router.get("/usage")
def usage_page(  # noqa: PLR0917  (the period's fields)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: UsagePage,
    preset: PresetQuery = "",
    start: FromQuery = "",
    end: ToQuery = "",
    machine: MachineQuery = "",
) -> Response:
    machines = _machines(db)
    form = {"from": start, "to": end, "machine": machine}
    try:
        period = _period(db, now, preset=preset, start=start, end=end)
        chosen = _machine(machines, machine)
    except PeriodRefused as refused:
        return _refused(request, visitor, refused, form=form, machines=machines)
    found = _figures(db, period, machines, chosen)
    numbers = Numbers(language(request))
    t = i18n.translator(numbers.lang)
    return render(
        request,
        "usage.html",
        visitor=visitor,
        figures=found,
        charts=usage_view.charts(found, numbers, t),
        numbers=numbers,
        machines=machines,
        form={"from": period.first.isoformat(), "to": period.last.isoformat(), "machine": machine},
        presets=_presets(period, chosen, today=_today(db, now)),
        csv_href="/console/usage.csv?" + _query(period, chosen),
        error="",
    )


@router.get("/usage.csv")
def usage_csv(  # noqa: PLR0917  (the period's fields)
    request: Request,
    db: SessionDep,
    now: Now,
    visitor: UsagePage,
    preset: PresetQuery = "",
    start: FromQuery = "",
    end: ToQuery = "",
    machine: MachineQuery = "",
) -> Response:
    """The period's rows per member and machine, for a spreadsheet."""
    machines = _machines(db)
    try:
        period = _period(db, now, preset=preset, start=start, end=end)
        chosen = _machine(machines, machine)
    except PeriodRefused as refused:
        form = {"from": start, "to": end, "machine": machine}
        return _refused(request, visitor, refused, form=form, machines=machines)
    sessions = closed_sessions(db, start=period.first, end=period.end, machine_id=chosen)
    data = usage_view.csv_bytes(details_of(db, sessions))
    return download(data, CSV, usage_view.csv_filename(period, chosen))


def _period(db: Session, now: datetime, *, preset: str, start: str, end: str) -> Period:
    """The period asked for, in local dates of the site."""
    today = _today(db, now)
    return usage_view.choose_period(today, preset=preset, start=start, end=end)


def _today(db: Session, now: datetime) -> date:
    """Today on the workshop's calendar (its site's zone), which the presets count from."""
    return now.astimezone(ZoneInfo(home_timezone(db))).date()


def _machines(db: Session) -> dict[str, str]:
    """Every registered machine's name by id, in the order of their names."""
    rows = db.scalars(select(Machine).order_by(Machine.name, Machine.id))
    return {m.id: m.name for m in rows}


def _machine(machines: dict[str, str], machine: str) -> str | None:
    if not machine:
        return None
    if machine not in machines:
        raise PeriodRefused("usage.error.machine")
    return machine


def _figures(
    db: Session, period: Period, machines: dict[str, str], chosen: str | None
) -> usage_view.Figures:
    sessions = closed_sessions(db, start=period.first, end=period.end, machine_id=chosen)
    return usage_view.figures(
        period,
        sessions=sessions,
        details=details_of(db, sessions),
        machines=machines,
        machine_id=chosen,
    )


def _refused(
    request: Request,
    visitor: Visitor,
    refused: PeriodRefused,
    *,
    form: dict[str, str],
    machines: dict[str, str],
) -> Response:
    """The page with the form as it was sent and why it cannot be shown; nothing else."""
    numbers = Numbers(language(request))
    t = i18n.translator(numbers.lang)
    metrics = request.app.state.metrics
    metrics.describe(REFUSED_METRIC, "Console usage pages refused for their period or machine")
    metrics.inc(REFUSED_METRIC, reason=refused.message_id.rsplit(".", 1)[-1])
    log.info("usage page refused %s: %s", request.url.query[:200], refused.message_id)
    return render(
        request,
        "usage.html",
        visitor=visitor,
        status_code=400,
        figures=None,
        charts=None,
        numbers=numbers,
        machines=machines,
        form=form,
        presets=_presets(None, form["machine"] if form["machine"] in machines else None),
        csv_href="",
        error=t(refused.message_id, **refused.values),
    )


def _presets(
    period: Period | None, machine: str | None, *, today: date | None = None
) -> list[tuple[str, str, bool]]:
    """(preset, link, whether it is the period shown) for each preset, keeping the machine."""
    links = []
    for preset in usage_view.PRESETS:
        query = {"period": preset} | ({"machine": machine} if machine else {})
        current = (
            period is not None
            and today is not None
            and _same_days(period, usage_view.preset_period(preset, today))
        )
        links.append((preset, "/console/usage?" + urlencode(query), current))
    return links


def _same_days(one: Period, other: Period) -> bool:
    return (one.first, one.last) == (other.first, other.last)


def _query(period: Period, machine: str | None) -> str:
    query = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    return urlencode(query | ({"machine": machine} if machine else {}))
