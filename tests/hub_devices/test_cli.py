"""`machinerie device add|reset-password|remove|list` through typer's runner."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from hub.devices import get_device, list_devices
from hub.devices.cli import app
from hub.devices.passwd import verify_password

runner = CliRunner()


def test_add_prints_the_password_and_writes_the_broker_files(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "add",
            "laser-1-pi",
            "--site",
            "dony",
            "--machine",
            "laser-1",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    found = re.search(r"^password: (\S+)$", result.output, re.MULTILINE)
    assert found is not None
    assert verify_password(found.group(1), get_device(tmp_path, "laser-1-pi").password_hash)
    assert f"wrote {tmp_path / 'broker' / 'machinerie.passwd'}" in result.output
    assert "SIGHUP" in result.output or "-HUP" in result.output
    assert (tmp_path / "broker" / "machinerie.acl").exists()


def test_list_reset_and_remove(tmp_path: Path) -> None:
    broker = tmp_path / "etc"
    common = ["--data-dir", str(tmp_path), "--broker-dir", str(broker)]
    assert (
        runner.invoke(app, ["add", "saw", "--site", "dony", "--machine", "saw", *common]).exit_code
        == 0
    )
    listed = runner.invoke(app, ["list", "--data-dir", str(tmp_path)])
    assert listed.output.startswith("saw\tdony\tsaw\t")
    reset = runner.invoke(app, ["reset-password", "saw", *common])
    assert reset.exit_code == 0 and "password: " in reset.output
    removed = runner.invoke(app, ["remove", "saw", *common])
    assert removed.exit_code == 0
    assert list_devices(tmp_path) == []
    assert "saw:" not in (broker / "machinerie.passwd").read_text()


def test_mistakes_end_with_a_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["remove", "ghost", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no device 'ghost'" in result.output
