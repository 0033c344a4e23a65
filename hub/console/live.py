"""The live board's data: each machine, who holds it, the job it runs, whether it is locked.

Pure queries over the ledger, the registry and the maintenance tables, read in one session; the
page renders the `Board` and refreshes it every few seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from contracts.models import EventType
from hub.devices.settings import DeviceWatchSettings
from hub.devices.watch import DeviceWatch, Latest
from hub.ledger.models import EventRecord, MachineSession
from hub.maintenance.models import MachineLock, MaintenanceAlert, MaintenancePlan
from hub.registry.models import Machine, Member, Site
from hub.registry.numbers import parse_member_ref


@dataclass(frozen=True)
class Holder:
    """The member on the machine now: registry name, or the reference the edge sent."""

    name: str
    since: datetime


@dataclass(frozen=True)
class Job:
    name: str
    since: datetime


@dataclass(frozen=True)
class Reading:
    """What the machine's controller said in its newest sample, still fresh."""

    state: str | None
    progress_pct: float | None


@dataclass(frozen=True)
class MachineCard:
    machine_id: str
    name: str
    kind: str
    site: str
    timezone: str
    holder: Holder | None
    job: Job | None
    locked: bool
    lock_reason: str
    last_event_at: datetime | None
    open_alerts: int
    reading: Reading | None = None


@dataclass(frozen=True)
class Board:
    machines: list[MachineCard]
    open_alerts: int


@dataclass(frozen=True)
class _Lock:
    locked: bool
    reason: str


@dataclass(frozen=True)
class Samples:
    """The devices' newest samples (the hub's device watch), and how old one may be to count."""

    latest: Latest
    now: datetime
    fresh_s: float

    def reading(self, machine: Machine) -> Reading | None:
        heard = self.latest(machine.site_id, machine.device_id) if machine.device_id else None
        if heard is None or heard.sample.machine_id != machine.id:
            return None
        if (self.now - heard.received_at).total_seconds() > self.fresh_s:
            return None
        progress = heard.sample.metrics.get("progress_pct")
        state = heard.sample.state
        return Reading(state=None if state is None else state.value, progress_pct=progress)


def live_board(session: Session, samples: Samples | None = None) -> Board:
    """Every machine of the registry, by site and name, with what is happening on it; with
    `samples`, what its controller reports (state, job progress)."""
    rows = session.execute(
        select(Machine, Site).join(Site, Site.id == Machine.site_id).order_by(Site.id, Machine.name)
    ).all()
    holders = _holders(session)
    jobs = _running_jobs(session)
    locks = _locks(session)
    last = _last_events(session)
    alerts = _open_alerts(session)
    cards = [
        MachineCard(
            machine_id=machine.id,
            name=machine.name,
            kind=str(machine.kind),
            site=site.name,
            timezone=site.timezone,
            holder=holders.get(machine.id),
            job=jobs.get(machine.id),
            locked=locks.get(machine.id, _Lock(False, "")).locked,
            lock_reason=locks.get(machine.id, _Lock(False, "")).reason,
            last_event_at=last.get(machine.id),
            open_alerts=alerts.get(machine.id, 0),
            reading=None if samples is None else samples.reading(machine),
        )
        for machine, site in rows
    ]
    return Board(machines=cards, open_alerts=sum(alerts.values()))


def _holders(session: Session) -> dict[str, Holder]:
    """The newest open session per machine (an edge holds at most one; a takeover ends it)."""
    # Sorted here, not in SQL: an ORDER BY would steer the planner to the started_at index and
    # a pass over every session, where the partial index of open ones holds a handful.
    found = session.scalars(select(MachineSession).where(MachineSession.ended_at.is_(None)))
    open_sessions = sorted(found, key=lambda row: row.started_at)
    names = _member_names(session, (row.member_id for row in open_sessions))
    return {
        row.machine_id: Holder(name=names.get(row.member_id, row.member_id), since=row.started_at)
        for row in open_sessions
    }


def _member_names(session: Session, refs: Iterable[str]) -> dict[str, str]:
    ids = {ref: parse_member_ref(ref) for ref in refs}
    wanted = {number for number in ids.values() if number is not None}
    if not wanted:
        return {}
    found = dict(session.execute(select(Member.id, Member.name).where(Member.id.in_(wanted))).all())
    return {ref: found[number] for ref, number in ids.items() if number in found}


def _latest(session: Session, kind: EventType) -> dict[str, EventRecord]:
    """The newest event of `kind` per registered machine.

    One index seek per machine (`ix_events_machine_type_time`), not a pass over the ledger: the
    board asks every 10 s, and a year of a workshop is hundreds of thousands of events.
    """
    newest = (
        select(func.max(EventRecord.time))
        .where(EventRecord.machine_id == Machine.id, EventRecord.type == kind.value)
        .correlate(Machine)
        .scalar_subquery()
    )
    times = {m: t for m, t in session.execute(select(Machine.id, newest)) if t is not None}
    if not times:
        return {}
    rows = session.scalars(
        select(EventRecord)
        .where(
            EventRecord.type == kind.value,
            or_(
                *(
                    and_(EventRecord.machine_id == m, EventRecord.time == t)
                    for m, t in times.items()
                )
            ),
        )
        .order_by(EventRecord.id)
    ).all()
    return {row.machine_id: row for row in rows}


def _running_jobs(session: Session) -> dict[str, Job]:
    """A machine runs a job when its last `job_started` has no `job_ended` at or after it."""
    started = _latest(session, EventType.JOB_STARTED)
    ended = _latest(session, EventType.JOB_ENDED)
    running: dict[str, Job] = {}
    for machine_id, start in started.items():
        end = ended.get(machine_id)
        if end is None or end.time < start.time:
            running[machine_id] = Job(name=_job_name(start.payload), since=start.time)
    return running


def _job_name(payload: str) -> str:
    """The job's name, else its id; a payload the contract accepted always has the id."""
    try:
        data = json.loads(payload).get("data", {})
        return str(data.get("name") or data.get("job_id") or "")
    except (ValueError, AttributeError):
        return ""


def _locks(session: Session) -> dict[str, _Lock]:
    """The maintenance lock table where it has a row, else the edge's last lockout report."""
    reported = {
        machine_id: _reported_lock(row.payload)
        for machine_id, row in _latest(session, EventType.LOCKOUT_CHANGED).items()
    }
    for lock in session.scalars(select(MachineLock)):
        reason = lock.manual_reason or lock.plans if lock.locked else ""
        reported[lock.machine_id] = _Lock(lock.locked, reason or "")
    return reported


def _reported_lock(payload: str) -> _Lock:
    try:
        data = json.loads(payload).get("data", {})
        return _Lock(bool(data.get("locked")), str(data.get("reason") or ""))
    except (ValueError, AttributeError):
        return _Lock(False, "")


def _last_events(session: Session) -> dict[str, datetime]:
    """The newest event's time per registered machine, by index seek (`ix_events_machine_time`)."""
    newest = (
        select(func.max(EventRecord.time))
        .where(EventRecord.machine_id == Machine.id)
        .correlate(Machine)
        .scalar_subquery()
    )
    return {m: t for m, t in session.execute(select(Machine.id, newest)) if t is not None}


def _open_alerts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(MaintenancePlan.machine_id, func.count())
        .select_from(MaintenanceAlert)
        .join(MaintenancePlan, MaintenancePlan.id == MaintenanceAlert.plan_id)
        .where(MaintenanceAlert.acknowledged_at.is_(None))
        .group_by(MaintenancePlan.machine_id)
    ).all()
    return {machine_id: count for machine_id, count in rows}


def samples_of(request: Request, now: datetime) -> Samples | None:
    """The running hub's device watch, when it has one (a bare API app has none)."""
    watch: DeviceWatch | None = request.app.state.device_watch
    if watch is None:
        return None
    settings: DeviceWatchSettings = request.app.state.device_settings
    return Samples(latest=watch.latest, now=now, fresh_s=settings.sample_fresh_s)
