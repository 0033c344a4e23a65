"""The `notifications` table: one row per alert and channel, the durable delivery queue.

A row is pending while `next_attempt_at` is set; delivering it sets `sent_at`, giving up sets
`abandoned_at`, and both clear `next_attempt_at`, so the delivery loop scans only live rows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import CheckConstraint, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime
from hub.registry.models import string_enum

ERROR_LENGTH = 500


class Channel(StrEnum):
    """How an alert reaches people: a mail, a POST to the workshop's own tool, an MQTT topic."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    MQTT = "mqtt"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("sent_at IS NULL OR abandoned_at IS NULL", name="sent_or_abandoned"),
        UniqueConstraint("alert_id", "channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[UUID] = mapped_column(Uuid)
    channel: Mapped[Channel] = mapped_column(string_enum(Channel, "notify_channel"))
    site: Mapped[str] = mapped_column(String(63))
    machine_id: Mapped[str] = mapped_column(String(63))
    # The device level of the alert's MQTT topic (the machine's edge device, or the machine id).
    device_level: Mapped[str] = mapped_column(String(63))
    # The alert as the contract encodes it: every channel sends or renders exactly this.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    abandoned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
