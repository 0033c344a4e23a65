"""The device registry file and the broker files written from it."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.devices import (
    HUB_USERNAME,
    add_device,
    get_device,
    hub_password,
    list_devices,
    remove_device,
    reset_password,
    write_broker_files,
)
from hub.devices.passwd import parse_line, verify_password
from hub.errors import Conflict, Invalid, NotFound


def test_add_returns_the_password_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    when = datetime(2026, 11, 23, 13, 31, tzinfo=UTC)
    account, password = add_device(
        tmp_path, "laser-1-pi", site="dony", machine_id="laser-1", now=when
    )
    assert (account.device_id, account.site, account.machine_id) == (
        "laser-1-pi",
        "dony",
        "laser-1",
    )
    assert verify_password(password, account.password_hash)
    stored = (tmp_path / "devices.json").read_text()
    assert password not in stored
    assert json.loads(stored)["devices"][0]["created_at"] == "2026-11-23T13:31:00.000Z"
    assert stat.S_IMODE((tmp_path / "devices.json").stat().st_mode) == 0o600
    assert get_device(tmp_path, "laser-1-pi") == account
    assert list_devices(tmp_path) == [account]


def test_list_is_sorted_and_remove_forgets(tmp_path: Path) -> None:
    add_device(tmp_path, "saw", site="kultura", machine_id="saw")
    add_device(tmp_path, "laser-2", site="dony", machine_id="laser-2")
    add_device(tmp_path, "laser-1", site="dony", machine_id="laser-1")
    assert [a.device_id for a in list_devices(tmp_path)] == ["laser-1", "laser-2", "saw"]
    assert remove_device(tmp_path, "laser-2").machine_id == "laser-2"
    assert [a.device_id for a in list_devices(tmp_path)] == ["laser-1", "saw"]
    with pytest.raises(NotFound):
        remove_device(tmp_path, "laser-2")


def test_duplicates_are_conflicts(tmp_path: Path) -> None:
    add_device(tmp_path, "laser-1", site="dony", machine_id="laser-1")
    with pytest.raises(Conflict):
        add_device(tmp_path, "laser-1", site="kultura", machine_id="cnc")
    with pytest.raises(Conflict, match="already has device"):
        add_device(tmp_path, "laser-1b", site="dony", machine_id="laser-1")


@pytest.mark.parametrize(
    ("device_id", "site"),
    [("Laser 1", "dony"), ("laser/1", "dony"), ("laser-1", "+"), ("hub", "dony")],
)
def test_bad_ids_and_the_hub_name_are_refused(tmp_path: Path, device_id: str, site: str) -> None:
    with pytest.raises(Invalid):
        add_device(tmp_path, device_id, site=site, machine_id="laser-1")
    assert list_devices(tmp_path) == []


def test_reset_password_replaces_the_hash(tmp_path: Path) -> None:
    _, old = add_device(tmp_path, "laser-1", site="dony", machine_id="laser-1")
    account, new = reset_password(tmp_path, "laser-1")
    assert new != old
    assert verify_password(new, account.password_hash)
    assert not verify_password(old, get_device(tmp_path, "laser-1").password_hash)


def test_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    names = [f"d{i}" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: add_device(tmp_path, n, site="dony", machine_id=n), names))
    assert sorted(a.device_id for a in list_devices(tmp_path)) == sorted(names)


def test_a_corrupt_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "devices.json").write_text('{"devices": [{"device_id": "x"}]}')
    with pytest.raises(Invalid, match=r"devices\.json"):
        list_devices(tmp_path)


def test_broker_files_hold_the_hub_and_every_device(tmp_path: Path) -> None:
    data, out = tmp_path / "hub", tmp_path / "broker"
    _, password = add_device(data, "laser-1", site="dony", machine_id="laser-1")
    files = write_broker_files(data, out)
    lines = dict(parse_line(line) for line in files.passwd.read_text().splitlines())
    assert set(lines) == {HUB_USERNAME, "laser-1"}
    assert verify_password(password, lines["laser-1"])
    assert verify_password(hub_password(data), lines[HUB_USERNAME])
    assert "pattern write machinerie/v1/+/%u/event" in files.acl.read_text()
    assert stat.S_IMODE(files.passwd.stat().st_mode) == 0o640
    assert stat.S_IMODE((data / "broker-hub.password").stat().st_mode) == 0o600
    names = {p.name for p in out.iterdir()}
    assert names == {"machinerie.acl", "machinerie.passwd"}, "no temporary file left behind"


def test_hub_password_is_made_once(tmp_path: Path) -> None:
    first = hub_password(tmp_path)
    assert hub_password(tmp_path) == first
    assert len(first) >= 32
