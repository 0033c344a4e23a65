"""Device accounts on the broker, kept in one small JSON file in the hub's data folder.

Only password hashes are stored; each device's password is returned once, at creation or reset,
for the installer to copy to the Pi. Every change is a locked read-modify-write, atomically saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import InvalidTopic
from contracts.models import Ident, UtcTime
from contracts.topics import check_id
from hub.devices.aclfile import HUB_USERNAME
from hub.devices.files import locked, write_atomically
from hub.devices.passwd import hash_password, new_password
from hub.errors import Conflict, Invalid, NotFound

DEVICES_FILE = "devices.json"
LOCK_FILE = ".devices.lock"


@dataclass(frozen=True, slots=True)
class DeviceAccount:
    """One edge device's broker account: its username is its device id."""

    device_id: str
    site: str
    machine_id: str
    created_at: datetime
    password_hash: str


class _Account(BaseModel):
    # The on-disk form, validated when read: a hand-edited file fails loudly, not later.
    model_config = ConfigDict(extra="forbid", frozen=True)
    device_id: Ident
    site: Ident
    machine_id: Ident
    created_at: UtcTime
    password_hash: str


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    schema_: Literal["machinerie.hub-devices/1"] = Field(
        default="machinerie.hub-devices/1", alias="schema"
    )
    devices: list[_Account] = []


def add_device(
    data_dir: Path, device_id: str, *, site: str, machine_id: str, now: datetime | None = None
) -> tuple[DeviceAccount, str]:
    """Create a device account; returns it with its password, which is not kept anywhere."""
    _check_ids(device_id=device_id, site=site, machine_id=machine_id)
    if device_id == HUB_USERNAME:
        raise Invalid(f"{HUB_USERNAME!r} is the hub's own broker account")
    password = new_password()
    account = DeviceAccount(
        device_id, site, machine_id, now or datetime.now(UTC), hash_password(password)
    )

    def change(accounts: list[DeviceAccount]) -> list[DeviceAccount]:
        for other in accounts:
            if other.device_id == device_id:
                raise Conflict(f"device {device_id!r} already has a broker account")
            # One edge per machine: the machine's access list goes to exactly one device.
            if (other.site, other.machine_id) == (site, machine_id):
                raise Conflict(
                    f"machine {site}/{machine_id} already has device {other.device_id!r}"
                )
        return [*accounts, account]

    _update(data_dir, change)
    return account, password


def reset_password(data_dir: Path, device_id: str) -> tuple[DeviceAccount, str]:
    """A new password for a device whose Pi was reinstalled or whose password was lost."""
    password = new_password()

    def change(accounts: list[DeviceAccount]) -> list[DeviceAccount]:
        _find(accounts, device_id)
        return [
            replace(a, password_hash=hash_password(password)) if a.device_id == device_id else a
            for a in accounts
        ]

    accounts = _update(data_dir, change)
    return _find(accounts, device_id), password


def remove_device(data_dir: Path, device_id: str) -> DeviceAccount:
    removed: list[DeviceAccount] = []

    def change(accounts: list[DeviceAccount]) -> list[DeviceAccount]:
        removed.append(_find(accounts, device_id))
        return [a for a in accounts if a.device_id != device_id]

    _update(data_dir, change)
    return removed[0]


def get_device(data_dir: Path, device_id: str) -> DeviceAccount:
    return _find(list_devices(data_dir), device_id)


def list_devices(data_dir: Path) -> list[DeviceAccount]:
    """Every account, by site then device id."""
    return sorted(_load(data_dir), key=lambda a: (a.site, a.device_id))


# ---------------------------------------------------------------- storage


def _update(
    data_dir: Path, change: Callable[[list[DeviceAccount]], list[DeviceAccount]]
) -> list[DeviceAccount]:
    with locked(data_dir / LOCK_FILE):
        accounts = change(_load(data_dir))
        _save(data_dir, accounts)
    return accounts


def _load(data_dir: Path) -> list[DeviceAccount]:
    path = data_dir / DEVICES_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        stored = _File.model_validate_json(raw)
    except ValidationError as exc:
        raise Invalid(f"{path} is not a valid device file: {exc}") from None
    # Field by field: model_dump would turn created_at into its JSON string form.
    return [
        DeviceAccount(a.device_id, a.site, a.machine_id, a.created_at, a.password_hash)
        for a in stored.devices
    ]


def _save(data_dir: Path, accounts: list[DeviceAccount]) -> None:
    stored = _File(devices=[_Account.model_validate(asdict(a)) for a in accounts])
    data = stored.model_dump_json(by_alias=True, indent=2).encode() + b"\n"
    write_atomically(data_dir / DEVICES_FILE, data, mode=0o600)


def _find(accounts: list[DeviceAccount], device_id: str) -> DeviceAccount:
    for account in accounts:
        if account.device_id == device_id:
            return account
    raise NotFound(f"no device {device_id!r}")


def _check_ids(**ids: str) -> None:
    try:
        for what, value in ids.items():
            check_id(value, what)
    except InvalidTopic as exc:
        raise Invalid(str(exc)) from None
