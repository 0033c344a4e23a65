"""Alerts by e-mail, received by a real SMTP server."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import Engine

from contracts.models import AlertLevel
from hub.db import session_factory
from hub.ingest.metrics import Metrics
from hub.notify import Notifier, NotifySettings
from hub.registry import service as registry
from tests.hub_notify.conftest import at, make_alert, notify_settings, queue_alert, rows
from tests.smtp import SmtpServer


def mail_settings(smtp: SmtpServer, **email: Any) -> NotifySettings:
    return notify_settings(
        email={
            "enabled": True,
            "host": smtp.host,
            "port": smtp.port,
            "sender": "machinerie@dony.example",
            "recipients": ["atelier@dony.example", "entretien@dony.example"],
            "timeout_s": 5,
        }
        | email
    )


def text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_a_warning_arrives_in_french_with_its_headers(
    engine: Engine, smtp_server: SmtpServer, metrics: Metrics
) -> None:
    settings = mail_settings(smtp_server)
    alert = make_alert(message="Tube d'origine, 2 ans.")
    queue_alert(engine, alert, settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 1

    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == (
        "[Machinerie] Entretien à prévoir : laser-1 — tube laser (avertissement)"
    )
    assert message["From"] == "machinerie@dony.example"
    assert message["To"] == "atelier@dony.example, entretien@dony.example"
    assert message["X-Machinerie-Alert-Id"] == str(alert.alert_id)
    assert message["Message-ID"] == f"<alert-{alert.alert_id}@dony.example>"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message.get_content_charset() == "utf-8"
    body = text(message)
    assert "Machine : laser-1 (dony)" in body
    assert "Plan d'entretien : tube laser" in body
    assert "heures de fonctionnement, 452,5 h pour un seuil de 450 h" in body
    assert "Limite prévue : 2026-12-03 14:00 UTC" in body
    assert "Planifiez l'intervention" in body
    assert "Tube d'origine, 2 ans." in body
    assert smtp_server.envelopes == [
        ("machinerie@dony.example", ["atelier@dony.example", "entretien@dony.example"])
    ]
    assert metrics.value("alerts_sent_total", channel="email") == 1
    [row] = rows(engine)
    assert row.sent_at == at(0)
    assert row.attempts == 1
    assert row.next_attempt_at is None


def test_times_are_the_workshops_when_the_hub_knows_its_site(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    with session_factory(engine).begin() as db:
        registry.create_site(db, site_id="dony", name="Ateliers Dony")  # Europe/Brussels
    settings = mail_settings(smtp_server)
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=None) as notifier:
        assert notifier.deliver_due(at(0)) == 1
    body = text(smtp_server.wait_for(1)[0])
    assert "Limite prévue : 2026-12-03 15:00 (Europe/Brussels)" in body
    assert "Alerte émise : 2026-11-30 10:00 (Europe/Brussels)" in body


def test_a_limit_in_english_says_the_machine_is_locked(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    settings = mail_settings(smtp_server, language="en")
    queue_alert(engine, make_alert(level=AlertLevel.LIMIT, value=451, due_at=None), settings)
    with Notifier(engine, settings, mqtt=None, metrics=None) as notifier:
        notifier.deliver_due(at(0))

    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == (
        "[Machinerie] Maintenance overdue: laser-1 — tube laser (limit reached)"
    )
    body = text(message)
    assert "busy hours, 451 h against a threshold of 450 h" in body
    assert "Limit forecast: unknown (no recent use)" in body
    assert "locked for everyone but its maintainers" in body


def test_the_same_alert_queued_twice_is_mailed_once(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    settings = mail_settings(smtp_server)
    alert = make_alert()
    assert queue_alert(engine, alert, settings) == 1
    assert queue_alert(engine, alert, settings) == 0
    with Notifier(engine, settings, mqtt=None, metrics=None) as notifier:
        assert notifier.deliver_due(at(0)) == 1
        assert notifier.deliver_due(at(10_000)) == 0
    assert len(smtp_server.wait_for(1)) == 1


def test_a_server_refusing_twice_gets_the_mail_at_the_third_attempt(
    engine: Engine, smtp_server: SmtpServer, metrics: Metrics
) -> None:
    settings = mail_settings(smtp_server)
    smtp_server.refuse(2, code=451)
    queue_alert(engine, make_alert(), settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 0
        [row] = rows(engine)
        assert (row.attempts, row.next_attempt_at) == (1, at(10))
        assert row.last_error is not None and "451" in row.last_error
        assert notifier.deliver_due(at(9)) == 0  # not due yet: the server is not asked
        assert smtp_server.refused == 1
        assert notifier.deliver_due(at(10)) == 0
        assert rows(engine)[0].next_attempt_at == at(30)  # the delay doubled
        assert notifier.deliver_due(at(30)) == 1

    assert len(smtp_server.wait_for(1)) == 1
    assert smtp_server.refused == 2
    [row] = rows(engine)
    assert row.attempts == 3
    assert row.sent_at == at(30)
    assert row.last_error is None
    assert metrics.value("alert_delivery_failures_total", channel="email") == 2
    assert metrics.value("alerts_sent_total", channel="email") == 1


def test_a_relay_that_is_down_is_retried_with_backoff_then_gets_every_mail(
    engine: Engine, metrics: Metrics
) -> None:
    relay = SmtpServer()  # a reserved port where nothing listens yet
    settings = mail_settings(relay)
    first, second = make_alert(), make_alert(plan="lentille")
    queue_alert(engine, first, settings)
    queue_alert(engine, second, settings)
    with Notifier(engine, settings, mqtt=None, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 0
        assert [(r.attempts, r.next_attempt_at) for r in rows(engine)] == [(1, at(10)), (0, at(0))]
        # The relay is down: the other mail waits for it instead of failing on its own.
        assert notifier.deliver_due(at(5)) == 0
        assert notifier.deliver_due(at(10)) == 0
        assert [(r.attempts, r.next_attempt_at) for r in rows(engine)] == [(2, at(30)), (0, at(0))]
        with relay:
            assert notifier.deliver_due(at(30)) == 2
            messages = relay.wait_for(2)

    assert {m["X-Machinerie-Alert-Id"] for m in messages} == {
        str(first.alert_id),
        str(second.alert_id),
    }
    assert metrics.value("alert_delivery_failures_total", channel="email") == 2
    assert metrics.value("alerts_sent_total", channel="email") == 2
