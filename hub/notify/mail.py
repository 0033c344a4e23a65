"""Alerts by e-mail through an SMTP relay (smtplib): plain text, UTF-8, one message per alert.

The Message-ID is derived from the alert id, so a resent alert (delivery is at-least-once) is
the same message to the recipients' mail clients, which show it once.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from contracts.models import Alert
from hub.notify.channels import DeliveryFailed, Outgoing
from hub.notify.models import Channel
from hub.notify.settings import EmailSettings
from hub.notify.text import body, subject

log = logging.getLogger(__name__)

ALERT_ID_HEADER = "X-Machinerie-Alert-Id"
# 421: the server is closing the connection (overloaded, shutting down): the whole relay waits.
SERVICE_UNAVAILABLE = 421


def build_message(
    alert: Alert, settings: EmailSettings, now: datetime, timezone: str | None = None
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject(alert, settings.language)
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = f"<alert-{alert.alert_id}@{_domain(settings.sender)}>"
    message[ALERT_ID_HEADER] = str(alert.alert_id)
    # Quoted-printable keeps accents intact through relays that do not speak 8BITMIME.
    text = body(alert, settings.language, timezone)
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    return message


class EmailSender:
    channel = Channel.EMAIL

    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings

    def send(self, outgoing: Outgoing) -> None:
        message = build_message(
            outgoing.alert, self._settings, datetime.now(UTC), outgoing.timezone
        )
        try:
            refused = self._submit(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryFailed(
                f"every recipient refused: {codes}", permanent=all(c >= 500 for c in codes)
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            # A wrong password is fixed by the manager, not by the message: keep the alert.
            raise DeliveryFailed(_reply("login refused", exc), unreachable=True) from None
        except smtplib.SMTPResponseException as exc:
            raise _refusal(exc) from None
        except (OSError, smtplib.SMTPException) as exc:
            # OSError covers refused connections, timeouts and TLS failures.
            raise DeliveryFailed(f"SMTP relay unreachable: {exc!r}", unreachable=True) from None
        if refused:
            log.warning("alert %s not delivered to %s", outgoing.alert.alert_id, sorted(refused))

    def _submit(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        settings = self._settings
        context = ssl.create_default_context()
        smtp = (
            smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=context
            )
            if settings.security == "tls"
            else smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        )
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=context)
            if settings.username is not None:
                password = settings.password.get_secret_value() if settings.password else ""
                smtp.login(settings.username, password)
            return smtp.send_message(
                message, from_addr=settings.sender, to_addrs=settings.recipients
            )

    def close(self) -> None:
        """Nothing to close: each delivery opens its own connection (alerts are rare)."""


def _refusal(exc: smtplib.SMTPResponseException) -> DeliveryFailed:
    code = exc.smtp_code
    reason = _reply("refused", exc)
    if code == SERVICE_UNAVAILABLE:
        return DeliveryFailed(reason, unreachable=True)
    # 4xx: try again later; 5xx: this message will never be accepted as it is.
    return DeliveryFailed(reason, permanent=500 <= code < 600)


def _reply(what: str, exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"SMTP {what}: {exc.smtp_code} {text}".strip()


def _domain(address: str) -> str:
    _, _, domain = address.rpartition("@")
    return domain.strip("<> ") or "machinerie.invalid"
