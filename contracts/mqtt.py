"""The MQTT session every party of the contract keeps: persistent, on MQTT 3.1.1 and 5 alike.

On 3.1.1 a client asks for it with clean_session=False; on 5, clean_start=False is not enough:
without a SessionExpiryInterval the broker discards the session, and what was queued in it, at
disconnect.
"""

from __future__ import annotations

from paho.mqtt.client import Client
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

KEEPALIVE_S = 30


def session_properties(expiry_s: int) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = expiry_s
    return properties


def connect_persistent(client: Client, host: str, port: int, *, v5: bool, expiry_s: int) -> None:
    """Start connecting (the network loop finishes it) with a session that outlives outages.

    A v3.1.1 client must have been built with clean_session=False.
    """
    if v5:
        client.connect_async(
            host, port, KEEPALIVE_S, clean_start=False, properties=session_properties(expiry_s)
        )
    else:
        client.connect_async(host, port, KEEPALIVE_S)
