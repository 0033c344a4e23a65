"""Maintenance tables: plans, the interventions that reset them, alerts, and machine lockouts.

A plan's counters run over a cycle: from its creation (cycle 0) or from its last intervention
(the cycle is that intervention's id). The unique (plan, cycle, level) of `maintenance_alerts`
is what keeps one alert per crossing across hub restarts and replicas.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from contracts.models import AlertCounter, AlertLevel
from hub.db import Base, UtcDateTime
from hub.registry.models import string_enum


class MaintenancePlan(Base):
    __tablename__ = "maintenance_plans"
    __table_args__ = (UniqueConstraint("machine_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machines.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    counter: Mapped[AlertCounter] = mapped_column(string_enum(AlertCounter, "alert_counter"))
    warning: Mapped[float | None] = mapped_column(Float)
    limit: Mapped[float] = mapped_column(Float)
    lock_at_limit: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The current cycle: 0 from creation, else the id of the intervention that began it.
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    cycle_started_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Intervention(Base):
    """Maintenance done on a plan, as a maintainer logged it. Never changed afterwards."""

    __tablename__ = "maintenance_interventions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("maintenance_plans.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(200))  # the user who logged it
    what: Mapped[str] = mapped_column(Text)
    parts: Mapped[str] = mapped_column(Text, default="")
    # The counter when it was reset, for the machine's service history.
    value: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MaintenanceAlert(Base):
    __tablename__ = "maintenance_alerts"
    __table_args__ = (UniqueConstraint("plan_id", "cycle", "level"),)

    alert_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("maintenance_plans.id"), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    level: Mapped[AlertLevel] = mapped_column(string_enum(AlertLevel, "alert_level"))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))


class MachineLock(Base):
    """Who holds a machine locked: maintenance (plans over their limit), a person, or both.

    The monitor unlocks only what maintenance locked; a manual lock stays until lifted by hand.
    """

    __tablename__ = "maintenance_locks"

    machine_id: Mapped[str] = mapped_column(ForeignKey("machines.id"), primary_key=True)
    locked_by_maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The plans over their limit, for people: "laser tube, lens and mirror cleaning".
    plans: Mapped[str] = mapped_column(Text, default="")
    manual_by: Mapped[str | None] = mapped_column(String(200))
    manual_reason: Mapped[str | None] = mapped_column(String(500))
    manual_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # An UNLOCK the broker has not confirmed yet: sent again until it is.
    unlock_pending: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def locked(self) -> bool:
        return self.locked_by_maintenance or self.manual_by is not None
