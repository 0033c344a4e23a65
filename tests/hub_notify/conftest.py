"""Real receiving ends for alert deliveries: an SMTP relay, a webhook endpoint, an MQTT listener.

Alerts are queued with `queue_alert` and delivered with `Notifier.deliver_due(now)`, so a test
drives the clock of the retries instead of sleeping through them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, select

from contracts.models import Alert, AlertCounter, AlertLevel
from hub.db import session_factory
from hub.ingest.metrics import Metrics
from hub.mqtt import BrokerLogin
from hub.notify import Notification, Notifier, NotifySettings, enqueue
from machinerie.servers import Mosquitto
from tests.smtp import SmtpServer

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A moment `seconds` after T0, the time every test queues its alerts at."""
    return T0 + timedelta(seconds=seconds)


def make_alert(**values: Any) -> Alert:
    fields: dict[str, Any] = {
        "alert_id": uuid.uuid4(),
        "site": "dony",
        "machine_id": "laser-1",
        "plan": "tube laser",
        "counter": AlertCounter.BUSY_HOURS,
        "level": AlertLevel.WARNING,
        "value": 452.5,
        "threshold": 450,
        "raised_at": T0,
        "due_at": T0 + timedelta(days=3, hours=5),
    }
    return Alert.model_validate(fields | values)


def notify_settings(**values: Any) -> NotifySettings:
    """Every channel off unless given; small delays so a test reads its backoff easily."""
    base: dict[str, Any] = {
        "mqtt": {"enabled": False},
        "retry_initial_s": 10,
        "retry_max_s": 80,
        "max_attempts": 5,
        "poll_s": 0.05,
    }
    return NotifySettings.model_validate(base | values)


def queue_alert(
    engine: Engine,
    alert: Alert,
    settings: NotifySettings,
    *,
    device_level: str = "laser-1",
    now: datetime | None = T0,
) -> int:
    """Queue and commit, as the maintenance code does; `now=None` queues at the real time."""
    with session_factory(engine).begin() as session:
        return enqueue(session, alert, device_level=device_level, settings=settings, now=now)


def rows(engine: Engine) -> list[Notification]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def notifiers() -> Iterator[list[Notifier]]:
    """Collects the test's notifiers and stops them all at the end."""
    made: list[Notifier] = []
    yield made
    for notifier in made:
        notifier.stop()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    """An HTTP endpoint answering each POST with the next scripted status (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    retry_after: str | None = None  # sent with every answer that is not a success

    def answer(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.received.append(Received(body, headers))
            return self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer(body, dict(self.headers.items()))
            self.send_response(status)
            if status >= 300 and receiver.retry_after is not None:
                self.send_header("Retry-After", receiver.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what was received instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/machinerie"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def broker_login(mosquitto: Mosquitto) -> BrokerLogin:
    return BrokerLogin(host="127.0.0.1", port=mosquitto.port, username="hub", password="any")  # noqa: S106 (anonymous broker)
