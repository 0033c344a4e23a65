"""Settings precedence (defaults, TOML file, environment, explicit values) and `hub init`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.acl.keys import load_signing_key, trusted_key_line
from hub.cli import app
from hub.devices import hub_password
from hub.errors import Invalid, NotFound
from hub.settings import load_settings


def test_defaults_put_sqlite_and_the_password_in_the_data_folder(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path)
    assert settings.database == f"sqlite:///{tmp_path / 'hub.db'}"
    assert settings.mqtt.username == "hub"
    assert settings.mqtt_password() == hub_password(tmp_path)
    assert settings.ingest_settings().password == hub_password(tmp_path)


def test_the_environment_beats_the_file_and_explicit_values_beat_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        'site_id = "dony"\n[mqtt]\nhost = "broker.lan"\nport = 1884\ngroup = "hubs"\n'
        'password = "from-file"\n[api]\nport = 9000\n'
    )
    monkeypatch.setenv("MACHINERIE_HUB_MQTT__PORT", "1885")
    monkeypatch.setenv("MACHINERIE_HUB_LOG_LEVEL", "DEBUG")
    settings = load_settings(config, data_dir=tmp_path)
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.group) == (
        "broker.lan",
        1885,
        "hubs",
    )
    assert (settings.site_id, settings.api.port, settings.log_level) == ("dony", 9000, "DEBUG")
    assert settings.mqtt_password() == "from-file"
    assert load_settings(config, site_id="kultura").site_id == "kultura"


def test_bad_settings_are_hub_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt]\nport = 0\n")
    with pytest.raises(Invalid, match="port"):
        load_settings(bad)


def test_init_makes_the_key_and_prints_the_edge_line(tmp_path: Path) -> None:
    folder = tmp_path / "hub"
    result = CliRunner().invoke(app, ["init", "--data-dir", str(folder)])
    assert result.exit_code == 0, result.output
    keys = load_signing_key(folder)
    assert "[access.trusted_keys]" in result.output
    assert trusted_key_line(keys) in result.output
    again = CliRunner().invoke(app, ["init", "--data-dir", str(folder)])
    assert trusted_key_line(keys) in again.output, "init must never replace the key"
