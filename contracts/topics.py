"""Topic builders and parsers: `<prefix>/v1/<site>/<device>/<kind>`.

The device level is the broker username of the device, so a `%u` ACL pattern confines each
device to its own branch of the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from contracts.errors import InvalidTopic

VERSION = "v1"
DEFAULT_PREFIX = "machinerie"

# MQTT forbids wildcards and separators inside a level; we also keep ids printable and short
# so they can be typed on a badge-enrolment form and used as file names.
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Kind(StrEnum):
    """What travels under a device's branch, and who writes it."""

    EVENT = "event"  # device -> hub, QoS 1, billable facts (sessions, denials, alarms)
    ACK = "ack"  # hub -> device, QoS 1, event ids committed to the ledger
    ACL = "acl"  # hub -> device, QoS 1 retained, signed access list
    STATUS = "status"  # device -> all, QoS 1 retained, last will says offline
    COMMAND = "command"  # hub -> device, QoS 1, lock / unlock / force stop
    TELEMETRY = "telemetry"  # device -> hub, QoS 0, measurements
    # hub -> whoever listens (a display, Node-RED), QoS 1, not retained: maintenance alerts
    # about the machine behind the device. Devices do not subscribe to it.
    ALERT = "alert"


DEVICE_WRITES = frozenset({Kind.EVENT, Kind.STATUS, Kind.TELEMETRY})
HUB_WRITES = frozenset({Kind.ACK, Kind.ACL, Kind.COMMAND})


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic."""

    site: str
    device: str
    kind: Kind
    prefix: str = DEFAULT_PREFIX

    def __str__(self) -> str:
        return f"{self.prefix}/{VERSION}/{self.site}/{self.device}/{self.kind.value}"


def check_id(value: str, what: str) -> str:
    """Return `value` if it is a valid site or device id, else raise InvalidTopic."""
    if not _ID.fullmatch(value):
        raise InvalidTopic(f"{what} {value!r} must match {_ID.pattern}")
    return value


def topic(site: str, device: str, kind: Kind, prefix: str = DEFAULT_PREFIX) -> str:
    """Build the topic string for one device and kind."""
    check_id(site, "site")
    check_id(device, "device")
    return str(Topic(site, device, kind, prefix))


def device_filter(
    site: str, device: str, kinds: frozenset[Kind], prefix: str = DEFAULT_PREFIX
) -> list[str]:
    """Subscription filters for the given kinds of one device."""
    return [topic(site, device, kind, prefix) for kind in sorted(kinds)]


def site_filter(kind: Kind, site: str = "+", prefix: str = DEFAULT_PREFIX) -> str:
    """A filter for one kind from every device of a site (`+` for every site)."""
    if site != "+":
        check_id(site, "site")
    return f"{prefix}/{VERSION}/{site}/+/{kind.value}"


def parse(value: str, prefix: str = DEFAULT_PREFIX) -> Topic:
    """Parse a topic string; raise InvalidTopic for anything off-contract."""
    parts = value.split("/")
    if len(parts) != 5 or parts[0] != prefix or parts[1] != VERSION:
        raise InvalidTopic(f"not a {prefix}/{VERSION}/<site>/<device>/<kind> topic: {value!r}")
    _, _, site, device, kind = parts
    try:
        parsed_kind = Kind(kind)
    except ValueError:
        raise InvalidTopic(f"unknown kind {kind!r} in {value!r}") from None
    return Topic(check_id(site, "site"), check_id(device, "device"), parsed_kind, prefix)
