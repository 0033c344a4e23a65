"""Alerts on MQTT: the contract's alert JSON on `<prefix>/v1/<site>/<device>/alert`, QoS 1.

Not retained: an alert is an occurrence, and a listener that connects later must not take an old
one for news. A delivery counts only once the broker has PUBACKed it. The client keeps no
session of its own: the queue in the database is what survives a restart.
"""

from __future__ import annotations

import logging
import threading

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt import KEEPALIVE_S
from contracts.topics import Kind, topic
from edge.link import QuietDisconnect
from hub.mqtt import BrokerLogin, part_client
from hub.notify.channels import DeliveryFailed, Outgoing
from hub.notify.models import Channel
from hub.notify.settings import MqttAlertSettings

paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())

# A broker back from an outage is found again within this many seconds.
RECONNECT_MAX_S = 10


class MqttSender:
    channel = Channel.MQTT

    def __init__(self, login: BrokerLogin, settings: MqttAlertSettings) -> None:
        self._login = login
        self._timeout_s = settings.timeout_s
        self._connected = threading.Event()
        self._client = part_client(login, "notify", paho_log, reconnect_max_s=RECONNECT_MAX_S)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        # Asynchronous: a broker that is down at start is retried by paho's own loop.
        self._client.connect_async(login.host, login.port, KEEPALIVE_S)
        self._client.loop_start()

    def send(self, outgoing: Outgoing) -> None:
        where = topic(outgoing.alert.site, outgoing.device_level, Kind.ALERT, self._login.prefix)
        if not self._connected.wait(self._timeout_s):
            raise DeliveryFailed(
                f"broker {self._login.host}:{self._login.port} not connected", unreachable=True
            )
        info = self._client.publish(where, outgoing.payload, qos=1, retain=False)
        # Any other rc means paho only queued it: we cannot promise the broker has it.
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise DeliveryFailed(f"publish on {where} failed: rc {info.rc}", unreachable=True)
        info.wait_for_publish(self._timeout_s)
        if not info.is_published():
            raise DeliveryFailed(
                f"the broker did not PUBACK {where} within {self._timeout_s} s", unreachable=True
            )

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self,
        _client: Client,
        _userdata: object,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not reason.is_failure:
            self._connected.set()

    def _on_disconnect(
        self,
        _client: Client,
        _userdata: object,
        _flags: DisconnectFlags,
        _reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
