"""Alerts by webhook, POSTed to a real HTTP endpoint on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from contracts.codec import decode, encode
from contracts.models import Alert
from hub.ingest.metrics import Metrics
from hub.notify import Notifier, NotifySettings
from hub.notify.webhook import is_retried, retry_after_s
from tests.hub_notify.conftest import (
    WebhookReceiver,
    at,
    make_alert,
    notify_settings,
    queue_alert,
    rows,
)

SECRET = "partagé-avec-le-récepteur"  # noqa: S105 (a test value)


def hook_settings(url: str, **values: Any) -> NotifySettings:
    return notify_settings(
        webhook={"enabled": True, "url": url, "secret": SECRET, "timeout_s": 5}, **values
    )


def test_the_alert_json_arrives_signed_with_its_idempotency_key(
    engine: Engine, webhook: WebhookReceiver, metrics: Metrics
) -> None:
    settings = hook_settings(webhook.url)
    alert = make_alert()
    queue_alert(engine, alert, settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 1

    [received] = webhook.received
    assert decode(Alert, received.body) == alert
    assert json.loads(received.body) == json.loads(encode(alert))
    expected = hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["X-Machinerie-Signature"], f"sha256={expected}")
    assert received.headers["Idempotency-Key"] == str(alert.alert_id)
    assert received.headers["Content-Type"] == "application/json"
    assert metrics.value("alerts_sent_total", channel="webhook") == 1


def test_without_a_secret_nothing_is_signed(engine: Engine, webhook: WebhookReceiver) -> None:
    settings = notify_settings(webhook={"enabled": True, "url": webhook.url})
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=None) as notifier:
        notifier.deliver_due(at(0))
    [received] = webhook.received
    assert "X-Machinerie-Signature" not in received.headers


def test_a_server_error_is_retried_and_the_alert_delivered_once(
    engine: Engine, webhook: WebhookReceiver, metrics: Metrics
) -> None:
    settings = hook_settings(webhook.url)
    webhook.statuses = [500]
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 0
        [row] = rows(engine)
        assert row.next_attempt_at == at(10)
        assert row.last_error is not None and "500" in row.last_error
        assert notifier.deliver_due(at(10)) == 1
        assert notifier.deliver_due(at(10_000)) == 0

    assert len(webhook.received) == 2
    [row] = rows(engine)
    assert (row.attempts, row.sent_at, row.abandoned_at) == (2, at(10), None)
    assert metrics.value("alert_delivery_failures_total", channel="webhook") == 1
    assert metrics.value("alerts_sent_total", channel="webhook") == 1


def test_a_throttling_receiver_is_left_alone_for_as_long_as_it_asked(
    engine: Engine, webhook: WebhookReceiver, metrics: Metrics
) -> None:
    settings = hook_settings(webhook.url)
    webhook.statuses = [429]
    webhook.retry_after = "120"
    queue_alert(engine, make_alert(), settings)
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 0
        first = rows(engine)[0]
        assert first.next_attempt_at == at(120)  # not the 10 s of the first backoff
        assert notifier.deliver_due(at(60)) == 0  # the other alert waits as well
        assert len(webhook.received) == 1
        assert notifier.deliver_due(at(120)) == 2
    assert metrics.value("alerts_sent_total", channel="webhook") == 2


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    assert retry_after_s("120", now) == 120.0
    assert retry_after_s("Sun, 06 Dec 2026 10:05:00 GMT", now) == 300.0
    assert retry_after_s("Sun, 06 Dec 2026 09:00:00 GMT", now) == 0.0  # already past
    assert retry_after_s("soon", now) is None
    assert retry_after_s(None, now) is None


def test_a_receiver_asking_for_days_is_tried_again_within_hours(
    engine: Engine, webhook: WebhookReceiver
) -> None:
    settings = hook_settings(webhook.url)
    webhook.statuses = [503]
    webhook.retry_after = str(3 * 24 * 3600)
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=None) as notifier:
        notifier.deliver_due(at(0))
    [row] = rows(engine)
    assert row.next_attempt_at == at(6 * 3600)


def test_a_not_found_is_abandoned_without_retrying(
    engine: Engine, webhook: WebhookReceiver, metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    settings = hook_settings(webhook.url)
    webhook.statuses = [404]
    alert = make_alert()
    queue_alert(engine, alert, settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 0
        assert notifier.deliver_due(at(10_000)) == 0

    assert len(webhook.received) == 1
    [row] = rows(engine)
    assert (row.attempts, row.abandoned_at, row.next_attempt_at) == (1, at(0), None)
    assert row.last_error is not None and "404" in row.last_error
    assert metrics.value("alerts_abandoned_total", channel="webhook") == 1
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert str(alert.alert_id) in record.getMessage()
    assert "404" in record.getMessage()


def test_after_max_attempts_the_alert_is_abandoned_and_counted(
    engine: Engine, webhook: WebhookReceiver, metrics: Metrics
) -> None:
    settings = hook_settings(webhook.url, max_attempts=3)
    webhook.statuses = [503] * 10
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        for moment in (0, 10, 30):
            assert notifier.deliver_due(at(moment)) == 0
        assert notifier.deliver_due(at(10_000)) == 0

    assert len(webhook.received) == 3
    [row] = rows(engine)
    assert (row.attempts, row.abandoned_at, row.sent_at) == (3, at(30), None)
    assert metrics.value("alert_delivery_failures_total", channel="webhook") == 3
    assert metrics.value("alerts_abandoned_total", channel="webhook") == 1
    assert metrics.value("alerts_sent_total", channel="webhook") == 0


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        *[(500, True), (502, True), (503, True), (408, True), (429, True)],
        *[(400, False), (401, False), (404, False), (410, False), (301, False)],
    ],
)
def test_which_answers_are_worth_retrying(status: int, retried: bool) -> None:
    assert is_retried(status) is retried
