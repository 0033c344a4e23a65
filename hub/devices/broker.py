"""The two files Mosquitto reads: the password file and the ACL, written from the registry.

The hub's own account (`hub`) is made on first use; its password is the one secret kept in
clear, in a 0600 file, because every hub replica needs it to log in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contracts.topics import DEFAULT_PREFIX
from hub.devices.aclfile import HUB_USERNAME, render_acl
from hub.devices.files import create_exclusively, write_atomically
from hub.devices.passwd import hash_password, new_password, password_line
from hub.devices.store import list_devices
from hub.errors import Invalid

HUB_PASSWORD_FILE = "broker-hub.password"  # noqa: S105 (a file name)
PASSWD_NAME = "machinerie.passwd"  # noqa: S105 (a file name)
ACL_NAME = "machinerie.acl"
# Mosquitto runs as its own user: give the hub's group read access (deploy with a folder whose
# group is `mosquitto` and setgid) rather than making password hashes world-readable.
PASSWD_MODE = 0o640
ACL_MODE = 0o644


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    passwd: Path
    acl: Path


def hub_password(data_dir: Path) -> str:
    """The hub's broker password, generated the first time it is asked for."""
    path = data_dir / HUB_PASSWORD_FILE
    create_exclusively(path, new_password().encode() + b"\n", mode=0o600)
    password = path.read_text(encoding="utf-8").strip()
    if not password:
        raise Invalid(f"{path} is empty: delete it to generate a new hub password")
    return password


def render_passwd(data_dir: Path) -> str:
    lines = [password_line(HUB_USERNAME, hash_password(hub_password(data_dir)))]
    lines += [password_line(a.device_id, a.password_hash) for a in list_devices(data_dir)]
    return "\n".join(lines) + "\n"


def write_broker_files(
    data_dir: Path, folder: Path, *, prefix: str = DEFAULT_PREFIX
) -> BrokerFiles:
    """Write `machinerie.passwd` and `machinerie.acl` into `folder`; Mosquitto rereads both on
    SIGHUP."""
    files = BrokerFiles(folder / PASSWD_NAME, folder / ACL_NAME)
    write_atomically(files.passwd, render_passwd(data_dir).encode(), mode=PASSWD_MODE)
    write_atomically(files.acl, render_acl(prefix).encode(), mode=ACL_MODE)
    return files
