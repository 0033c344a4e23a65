"""The notification queue in the hub's database: enqueueing, claiming, settling, backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from hub.db import make_engine, migrate, session_factory
from hub.errors import Invalid
from hub.ingest.metrics import Metrics
from hub.notify import Channel, Notification, Notifier, enqueue
from hub.notify.queue import CLAIM_S, backoff_s, claim_next
from machinerie.servers import free_port
from tests.hub_notify.conftest import (
    T0,
    WebhookReceiver,
    at,
    make_alert,
    notify_settings,
    queue_alert,
    rows,
)


def test_one_row_per_enabled_channel_and_none_for_a_repeat(engine: Engine) -> None:
    settings = notify_settings(
        email={"enabled": True, "recipients": ["atelier@dony.example"]},
        mqtt={"enabled": True},
    )
    alert = make_alert()
    assert queue_alert(engine, alert, settings, device_level="pi-3") == 2
    assert queue_alert(engine, alert, settings, device_level="pi-3") == 0

    queued = rows(engine)
    assert sorted(row.channel for row in queued) == [Channel.EMAIL, Channel.MQTT]
    for row in queued:
        assert (row.alert_id, row.site, row.machine_id) == (alert.alert_id, "dony", "laser-1")
        assert (row.device_level, row.attempts, row.next_attempt_at) == ("pi-3", 0, T0)
        assert (row.sent_at, row.abandoned_at, row.created_at) == (None, None, T0)


def test_a_channel_enabled_later_gets_the_alert_queued_again(engine: Engine) -> None:
    alert = make_alert()
    queue_alert(engine, alert, notify_settings(mqtt={"enabled": True}))
    both = notify_settings(mqtt={"enabled": True}, webhook={"enabled": True, "url": "http://x"})
    assert queue_alert(engine, alert, both) == 1


def test_the_rows_belong_to_the_callers_transaction(engine: Engine) -> None:
    settings = notify_settings(mqtt={"enabled": True})
    with session_factory(engine)() as session:
        assert enqueue(session, make_alert(), device_level="laser-1", settings=settings) == 1
        session.rollback()
    assert rows(engine) == []


def test_a_device_level_that_is_no_valid_id_is_refused(engine: Engine) -> None:
    settings = notify_settings(mqtt={"enabled": True})
    with session_factory(engine)() as session, pytest.raises(Invalid, match="device level"):
        enqueue(session, make_alert(), device_level="Laser 1/#", settings=settings)


def test_nothing_is_queued_when_every_channel_is_off(engine: Engine) -> None:
    assert queue_alert(engine, make_alert(), notify_settings()) == 0
    assert rows(engine) == []


def test_a_claimed_row_is_not_claimed_again_until_its_claim_runs_out(
    engine: Engine, webhook: WebhookReceiver
) -> None:
    settings = notify_settings(webhook={"enabled": True, "url": webhook.url})
    queue_alert(engine, make_alert(), settings)
    sessions = session_factory(engine)
    # A hub claims the row, then dies before it can say how the delivery went.
    assert claim_next(sessions, Channel.WEBHOOK, at(0)) is not None
    assert claim_next(sessions, Channel.WEBHOOK, at(1)) is None
    with Notifier(engine, settings, mqtt=None, metrics=None) as notifier:
        assert notifier.deliver_due(at(CLAIM_S - 1)) == 0
        assert notifier.deliver_due(at(CLAIM_S)) == 1
    [row] = rows(engine)
    assert row.attempts == 2
    assert len(webhook.received) == 1


def test_due_rows_go_oldest_first(engine: Engine) -> None:
    settings = notify_settings(mqtt={"enabled": True})
    older, newer = make_alert(), make_alert()
    with session_factory(engine).begin() as session:
        enqueue(session, newer, device_level="laser-1", settings=settings, now=at(5))
        enqueue(session, older, device_level="laser-1", settings=settings, now=at(1))
    sessions = session_factory(engine)
    first = claim_next(sessions, Channel.MQTT, at(10))
    second = claim_next(sessions, Channel.MQTT, at(10))
    assert first is not None and second is not None
    assert (first.alert_id, second.alert_id) == (older.alert_id, newer.alert_id)
    assert claim_next(sessions, Channel.MQTT, at(10)) is None


def test_an_unreadable_stored_alert_is_abandoned_and_counted(
    engine: Engine, webhook: WebhookReceiver, metrics: Metrics
) -> None:
    settings = notify_settings(webhook={"enabled": True, "url": webhook.url})
    broken, fine = make_alert(), make_alert()
    queue_alert(engine, broken, settings)
    queue_alert(engine, fine, settings)
    with session_factory(engine).begin() as session:
        session.execute(
            update(Notification)
            .where(Notification.alert_id == broken.alert_id)
            .values(payload='{"schema": "machinerie.alert/1"}')
        )
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 1

    first, second = rows(engine)
    assert first.abandoned_at == at(0)
    assert first.last_error is not None and "unreadable" in first.last_error
    assert second.sent_at == at(0)
    assert metrics.value("alerts_abandoned_total", channel="webhook") == 1
    assert [r.headers["Idempotency-Key"] for r in webhook.received] == [str(fine.alert_id)]


def test_a_long_error_is_cut_to_fit(engine: Engine) -> None:
    url = f"http://127.0.0.1:{free_port()}/" + "x" * 600  # nothing listens there
    settings = notify_settings(webhook={"enabled": True, "url": url})
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=None) as notifier:
        assert notifier.deliver_due(at(0)) == 0
    [row] = rows(engine)
    assert row.last_error is not None and len(row.last_error) == 500


def test_the_backoff_doubles_up_to_its_ceiling() -> None:
    settings = notify_settings(retry_initial_s=30, retry_max_s=3600)
    delays = [backoff_s(attempts, settings) for attempts in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_s(10_000, settings) == 3600


def test_replicas_skip_a_row_another_one_is_claiming(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    migrate(engine)
    try:
        settings = notify_settings(mqtt={"enabled": True})
        first, second = make_alert(), make_alert()
        queue_alert(engine, first, settings)
        queue_alert(engine, second, settings, now=T0 + timedelta(seconds=1))
        with Session(engine) as other, other.begin():
            # Another replica is in the middle of claiming the oldest row.
            other.scalars(
                select(Notification)
                .where(Notification.alert_id == first.alert_id)
                .with_for_update()
            ).one()
            claimed = claim_next(session_factory(engine), Channel.MQTT, at(10))
        assert claimed is not None and claimed.alert_id == second.alert_id
    finally:
        engine.dispose()
