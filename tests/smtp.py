"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, keeping what it receives.

It can be told to refuse the next N messages with a temporary error (451, or 421 "closing") to
exercise retries, and stopped and started again on the same port to play a relay that is down.
"""

from __future__ import annotations

import email
import threading
import time
from email.message import EmailMessage
from email.policy import default
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from machinerie.servers import free_port


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refusals: list[str] = []
        self.refused = 0

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        with self.lock:
            if self.refusals:
                self.refused += 1
                return self.refusals.pop(0)
            content = envelope.content
            data = content if isinstance(content, bytes) else (content or "").encode()
            parsed = email.message_from_bytes(data, policy=default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
            self.lock.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer:
    """An SMTP relay that accepts everything (unless told to refuse) and keeps the messages."""

    def __init__(self, *, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._handler = _Handler()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO) of each accepted message."""
        with self._handler.lock:
            return list(self._handler.envelopes)

    @property
    def refused(self) -> int:
        """How many messages were refused so far."""
        with self._handler.lock:
            return self._handler.refused

    def refuse(self, count: int, code: int = 451) -> None:
        """Answer the next `count` messages with `code` (451: try later; 421: closing)."""
        reply = f"{code} 4.3.0 Try again later" if code < 500 else f"{code} 5.7.1 Refused"
        with self._handler.lock:
            self._handler.refusals += [reply] * count

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """The messages, once at least `count` have arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._handler.lock:
            while len(self._handler.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self._handler.messages)} message(s) after {timeout} s, "
                        f"expected {count}"
                    )
                self._handler.lock.wait(left)
            return list(self._handler.messages)

    def start(self) -> SmtpServer:
        self._controller = Controller(self._handler, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, exc: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
