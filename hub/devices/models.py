"""The hub's view of each edge device's health: its last retained `machinerie.status/1`.

One row per device, overwritten by each newer status; the console's device page reads it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Boolean, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime

FIRMWARE_LENGTH = 120


class DeviceStatus(Base):
    """What a device last said of itself, and when the hub heard it (on the hub's clock, since
    the device's own clock may be unsynchronised)."""

    __tablename__ = "device_status"

    device_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    site: Mapped[str] = mapped_column(String(63))
    machine_id: Mapped[str] = mapped_column(String(63))
    boot_id: Mapped[UUID] = mapped_column(Uuid)
    online: Mapped[bool] = mapped_column(Boolean)
    # The device's own timestamp of the status, to put statuses in order.
    status_time: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The last status saying "online": the device was alive then.
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When `online` last flipped (or the first status): "offline since".
    online_since: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[str | None] = mapped_column(String(64))
    firmware: Mapped[str | None] = mapped_column(String(FIRMWARE_LENGTH))
    acl_version: Mapped[int | None] = mapped_column(Integer)
    locked: Mapped[bool | None] = mapped_column(Boolean)
    relay_on: Mapped[bool | None] = mapped_column(Boolean)
    outbox_backlog: Mapped[int | None] = mapped_column(Integer)
    holder: Mapped[str | None] = mapped_column(String(64))
    counters: Mapped[str] = mapped_column(Text, default="{}")
