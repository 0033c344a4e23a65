"""Alerts on the alert topic of a real Mosquitto."""

from __future__ import annotations

import threading
import uuid

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import Engine

from contracts.codec import decode
from contracts.models import Alert
from hub.ingest.metrics import Metrics
from hub.mqtt import BrokerLogin
from hub.notify import Notifier
from machinerie.servers import Mosquitto
from tests.hub_notify.conftest import (
    at,
    eventually,
    make_alert,
    notify_settings,
    queue_alert,
    rows,
)

ALERTS = "machinerie/v1/+/+/alert"


class Listener:
    """A subscriber that sees the publisher's retain flag (MQTT 5 retain-as-published)."""

    def __init__(self, port: int) -> None:
        self.messages: list[MQTTMessage] = []
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"listener-{uuid.uuid4().hex[:6]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda _c, _u, message: self.messages.append(message)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(ALERTS, options=SubscribeOptions(qos=1, retainAsPublished=True))
        assert subscribed.wait(5), "no SUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_alert_is_published_on_the_devices_alert_topic(
    engine: Engine, mosquitto: Mosquitto, broker_login: BrokerLogin, metrics: Metrics
) -> None:
    settings = notify_settings(mqtt={"enabled": True, "timeout_s": 5})
    listener = Listener(mosquitto.port)
    alert = make_alert()
    # The machine's edge device is its device level on the wire, not the machine id.
    queue_alert(engine, alert, settings, device_level="pi-atelier-3")
    try:
        with Notifier(engine, settings, mqtt=broker_login, metrics=metrics) as notifier:
            assert notifier.deliver_due(at(0)) == 1
        eventually(lambda: len(listener.messages) == 1)
    finally:
        listener.close()

    [message] = listener.messages
    assert message.topic == "machinerie/v1/dony/pi-atelier-3/alert"
    assert message.qos == 1
    assert message.retain is False
    assert decode(Alert, bytes(message.payload)) == alert
    assert metrics.value("alerts_sent_total", channel="mqtt") == 1


def test_an_alert_raised_while_the_broker_is_down_goes_out_once_it_is_back(
    engine: Engine, mosquitto: Mosquitto, broker_login: BrokerLogin, metrics: Metrics
) -> None:
    settings = notify_settings(mqtt={"enabled": True, "timeout_s": 1}, max_attempts=30)
    alert = make_alert()
    queue_alert(engine, alert, settings)
    mosquitto.stop()
    with Notifier(engine, settings, mqtt=broker_login, metrics=metrics) as notifier:
        assert notifier.deliver_due(at(0)) == 0
        [row] = rows(engine)
        assert row.last_error is not None and "not connected" in row.last_error
        mosquitto.start()
        listener = Listener(mosquitto.port)
        try:
            # Each round is past any backoff; the sender waits up to 1 s for its reconnection.
            rounds = iter(range(1, 30))
            eventually(lambda: notifier.deliver_due(at(1000 * next(rounds))) == 1, timeout=20)
            eventually(lambda: len(listener.messages) == 1)
        finally:
            listener.close()

    assert decode(Alert, bytes(listener.messages[0].payload)) == alert
    assert rows(engine)[0].sent_at is not None
    assert metrics.value("alerts_sent_total", channel="mqtt") == 1
    assert metrics.value("alert_delivery_failures_total", channel="mqtt") >= 1
