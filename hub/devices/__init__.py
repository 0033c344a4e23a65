"""Edge devices' accounts on the MQTT broker (a registry, the password file and the ACL) and
their health (`health`, `watch`: each device's last status, for the console).

The hub writes Mosquitto's `password_file` and `acl_file` itself (no `mosquitto_passwd` needed)
and hands each device's password out once; see docs/contract.md, "Broker ACL".
"""

from hub.devices.aclfile import HUB_USERNAME, acl_rules, render_acl
from hub.devices.broker import BrokerFiles, hub_password, write_broker_files
from hub.devices.store import (
    DeviceAccount,
    add_device,
    get_device,
    list_devices,
    remove_device,
    reset_password,
)

__all__ = [
    "HUB_USERNAME",
    "BrokerFiles",
    "DeviceAccount",
    "acl_rules",
    "add_device",
    "get_device",
    "hub_password",
    "list_devices",
    "remove_device",
    "render_acl",
    "reset_password",
    "write_broker_files",
]
