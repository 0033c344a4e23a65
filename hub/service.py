"""The hub's composition root: database, ingest, access-list sync and (when given) the web API.

Every part connects lazily and retries on its own, so the hub starts with the broker or the
database still down; `run` blocks until SIGTERM or SIGINT and then stops the parts in reverse.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

import uvicorn
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hub.acl.keys import load_or_create_signing_key
from hub.acl.sync import AccessListSync
from hub.billing.settings import BillingSettings
from hub.commands import CommandSender
from hub.db import make_engine, migrate, session_factory
from hub.devices.watch import DeviceWatch
from hub.errors import StoreUnavailable
from hub.ingest.consumer import Ingest
from hub.ingest.metrics import Metrics
from hub.ingest.sink import LedgerSink
from hub.maintenance.monitor import MaintenanceMonitor
from hub.mqtt import BrokerLogin
from hub.notify import Notifier, enqueue
from hub.settings import ApiSettings, HubSettings
from hub.telemetry.feed import TelemetryFeed
from hub.telemetry.sessions import SessionExport
from hub.telemetry.writer import TelemetryWriter

log = logging.getLogger(__name__)


class AppFactory(Protocol):
    """What hub.api.app.create_app looks like: the ASGI app over the hub's shared parts."""

    def __call__(
        self,
        *,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        on_registry_change: Callable[[], None],
        billing_settings: BillingSettings,
        on_maintenance_change: Callable[[], None],
        secure_cookies: bool,
    ) -> Any: ...


class WebServer:
    """uvicorn in a thread of its own; signals stay with the hub's main thread."""

    def __init__(self, app: Any, api: ApiSettings, log_level: str) -> None:
        config = uvicorn.Config(app, host=api.host, port=api.port, log_level=log_level.lower())
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)

    def start(self) -> WebServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(15)


class Telemetry:
    """The writer and what feeds it (machine samples from the broker, closed sessions from the
    ledger); nothing at all unless `[telemetry] enabled`."""

    def __init__(
        self, settings: HubSettings, login: BrokerLogin, engine: Engine, metrics: Metrics
    ) -> None:
        self.writer: TelemetryWriter | None = None
        self.feed: TelemetryFeed | None = None
        self.sessions: SessionExport | None = None
        config = settings.telemetry
        if not config.enabled:
            return
        writer = TelemetryWriter(config, metrics=metrics)
        metrics.gauge(
            "telemetry_points_buffered",
            lambda: writer.stats.buffered,
            "Telemetry lines waiting for the store.",
        )
        self.writer = writer
        self.feed = TelemetryFeed(
            login,
            writer.offer,
            site=settings.site_id,
            group=settings.mqtt.group,
            metrics=metrics,
        )
        self.sessions = SessionExport(
            engine,
            writer.offer,
            data_dir=settings.data_dir,
            # The ledger keeps the sessions: wait for room instead of making the writer drop.
            room=lambda: writer.stats.buffered < config.max_buffer_points // 2,
            # Replicas commit concurrently: ids may become visible out of order.
            settle_s=config.session_settle_s if settings.mqtt.group else 0.0,
            metrics=metrics,
        )

    def start(self) -> None:
        for part in (self.writer, self.feed, self.sessions):
            if part is not None:
                part.start()

    def stop(self) -> None:
        for stop in (self.sessions, self.feed):
            if stop is not None:
                stop.stop()
        if self.writer is not None:
            self.writer.stop(timeout=5.0)


class Maintenance:
    """Maintenance counters, alerts and lockouts: the monitor, the alert notifier, and the
    command sender that locks and unlocks machines; the monitor only when enabled."""

    def __init__(
        self,
        settings: HubSettings,
        login: BrokerLogin,
        engine: Engine,
        metrics: Metrics,
        telemetry: Telemetry,
    ) -> None:
        self.notifier: Notifier | None = None
        self.commands: CommandSender | None = None
        self.monitor: MaintenanceMonitor | None = None
        if not settings.maintenance.enabled:
            return
        notify = settings.notify
        self.notifier = Notifier(engine, notify, mqtt=login, metrics=metrics)
        self.commands = CommandSender(login)
        writer = telemetry.writer
        self.monitor = MaintenanceMonitor(
            engine,
            settings.maintenance,
            notify=lambda session, alert, device: enqueue(
                session, alert, device_level=device, settings=notify
            ),
            sender=self.commands,
            offer=writer.offer if writer is not None else None,
            after_raise=self.notifier.wake,
            metrics=metrics,
        )

    def changed(self) -> None:
        """Sessions were committed, or a maintainer changed a plan: evaluate now."""
        if self.monitor is not None:
            self.monitor.wake()

    def start(self) -> None:
        if self.notifier is not None and self.commands is not None and self.monitor is not None:
            self.notifier.start()
            self.commands.start()
            self.monitor.start()

    def stop(self) -> None:
        for part in (self.monitor, self.commands, self.notifier):
            if part is not None:
                part.stop()


class Hub:
    """Builds every part from settings (no I/O); `start` migrates and connects."""

    def __init__(self, settings: HubSettings, *, app_factory: AppFactory | None = None) -> None:
        self.settings = settings
        self._app_factory = app_factory
        self.engine = make_engine(settings.database)
        self.sessions = session_factory(self.engine)
        # One object for the ingest, the access-list sync and /metrics.
        self.metrics = Metrics()
        self.keys = load_or_create_signing_key(settings.data_dir)
        password = settings.mqtt_password()
        login = BrokerLogin(
            host=settings.mqtt.host,
            port=settings.mqtt.port,
            username=settings.mqtt.username,
            password=password,
            protocol=settings.mqtt.protocol,
            prefix=settings.mqtt.prefix,
        )
        self.telemetry = Telemetry(settings, login, self.engine, self.metrics)
        self.maintenance = Maintenance(settings, login, self.engine, self.metrics, self.telemetry)
        self.ingest = Ingest(
            settings.ingest_settings(),
            LedgerSink(self.engine),
            self.metrics,
            on_commit=self._committed,
        )
        self.acl = AccessListSync(
            self.engine,
            self.keys,
            login,
            site=settings.site_id,
            poll_s=settings.acl_poll_s,
            metrics=self.metrics,
        )
        self.devices: DeviceWatch | None = None
        if settings.devices.watch:
            self.devices = DeviceWatch(
                login, self.sessions, site=settings.site_id, metrics=self.metrics
            )
        self._web: WebServer | None = None

    def start(self) -> Hub:
        try:
            migrate(self.engine)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"cannot migrate {self.settings.database}: {exc}") from exc
        self.acl.start()
        if self.devices is not None:
            self.devices.start()
        self.telemetry.start()
        self.maintenance.start()
        self.ingest.start()
        if self._app_factory is not None:
            app = self._app_factory(
                sessions=self.sessions,
                metrics=self.metrics,
                on_registry_change=self.acl.changed,
                billing_settings=self.settings.billing,
                on_maintenance_change=self.maintenance.changed,
                secure_cookies=self.settings.api.secure_cookies,
            )
            # The console's maintainers lock and unlock machines through the monitor.
            app.state.maintenance_monitor = self.maintenance.monitor
            # Its device page and live board read the devices' statuses and samples.
            app.state.device_watch = self.devices
            app.state.device_settings = self.settings.devices
            self._web = WebServer(app, self.settings.api, self.settings.log_level).start()
        log.info("hub started (database %s)", self.engine.url.render_as_string())
        return self

    def stop(self) -> None:
        if self._web is not None:
            self._web.stop()
            self._web = None
        self.ingest.stop()
        self.maintenance.stop()
        self.telemetry.stop()
        if self.devices is not None:
            self.devices.stop()
        self.acl.stop()
        self.engine.dispose()
        log.info("hub stopped")

    def _committed(self) -> None:
        # On the ingest's thread: only wake the parts that read the ledger.
        if self.telemetry.sessions is not None:
            self.telemetry.sessions.wake()
        self.maintenance.changed()

    def run(self, stop: threading.Event | None = None) -> None:
        """Start, block until SIGTERM, SIGINT or `stop`, then stop (main thread only)."""
        stop = stop or threading.Event()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            # A timed wait, so a signal's handler is never stuck behind an uninterruptible lock.
            while not stop.wait(1.0):
                pass
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
