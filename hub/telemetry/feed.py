"""Machine telemetry from the broker to the writer: `machinerie/v1/+/+/telemetry` at QoS 0.

A client of its own, apart from the ingest's: telemetry is at most once and must never queue in
the ingest's persistent session behind billable events, nor hold it up. A sample that is not a
valid `machinerie.telemetry/1` from the device its topic names is refused, logged (once a
minute per reason, a flood must not fill the journal) and counted; nothing else is affected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from contracts.codec import decode_telemetry
from contracts.errors import ContractError
from contracts.models import Telemetry
from contracts.topics import Kind, parse, site_filter
from edge.link import QuietDisconnect
from hub.ingest.metrics import Metrics
from hub.mqtt import BrokerLogin, Refusals, Subscription
from hub.telemetry.points import machine_point

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())


Offer = Callable[[Iterable[str]], object]


class TelemetryFeed:
    """Subscribes to every device's telemetry (of one site, or all) and offers `machine`
    points; `handle` is the whole decision, usable without a broker."""

    def __init__(
        self,
        login: BrokerLogin,
        offer: Offer,
        *,
        site: str | None = None,
        group: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._login = login
        self._offer = offer
        self._metrics = metrics or Metrics()
        _describe(self._metrics)
        where = site_filter(Kind.TELEMETRY, site or "+", login.prefix)
        # Replicas in a group share the samples instead of each writing every one.
        self.filter = f"$share/{group}/{where}" if group else where
        # A clean session at QoS 0: samples missed while away are not worth replaying.
        self._subscription = Subscription(
            login, "telemetry", [(self.filter, 0)], self.handle, paho_log
        )
        self._refuse = Refusals(self._metrics, "telemetry_rejected_total", log)

    def start(self) -> TelemetryFeed:
        self._subscription.start()
        return self

    def stop(self) -> None:
        self._subscription.stop()

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscription.wait_subscribed(timeout)

    def handle(self, topic: str, payload: bytes) -> bool:
        """Offer the sample's point; False (counted, logged) when the sample is refused."""
        sample = self._accept(topic, payload)
        if sample is None:
            return False
        self._metrics.inc("telemetry_samples_total")
        self._offer(machine_point(sample))
        return True

    def _accept(self, topic: str, payload: bytes) -> Telemetry | None:
        try:
            where = parse(topic, self._login.prefix)
            sample = decode_telemetry(payload)
        except ContractError as exc:
            self._refuse("malformed", f"telemetry on {topic} refused: {exc}")
            return None
        if (sample.site, sample.device_id) != (where.site, where.device):
            self._refuse(
                "forged",
                f"telemetry on {topic} names site {sample.site!r} device "
                f"{sample.device_id!r}: refused",
            )
            return None
        return sample


def _describe(metrics: Metrics) -> None:
    metrics.describe("telemetry_samples_total", "Telemetry samples accepted from devices.")
    metrics.describe(
        "telemetry_rejected_total", "Telemetry samples refused (malformed, forged), by reason."
    )
