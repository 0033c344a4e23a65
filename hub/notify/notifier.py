"""The delivery loop: one thread per enabled channel takes due alerts from the queue, oldest first.

A thread per channel means a mail relay that hangs until its timeout delays no webhook or MQTT
alert. A failed delivery is retried with exponential backoff; after `max_attempts` it is
abandoned, logged at ERROR and counted. When a channel's server cannot be reached at all, the
channel waits until the failed alert is due again instead of trying every other one in turn;
so does a webhook whose receiver answers with `Retry-After` (throttling, maintenance), for as
long as it asked (up to six hours) if that is longer than the backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from contracts.codec import decode
from contracts.errors import InvalidPayload
from contracts.models import Alert
from hub.db import session_factory
from hub.errors import Invalid
from hub.ingest.metrics import Metrics
from hub.mqtt import BrokerLogin
from hub.notify import queue
from hub.notify.channels import DeliveryFailed, Outgoing, Sender
from hub.notify.mail import EmailSender
from hub.notify.models import Channel
from hub.notify.mqtt import MqttSender
from hub.notify.queue import Claimed
from hub.notify.settings import NotifySettings
from hub.notify.webhook import WebhookSender
from hub.registry.models import Site

log = logging.getLogger(__name__)

SENT = "alerts_sent_total"
FAILURES = "alert_delivery_failures_total"
ABANDONED = "alerts_abandoned_total"
# A receiver's Retry-After is honoured up to this: beyond, a maintenance alert is stale news.
RETRY_AFTER_CAP_S = 6 * 3600.0
COUNTERS = {
    SENT: "Maintenance alerts delivered, by channel.",
    FAILURES: "Failed attempts to deliver a maintenance alert (each one retried or abandoned).",
    ABANDONED: "Maintenance alerts given up on (max_attempts reached or refused for good).",
}


def _now() -> datetime:
    return datetime.now(UTC)


class Notifier:
    """Delivers queued alerts; `start()` runs it in the background, `deliver_due` runs it once."""

    def __init__(
        self,
        engine: Engine,
        settings: NotifySettings,
        *,
        mqtt: BrokerLogin | None,
        metrics: Metrics | None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sessions = session_factory(engine)
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._senders = _senders(settings, mqtt)
        # Per channel: no attempt before this time, after its server could not be reached.
        self._paused_until: dict[Channel, datetime] = {}
        self._zones: dict[str, str | None] = {}
        self._wakeups = {channel: threading.Event() for channel in self._senders}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        for name, help_text in COUNTERS.items():
            if metrics is not None:
                metrics.describe(name, help_text)

    def start(self) -> None:
        for channel in self._senders:
            thread = threading.Thread(
                target=self._run, args=(channel,), name=f"notify-{channel}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the threads (a delivery under way finishes first) and close the channels."""
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            # A delivery under way ends by its channel's timeout at the latest.
            thread.join(timeout=max(self._settings.timeout_s(c) for c in self._senders) + 5)
            if thread.is_alive():
                log.warning(
                    "%s still delivering at shutdown; its alert will be retried", thread.name
                )
        self._threads.clear()
        for sender in self._senders.values():
            sender.close()

    def wake(self) -> None:
        """Look at the queue now: call it after committing a transaction that enqueued."""
        for event in self._wakeups.values():
            event.set()

    def deliver_due(self, now: datetime) -> int:
        """Deliver every alert due at `now` on every channel; returns how many were delivered."""
        return sum(self._drain(channel, now) for channel in self._senders)

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self, channel: Channel) -> None:
        wakeup = self._wakeups[channel]
        while not self._stopping.is_set():
            try:
                self._drain(channel, self._clock())
            except SQLAlchemyError as exc:
                # The queue is in the database: nothing is lost, the next round tries again.
                log.warning("alert queue unavailable for %s: %s", channel, exc)
            wakeup.wait(self._settings.poll_s)
            wakeup.clear()

    def _drain(self, channel: Channel, now: datetime) -> int:
        delivered = 0
        while not self._stopping.is_set() and self._paused_until.get(channel, now) <= now:
            claimed = queue.claim_next(self._sessions, channel, now)
            if claimed is None:
                break
            delivered += self._deliver(claimed, now)
        return delivered

    def _deliver(self, claimed: Claimed, now: datetime) -> int:
        if claimed.attempts > self._settings.max_attempts:
            # Claimed before by a hub that died mid-delivery, as often as we allow.
            self._abandon(claimed, now, "no outcome: the hub stopped during every attempt")
            return 0
        try:
            alert = decode(Alert, claimed.payload)
        except InvalidPayload as exc:
            self._abandon(claimed, now, f"stored alert unreadable: {exc}")
            return 0
        try:
            self._senders[claimed.channel].send(
                Outgoing(alert, claimed.payload, claimed.device_level, self._zone(alert.site))
            )
        except DeliveryFailed as failure:
            self._failed(claimed, now, failure)
            return 0
        except Exception as exc:
            # A bug in one channel must not stop the queue: the alert is retried and counted.
            log.exception("alert %s: %s channel crashed", claimed.alert_id, claimed.channel)
            self._failed(claimed, now, DeliveryFailed(f"internal error: {exc!r}"))
            return 0
        queue.mark_sent(self._sessions, claimed, now)
        self._count(SENT, claimed.channel)
        log.info("alert %s sent by %s", claimed.alert_id, claimed.channel)
        return 1

    def _zone(self, site: str) -> str | None:
        """The site's time zone, for the times an e-mail shows; kept once read (a site's zone
        does not move), None for a site the registry no longer has."""
        if site not in self._zones:
            with self._sessions() as session:
                self._zones[site] = session.scalar(select(Site.timezone).where(Site.id == site))
        return self._zones[site]

    def _failed(self, claimed: Claimed, now: datetime, failure: DeliveryFailed) -> None:
        self._count(FAILURES, claimed.channel)
        if failure.permanent or claimed.attempts >= self._settings.max_attempts:
            self._abandon(claimed, now, str(failure))
            return
        wait_s = queue.backoff_s(claimed.attempts, self._settings)
        if failure.retry_after_s is not None:
            # Never sooner than the receiver asked; never so late that an alert goes stale.
            wait_s = max(wait_s, min(failure.retry_after_s, RETRY_AFTER_CAP_S))
        retry_at = now + timedelta(seconds=wait_s)
        queue.reschedule(self._sessions, claimed, retry_at, str(failure))
        if failure.unreachable or failure.retry_after_s is not None:
            self._paused_until[claimed.channel] = retry_at
        log.warning(
            "alert %s by %s failed (attempt %d, next at %s): %s",
            claimed.alert_id,
            claimed.channel,
            claimed.attempts,
            retry_at.isoformat(),
            failure,
        )

    def _abandon(self, claimed: Claimed, now: datetime, reason: str) -> None:
        queue.mark_abandoned(self._sessions, claimed, now, reason)
        self._count(ABANDONED, claimed.channel)
        log.error(
            "alert %s by %s abandoned after %d attempt(s): %s",
            claimed.alert_id,
            claimed.channel,
            claimed.attempts,
            reason,
        )

    def _count(self, name: str, channel: Channel) -> None:
        if self._metrics is not None:
            self._metrics.inc(name, channel=channel.value)


def _senders(settings: NotifySettings, mqtt: BrokerLogin | None) -> dict[Channel, Sender]:
    senders: dict[Channel, Sender] = {}
    if settings.email.enabled:
        senders[Channel.EMAIL] = EmailSender(settings.email)
    if settings.webhook.enabled:
        senders[Channel.WEBHOOK] = WebhookSender(settings.webhook)
    if settings.mqtt.enabled:
        if mqtt is None:
            raise Invalid("notify.mqtt is enabled but the notifier was given no broker login")
        senders[Channel.MQTT] = MqttSender(mqtt, settings.mqtt)
    return senders
