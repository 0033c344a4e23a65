"""The hub's FastAPI application, built from a session factory and the composition root's hooks.

`create_app` holds no globals: everything a route needs hangs off `app.state`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from hub.api import auth, billing, errors, maintenance, me, metrics, sessions, usage
from hub.api.accounts import HASHER
from hub.api.deps import now_utc
from hub.api.ratelimit import FailedLogins
from hub.api.registry import badges, machines, members, organisations, qualifications, sites
from hub.billing.settings import BillingSettings
from hub.console.mount import install as install_console
from hub.devices.settings import DeviceWatchSettings
from hub.ingest.metrics import Metrics

ROUTERS = (
    auth.router,
    sites.router,
    organisations.router,
    members.router,
    badges.router,
    machines.router,
    qualifications.router,
    usage.router,
    sessions.router,
    billing.router,
    maintenance.router,
    me.router,
    metrics.router,
)


def _nothing() -> None:
    pass


def create_app(
    *,
    sessions: sessionmaker[Session],
    metrics: Metrics | None = None,
    on_registry_change: Callable[[], None] | None = None,
    billing_settings: BillingSettings | None = None,
    on_maintenance_change: Callable[[], None] | None = None,
    secure_cookies: bool = False,
) -> FastAPI:
    """The API over `sessions`; `on_registry_change` runs after each committed registry write."""
    app = FastAPI(
        title="Machinerie hub",
        summary="Registry, usage and sessions of a shared workshop's machines",
        version="1",
    )
    app.state.sessions = sessions
    app.state.metrics = metrics if metrics is not None else Metrics()
    app.state.metrics.describe("api_logins", "Password logins to the hub API, by outcome")
    app.state.on_registry_change = on_registry_change or _nothing
    app.state.billing = billing_settings or BillingSettings()
    # Wakes the maintenance monitor after a plan change or an intervention.
    app.state.maintenance_changed = on_maintenance_change or _nothing
    # Set by the hub's composition root when its maintenance monitor runs (manual locks).
    app.state.maintenance_monitor = None
    # Likewise its device watch (the console's device page and job progress) and its settings.
    app.state.device_watch = None
    app.state.device_settings = DeviceWatchSettings()
    app.state.clock = now_utc
    app.state.hasher = HASHER
    app.state.failed_logins = FailedLogins(clock=time.monotonic)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    # The web console: /console/... and / → /console/; Secure cookies behind a TLS proxy.
    install_console(app, secure_cookies=secure_cookies)
    return app
