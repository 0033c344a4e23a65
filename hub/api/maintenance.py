"""Maintenance over HTTP: plans and their status, interventions, alerts.

Managers and maintainers read and write plans; whoever logs an intervention or acknowledges an
alert is recorded as the logged-in user. After a write the monitor is woken (the composition
root sets `app.state.maintenance_changed`), so an unlock follows an intervention at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel, Field, StringConstraints

from contracts.models import AlertCounter, AlertLevel
from hub.api.deps import MachineReader, Now, SessionDep
from hub.api.errors import responses
from hub.api.types import NO_NUL, DbId, Ident, Moment
from hub.maintenance import service
from hub.maintenance.counters import PlanStatus
from hub.maintenance.models import Intervention, MaintenanceAlert, MaintenancePlan
from hub.maintenance.plans import PlanState

router = APIRouter(prefix="/maintenance", tags=["maintenance"], responses=responses(401, 403))

PlanName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=NO_NUL)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=NO_NUL)]
Threshold = Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]


class PlanCreate(BaseModel):
    machine_id: Ident
    name: PlanName
    counter: AlertCounter
    warning: Threshold | None = None
    limit: Threshold
    lock_at_limit: bool = True


class PlanUpdate(BaseModel):
    """Only the fields given change; `"warning": null` removes the warning."""

    warning: Threshold | None = None
    limit: Threshold | None = None
    lock_at_limit: bool | None = None
    active: bool | None = None


class PlanPublic(BaseModel):
    id: int
    machine_id: str
    name: str
    counter: AlertCounter
    warning: float | None
    limit: float
    lock_at_limit: bool
    active: bool
    cycle_started_at: datetime
    value: float
    state: PlanState
    due_at: datetime | None

    @classmethod
    def of(cls, s: PlanStatus) -> PlanPublic:
        return cls(
            id=s.plan_id,
            machine_id=s.machine_id,
            name=s.name,
            counter=s.counter,
            warning=s.warning,
            limit=s.limit,
            lock_at_limit=s.lock_at_limit,
            active=s.active,
            cycle_started_at=s.cycle_started_at,
            value=s.value,
            state=s.state,
            due_at=s.due_at,
        )


class InterventionCreate(BaseModel):
    what: Annotated[Text, StringConstraints(min_length=1)]
    parts: Text = ""
    # When the work was done; now if not given.
    at: Moment | None = None


class InterventionPublic(BaseModel):
    id: int
    plan_id: int
    at: datetime
    by: str
    what: str
    parts: str
    value: float

    @classmethod
    def of(cls, row: Intervention) -> InterventionPublic:
        return cls(
            id=row.id,
            plan_id=row.plan_id,
            at=row.at,
            by=row.by,
            what=row.what,
            parts=row.parts,
            value=row.value,
        )


class AlertPublic(BaseModel):
    alert_id: UUID
    plan_id: int
    machine_id: str
    plan: str
    level: AlertLevel
    value: float
    threshold: float
    raised_at: datetime
    due_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, alert: MaintenanceAlert, plan: MaintenancePlan) -> AlertPublic:
        return cls(
            alert_id=alert.alert_id,
            plan_id=plan.id,
            machine_id=plan.machine_id,
            plan=plan.name,
            level=alert.level,
            value=alert.value,
            threshold=alert.threshold,
            raised_at=alert.raised_at,
            due_at=alert.due_at,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
        )


def _changed(request: Request) -> None:
    request.app.state.maintenance_changed()


def _status(db: SessionDep, plan_id: int, now: datetime) -> PlanPublic:
    [found] = service.plan_status(db, plan_id=plan_id, now=now)
    return PlanPublic.of(found)


@router.get(
    "/plans",
    summary="Plans with their counters, state and forecast due date",
    response_model=list[PlanPublic],
    responses=responses(404, 422),
)
def list_plans(
    db: SessionDep,
    now: Now,
    _reader: MachineReader,
    machine_id: Annotated[Ident | None, Query()] = None,
) -> list[PlanPublic]:
    return [PlanPublic.of(s) for s in service.plan_status(db, machine_id=machine_id, now=now)]


@router.post(
    "/plans",
    summary="Add a plan to a machine",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanPublic,
    responses=responses(404, 409, 422),
)
def create_plan(
    body: PlanCreate, db: SessionDep, now: Now, _writer: MachineReader, request: Request
) -> PlanPublic:
    plan = service.create_plan(db, now=now, **body.model_dump())
    db.commit()
    _changed(request)
    return _status(db, plan.id, now)


@router.patch(
    "/plans/{plan_id}",
    summary="Change a plan's thresholds, or switch it off",
    response_model=PlanPublic,
    responses=responses(404, 422),
)
def update_plan(
    *,
    plan_id: Annotated[DbId, Path()],
    body: PlanUpdate,
    db: SessionDep,
    now: Now,
    _writer: MachineReader,
    request: Request,
) -> PlanPublic:
    given = body.model_fields_set
    service.update_plan(
        db,
        plan_id=plan_id,
        warning=body.warning if "warning" in given else service.KEEP,
        limit=body.limit,
        lock_at_limit=body.lock_at_limit,
        active=body.active,
    )
    db.commit()
    _changed(request)
    return _status(db, plan_id, now)


@router.post(
    "/machines/{machine_id}/defaults",
    summary="Add the shipped plans for the machine's kind that it lacks",
    response_model=list[PlanPublic],
    responses=responses(404, 422),
)
def apply_defaults(
    machine_id: Annotated[Ident, Path()],
    db: SessionDep,
    now: Now,
    _writer: MachineReader,
    request: Request,
) -> list[PlanPublic]:
    added = service.apply_defaults(db, machine_id=machine_id, now=now)
    db.commit()
    _changed(request)
    return [
        PlanPublic.of(s)
        for s in service.plan_status(db, machine_id=machine_id, now=now)
        if s.plan_id in {p.id for p in added}
    ]


@router.post(
    "/plans/{plan_id}/interventions",
    summary="Log maintenance done: resets the plan's counter and acknowledges its alerts",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanPublic,
    responses=responses(404, 422),
)
def log_intervention(
    *,
    plan_id: Annotated[DbId, Path()],
    body: InterventionCreate,
    db: SessionDep,
    now: Now,
    me: MachineReader,
    request: Request,
) -> PlanPublic:
    found = service.record_intervention(
        db,
        plan_id=plan_id,
        by=me.username,
        what=body.what,
        parts=body.parts,
        at=body.at or now,
        now=now,
    )
    db.commit()
    _changed(request)
    return PlanPublic.of(found)


@router.get(
    "/plans/{plan_id}/interventions",
    summary="The plan's service history",
    response_model=list[InterventionPublic],
    responses=responses(404, 422),
)
def list_interventions(
    plan_id: Annotated[DbId, Path()], db: SessionDep, _reader: MachineReader
) -> list[InterventionPublic]:
    return [InterventionPublic.of(i) for i in service.interventions(db, plan_id=plan_id)]


@router.get(
    "/alerts",
    summary="Alerts, newest first",
    response_model=list[AlertPublic],
    responses=responses(422),
)
def list_alerts(
    db: SessionDep,
    _reader: MachineReader,
    machine_id: Annotated[Ident | None, Query()] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertPublic]:
    rows = service.list_alerts(db, machine_id=machine_id, open_only=open_only, limit=limit)
    return [AlertPublic.of(alert, plan) for alert, plan in rows]


@router.post(
    "/alerts/{alert_id}/acknowledge",
    summary="Mark an alert as seen",
    response_model=AlertPublic,
    responses=responses(404, 422),
)
def acknowledge_alert(
    alert_id: Annotated[UUID, Path()], db: SessionDep, now: Now, me: MachineReader
) -> AlertPublic:
    alert = service.acknowledge_alert(db, alert_id=alert_id, by=me.username, now=now)
    db.commit()
    plan = service.plan(db, alert.plan_id)
    return AlertPublic.of(alert, plan)
