"""Device health: recording each device's status, and reading every gated machine's device.

`record_status` keeps the newest status per device (statuses may arrive out of order: a late
last will of a previous boot must not mark a rebooted device offline); `device_health` gives
the console one line per machine that has a device, heard from or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.models import Status
from hub.devices.models import FIRMWARE_LENGTH, DeviceStatus
from hub.registry.access import acl_version
from hub.registry.models import Machine, Site

VERSION_LENGTH = 64


class Reach(StrEnum):
    ONLINE = "online"
    SILENT = "silent"  # says online, but no status for longer than its interval allows
    OFFLINE = "offline"  # its last will, or a clean goodbye
    NEVER = "never"  # no status heard since the hub has kept them


@dataclass(frozen=True)
class DeviceHealth:
    machine_id: str
    machine_name: str
    site: str
    timezone: str
    device_id: str
    reach: Reach
    since: datetime | None
    acl_behind: bool
    # What the device last said (None: never heard); fields as in the status.
    status: DeviceStatus | None


def record_status(session: Session, status: Status, received_at: datetime) -> bool:
    """Keep `status` as the device's newest; False when an older one (ignored) arrived late.

    The caller has checked the status comes from the registered device of its machine.
    """
    row = session.get(DeviceStatus, status.device_id, with_for_update=True)
    if row is None:
        row = DeviceStatus(
            device_id=status.device_id, online_since=received_at, status_time=status.time
        )
        session.add(row)
    elif _stale(row, status):
        return False
    elif row.online != status.online:
        row.online_since = received_at
    _apply(row, status, received_at)
    return True


def _stale(row: DeviceStatus, status: Status) -> bool:
    """A status older than the kept one, except a last will: it is timed at its boot's connect
    and arrives long after, so it counts whenever it belongs to the boot the hub knows."""
    if status.time >= row.status_time:
        return False
    is_will_of_known_boot = not status.online and status.boot_id == row.boot_id
    return not is_will_of_known_boot


def _apply(row: DeviceStatus, status: Status, received_at: datetime) -> None:
    row.site = status.site
    row.machine_id = status.machine_id
    row.boot_id = status.boot_id
    row.online = status.online
    row.status_time = max(status.time, row.status_time)
    row.received_at = received_at
    if status.online:
        row.last_seen_at = received_at
        row.version = _cut(status.version, VERSION_LENGTH)
        row.firmware = _cut(status.firmware, FIRMWARE_LENGTH)
        row.acl_version = status.acl_version
        row.locked = status.locked
        row.relay_on = status.relay_on
        row.outbox_backlog = status.outbox_backlog
        row.holder = None if status.session is None else status.session.member_id
        row.counters = json.dumps(status.counters, sort_keys=True)
    # A last will repeats the connect-time view: keep what the device said while alive.


def _cut(text: str | None, length: int) -> str | None:
    return None if text is None else text[:length]


def registered_machine(session: Session, status: Status) -> str | None:
    """Why `status` does not come from its machine's registered device, or None when it does."""
    machine = session.scalar(select(Machine).where(Machine.device_id == status.device_id))
    if machine is None:
        return f"device {status.device_id!r} is not registered to any machine"
    if (machine.id, machine.site_id) != (status.machine_id, status.site):
        return (
            f"device {status.device_id!r} is registered to {machine.site_id}/{machine.id}, "
            f"not {status.site}/{status.machine_id}"
        )
    return None


def device_health(session: Session, now: datetime, stale_after_s: float) -> list[DeviceHealth]:
    """Every machine with a device, by site and machine name."""
    rows = session.execute(
        select(Machine, Site, DeviceStatus)
        .join(Site, Site.id == Machine.site_id)
        .outerjoin(DeviceStatus, DeviceStatus.device_id == Machine.device_id)
        .where(Machine.device_id.is_not(None))
        .order_by(Site.id, Machine.name)
    ).all()
    current = acl_version(session)
    return [
        _health(machine, site, status, now=now, stale_after_s=stale_after_s, current_acl=current)
        for machine, site, status in rows
    ]


def _health(
    machine: Machine,
    site: Site,
    status: DeviceStatus | None,
    *,
    now: datetime,
    stale_after_s: float,
    current_acl: int,
) -> DeviceHealth:
    reach, since = _reach(status, now, stale_after_s)
    held = None if status is None else status.acl_version
    return DeviceHealth(
        machine_id=machine.id,
        machine_name=machine.name,
        site=site.name,
        timezone=site.timezone,
        device_id=machine.device_id or "",
        reach=reach,
        since=since,
        acl_behind=held is not None and held < current_acl,
        status=status,
    )


def _reach(
    status: DeviceStatus | None, now: datetime, stale_after_s: float
) -> tuple[Reach, datetime | None]:
    if status is None:
        return Reach.NEVER, None
    if not status.online:
        return Reach.OFFLINE, status.online_since
    seen = status.last_seen_at or status.received_at
    if now - seen > timedelta(seconds=stale_after_s):
        return Reach.SILENT, seen
    return Reach.ONLINE, status.online_since
