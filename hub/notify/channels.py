"""What every delivery channel is to the notifier: a `Sender`, and the one error it raises.

A failure says how to go on: `retry` later (the default), give up at once (`permanent`: the
receiver refused this alert for good), and whether the whole channel is `unreachable`, in which
case the notifier leaves that channel's other alerts alone until this one is due again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from contracts.models import Alert
from hub.errors import HubError
from hub.notify.models import Channel


class DeliveryFailed(HubError):
    """A channel could not deliver one alert."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        unreachable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.unreachable = unreachable
        # The receiver said when to come back (HTTP Retry-After): the whole channel waits.
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Outgoing:
    """One alert on its way: the model for rendering, the contract bytes for sending as is."""

    alert: Alert
    payload: bytes  # contracts.codec.encode(alert), as queued
    device_level: str  # the device level of the alert's MQTT topic
    timezone: str | None = None  # the site's, for the times people read; None: unknown


class Sender(Protocol):
    channel: Channel

    def send(self, outgoing: Outgoing) -> None:
        """Deliver, or raise DeliveryFailed; returns only once the receiver has the alert."""

    def close(self) -> None: ...
