"""The console's device health page, for managers and maintainers: each machine's edge device,
whether it is online, when it was last heard, how many events wait in its outbox, which access
list it holds and which software and controller firmware it runs.

The figures are the devices' own retained statuses, kept by the hub's device watch
(`hub.devices.watch`); a device that says "online" but has been silent for longer than
`[devices] stale_after_s` is shown as silent, since its last will may never have come.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.api.deps import Now, SessionDep
from hub.api.models import UserRole
from hub.console.auth import Visitor, page_for
from hub.console.web import render
from hub.devices.health import Reach, device_health
from hub.devices.settings import DeviceWatchSettings

router = APIRouter(prefix="/console", include_in_schema=False)
DevicesPage = Annotated[Visitor, page_for(UserRole.MANAGER, UserRole.MAINTAINER)]
# An outbox this long means the device has not reached the hub for a while: say it loudly.
BACKLOG_WARN = 100


@router.get("/devices")
def devices_page(request: Request, db: SessionDep, now: Now, visitor: DevicesPage) -> Response:
    settings: DeviceWatchSettings = request.app.state.device_settings
    devices = device_health(db, now, settings.stale_after_s)
    counts = {reach: sum(1 for d in devices if d.reach is reach) for reach in Reach}
    return render(
        request,
        "devices.html",
        visitor=visitor,
        devices=devices,
        counts=counts,
        watching=request.app.state.device_watch is not None,
        backlog_warn=BACKLOG_WARN,
        now=now,
    )
