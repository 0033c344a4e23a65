"""The hub's MQTT logins: one account, a client per part (ingest aside, which keeps a
persistent session of its own).

Each part gets a unique client id: two hub replicas, or two parts of one hub, must never take
over each other's connection.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from contracts.topics import DEFAULT_PREFIX

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


@dataclass(frozen=True)
class BrokerLogin:
    host: str
    port: int
    username: str
    password: str
    protocol: Literal["3.1.1", "5"] = "5"
    prefix: str = DEFAULT_PREFIX


def part_client(
    login: BrokerLogin,
    part: str,
    logger: logging.Logger,
    *,
    reconnect_max_s: int = RECONNECT_MAX_S,
) -> Client:
    """A clean-session client for one part of the hub (`acl`, `telemetry`, `cmd`, `notify`),
    logged in, reconnecting on its own once started; callbacks are the caller's."""
    v5 = login.protocol == "5"
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{login.username}-{part}-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
    )
    client.enable_logger(logger)
    client.reconnect_delay_set(RECONNECT_MIN_S, reconnect_max_s)
    client.username_pw_set(login.username, login.password)
    return client
