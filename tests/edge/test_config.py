"""The agent's TOML file: the shipped example loads, mistakes are refused with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge import config
from edge.cli import app
from edge.config import Mfrc522Config, WedgeConfig
from edge.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "deploy" / "edge.example.toml"


def test_shipped_example_is_valid() -> None:
    loaded = config.load(EXAMPLE)
    assert loaded.device.machine_id == "laser-1"
    assert isinstance(loaded.reader, Mfrc522Config)
    assert loaded.gpio.pin_factory == "lgpio"


def test_check_config_command_summarises_the_file() -> None:
    result = CliRunner().invoke(app, ["check-config", "--config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "dony/laser-1 gates laser-1; reader mfrc522; relay pin 17" in result.output


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[device\nsite=", "not valid TOML"),
        ('[device]\nsite = "dony"', "device.device_id: Field required"),
        ('[device]\nsite = "Dony Liège"\ndevice_id = "x"\nmachine_id = "x"', "device.site"),
        ("[bogus]\nx = 1", "bogus: Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_refused_with_a_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=reason):
        config.load(path)


def test_unknown_reader_kind_is_refused(tmp_path: Path) -> None:
    raw = config.parse(
        {
            "device": {"site": "dony", "device_id": "lathe", "machine_id": "lathe"},
            "reader": {"kind": "wedge", "device": "/dev/input/event3"},
            "access": {"trusted_keys": {"k": "x"}},
        }
    )
    assert isinstance(raw.reader, WedgeConfig)
    with pytest.raises(ConfigError, match="reader"):
        config.parse(
            {
                "device": {"site": "dony", "device_id": "lathe", "machine_id": "lathe"},
                "reader": {"kind": "barcode"},
                "access": {"trusted_keys": {"k": "x"}},
            }
        )


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(tmp_path / "absent.toml")
