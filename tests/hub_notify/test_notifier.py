"""The notifier running in the background: wake-ups, channels apart, replicas, settings."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from hub.errors import Invalid
from hub.ingest.metrics import Metrics
from hub.notify import Notifier, NotifySettings
from tests.hub_notify.conftest import (
    WebhookReceiver,
    at,
    eventually,
    make_alert,
    notify_settings,
    queue_alert,
    rows,
)
from tests.smtp import SmtpServer


@pytest.fixture
def silent_endpoint() -> Iterator[socket.socket]:
    """A listening socket whose server takes connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server


def test_an_alert_goes_out_once_the_notifier_is_woken(
    engine: Engine, smtp_server: SmtpServer, notifiers: list[Notifier]
) -> None:
    # A poll far longer than the test: only the wake-up can explain a prompt delivery.
    settings = notify_settings(
        email={"enabled": True, "port": smtp_server.port, "recipients": ["a@dony.example"]},
        poll_s=3600,
    )
    notifier = Notifier(engine, settings, mqtt=None, metrics=None)
    notifiers.append(notifier)
    notifier.start()
    queue_alert(engine, make_alert(), settings, now=None)
    notifier.wake()
    assert len(smtp_server.wait_for(1, timeout=5)) == 1


def test_a_hanging_webhook_does_not_hold_up_the_mail(
    engine: Engine, smtp_server: SmtpServer, silent_endpoint: socket.socket
) -> None:
    url = f"http://127.0.0.1:{silent_endpoint.getsockname()[1]}/hook"
    settings = notify_settings(
        email={"enabled": True, "port": smtp_server.port, "recipients": ["a@dony.example"]},
        webhook={"enabled": True, "url": url, "timeout_s": 30},
    )
    notifier = Notifier(engine, settings, mqtt=None, metrics=None)
    queue_alert(engine, make_alert(), settings, now=None)
    queue_alert(engine, make_alert(), settings, now=None)
    notifier.start()
    try:
        # Both mails arrive while the webhook still waits for its first answer.
        assert len(smtp_server.wait_for(2, timeout=10)) == 2
        webhook_rows = [row for row in rows(engine) if row.channel == "webhook"]
        assert [row.sent_at for row in webhook_rows] == [None, None]
    finally:
        silent_endpoint.close()  # resets the waiting request, so the notifier stops at once
        notifier.stop()


def test_a_failing_channel_does_not_hold_up_another(
    engine: Engine, smtp_server: SmtpServer, webhook: WebhookReceiver, metrics: Metrics
) -> None:
    settings = notify_settings(
        email={"enabled": True, "port": smtp_server.port, "recipients": ["a@dony.example"]},
        webhook={"enabled": True, "url": webhook.url},
    )
    smtp_server.refuse(10)
    webhook.statuses = []
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 1
    assert len(webhook.received) == 1
    assert metrics.value("alert_delivery_failures_total", channel="email") == 1
    assert metrics.value("alerts_sent_total", channel="webhook") == 1


def test_two_replicas_deliver_each_alert_once(
    engine: Engine, webhook: WebhookReceiver, notifiers: list[Notifier]
) -> None:
    settings = notify_settings(webhook={"enabled": True, "url": webhook.url})
    alerts = [make_alert() for _ in range(12)]
    for alert in alerts:
        queue_alert(engine, alert, settings, now=None)
    for _ in range(2):
        notifier = Notifier(engine, settings, mqtt=None, metrics=None)
        notifiers.append(notifier)
        notifier.start()
    eventually(lambda: all(row.sent_at is not None for row in rows(engine)))
    keys = [received.headers["Idempotency-Key"] for received in webhook.received]
    assert sorted(keys) == sorted(str(alert.alert_id) for alert in alerts)


def test_the_metrics_are_described(engine: Engine) -> None:
    metrics = Metrics()
    Notifier(engine, notify_settings(), mqtt=None, metrics=metrics).stop()
    text = metrics.render()
    for name in ("alerts_sent_total", "alert_delivery_failures_total", "alerts_abandoned_total"):
        assert f"# HELP machinerie_{name} " in text


def test_mqtt_enabled_without_a_broker_login_is_refused(engine: Engine) -> None:
    with pytest.raises(Invalid, match="broker login"):
        Notifier(engine, NotifySettings(), mqtt=None, metrics=None)


def test_the_defaults() -> None:
    settings = NotifySettings()
    assert [c.value for c in settings.enabled_channels()] == ["mqtt"]
    assert (settings.max_attempts, settings.retry_initial_s, settings.retry_max_s) == (8, 30, 3600)
    assert settings.poll_s == 5
    assert settings.email.language == "fr"


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"email": {"enabled": True}}, "no recipients"),
        ({"webhook": {"enabled": True}}, "url"),
        ({"webhook": {"enabled": True, "url": "ftp://x"}}, "url"),
        ({"retry_initial_s": 100, "retry_max_s": 10}, "retry_max_s"),
        ({"email": {"language": "nl"}}, "language"),
        ({"email": {"smtp_host": "x"}}, "smtp_host"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_settings_are_refused_clearly(values: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        NotifySettings.model_validate(values)
