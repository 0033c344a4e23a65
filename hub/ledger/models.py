"""Ledger tables: raw events, machine sessions, dead letters.

A session row can be born from either of its two events, so every session column that only one
event carries is nullable.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime

# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL wants room for billions of events.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class EventRecord(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_device_boot_seq", "device_id", "boot_id", "seq"),
        # The console's live board: each machine's newest event, and newest of a kind, by seek.
        Index("ix_events_machine_time", "machine_id", "time"),
        Index("ix_events_machine_type_time", "machine_id", "type", "time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[UUID] = mapped_column(Uuid, unique=True)
    site: Mapped[str] = mapped_column(String(63))
    device_id: Mapped[str] = mapped_column(String(63))
    machine_id: Mapped[str] = mapped_column(String(63))
    boot_id: Mapped[UUID] = mapped_column(Uuid)
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    time: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    clock_synced: Mapped[bool] = mapped_column(Boolean)
    # The whole event as JSON, so a later reader can reparse it with the contract models.
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MachineSession(Base):
    """One badge session on one machine, as the edge reported it."""

    __tablename__ = "sessions"
    # The sessions still open (the live board's holders): a handful among a year of rows.
    __table_args__ = (
        Index(
            "ix_sessions_open",
            "machine_id",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    session_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    site: Mapped[str] = mapped_column(String(63))
    machine_id: Mapped[str] = mapped_column(String(63), index=True)
    device_id: Mapped[str] = mapped_column(String(63))
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    badge_uid: Mapped[str] = mapped_column(String(32))
    # Known only from `session_started`; an ended-only session leaves these empty.
    role: Mapped[str | None] = mapped_column(String(16))
    takeover_of: Mapped[UUID | None] = mapped_column(Uuid)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    end_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unclean: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whole seconds from started_at to ended_at, what the member is billed for.
    badge_seconds: Mapped[int | None] = mapped_column(Integer)
    # Filled later from the machine controller's telemetry by the firmware bridge.
    busy_seconds: Mapped[int | None] = mapped_column(Integer)
    energy_wh: Mapped[float | None] = mapped_column(Float)


class DeadLetter(Base):
    """A message the hub could not accept, kept (truncated) for a human to look at."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    topic: Mapped[str] = mapped_column(String(512))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
