"""Alerts by webhook: the contract's alert JSON, POSTed as is, signed when a secret is set.

A receiver verifies `X-Machinerie-Signature: sha256=<hex>` (HMAC-SHA256 of the raw body with the
shared secret) and drops repeats by `Idempotency-Key`, the alert id: delivery is at-least-once.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from hub.errors import Invalid
from hub.notify.channels import DeliveryFailed, Outgoing
from hub.notify.models import Channel
from hub.notify.settings import WebhookSettings

SIGNATURE_HEADER = "X-Machinerie-Signature"
# Request Timeout and Too Many Requests: the receiver asks us to come back later.
RETRIED_CLIENT_ERRORS = frozenset({408, 429})


def signature(body: bytes, secret: str) -> str:
    """The X-Machinerie-Signature value of `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers(outgoing: Outgoing, secret: str | None) -> dict[str, str]:
    sent = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(outgoing.alert.alert_id),
    }
    if secret:
        sent[SIGNATURE_HEADER] = signature(outgoing.payload, secret)
    return sent


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks to wait: delta-seconds or an HTTP-date (RFC 9110
    10.2.3); None when absent or unreadable, a date in the past is 0."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # an HTTP-date is always GMT
    return max(0.0, (when - now).total_seconds())


def is_retried(status: int) -> bool:
    """Whether a non-2xx answer may go away by itself (server trouble, throttling)."""
    return status >= 500 or status in RETRIED_CLIENT_ERRORS


class WebhookSender:
    channel = Channel.WEBHOOK

    def __init__(self, settings: WebhookSettings) -> None:
        if settings.url is None:
            raise Invalid("notify.webhook needs a url")
        self._url = settings.url
        self._secret = settings.secret.get_secret_value() if settings.secret else None
        self._client = httpx.Client(
            timeout=settings.timeout_s, headers={"User-Agent": "machinerie-hub"}
        )

    def send(self, outgoing: Outgoing) -> None:
        try:
            response = self._client.post(
                self._url, content=outgoing.payload, headers=headers(outgoing, self._secret)
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(
                f"webhook {self._url} unreachable: {exc!r}", unreachable=True
            ) from None
        if response.is_success:
            return
        status = response.status_code
        raise DeliveryFailed(
            f"webhook {self._url} answered {status} {response.reason_phrase}",
            permanent=not is_retried(status),
            retry_after_s=retry_after_s(response.headers.get("Retry-After"), datetime.now(UTC)),
        )

    def close(self) -> None:
        self._client.close()
