"""The committed dashboard JSON: what Grafana's schema types take back unchanged, free of
dangling references, equal to a fresh build; and the provisioning files that load it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

# PyYAML comes with the dev tools (schemathesis) and ships no type hints.
import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

from dashboards import push
from dashboards.export import JSON_DIR, drift, load, render
from dashboards.grafana import DATASOURCE_TYPE, DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from dashboards.validate import problems
from machinerie.cli import app

PROVISIONING = Path(__file__).parents[2] / "dashboards" / "provisioning"
UIDS = ["machinerie-live", "machinerie-maintenance", "machinerie-usage"]


@pytest.fixture
def live() -> dict[str, Any]:
    return copy.deepcopy(next(board for board in load() if board["uid"] == "machinerie-live"))


def test_the_committed_dashboards_are_the_built_ones() -> None:
    assert drift() == []
    assert sorted(board["uid"] for board in load()) == UIDS


@pytest.mark.parametrize("uid", UIDS)
def test_each_dashboard_passes_the_schema_and_reference_checks(uid: str) -> None:
    board = next(board for board in load() if board["uid"] == uid)
    assert problems(board) == []
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert all(panel["datasource"]["uid"] == DATASOURCE_UID for panel in board["panels"])


def test_a_key_grafana_does_not_know_is_caught(live: dict[str, Any]) -> None:
    live["panels"][0]["gridPosition"] = live["panels"][0].pop("gridPos")
    assert problems(live) == ["schema: $.panels[0].gridPosition: unknown to the schema"]


def test_a_target_not_in_raw_influxql_is_caught(live: dict[str, Any]) -> None:
    live["panels"][0]["targets"][0]["rawQuery"] = False
    assert problems(live)[0].startswith("not a Grafana dashboard: ValueError")


def test_a_panel_without_options_is_caught(live: dict[str, Any]) -> None:
    live["panels"][4]["options"] = None
    assert problems(live)[0].startswith("not a Grafana dashboard: TypeError")


def test_duplicate_panel_ids_are_caught(live: dict[str, Any]) -> None:
    live["panels"][1]["id"] = live["panels"][0]["id"]
    assert problems(live) == ["panel id 1 is used twice"]


def test_dangling_datasource_references_are_caught(live: dict[str, Any]) -> None:
    live["panels"][2]["targets"][0]["datasource"] = {"type": "influxdb", "uid": "P951FEA4DE68E1"}
    live["templating"]["list"][0]["datasource"] = {"uid": "${DS_INFLUXDB}"}
    live["panels"][3]["datasource"] = "InfluxDB"
    found = [line for line in problems(live) if "is not the provisioned" in line]
    assert [line.split(": datasource")[0] for line in found] == [
        "variable site",
        "panel 'Machines now' target A",
        "panel 'State over time'",
    ]


def test_an_undefined_template_variable_is_caught(live: dict[str, Any]) -> None:
    target = live["panels"][3]["targets"][0]
    target["query"] = target["query"].replace("$site", "$workshop")
    assert problems(live) == [
        "panel 'State over time' query: $workshop is not a variable of the dashboard"
    ]


def test_export_writes_the_files_and_check_catches_a_stale_one(tmp_path: Path) -> None:
    runner = CliRunner()
    written = runner.invoke(app, ["dashboards", "export", "--out", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{uid}.json" for uid in UIDS]
    assert (
        runner.invoke(app, ["dashboards", "export", "--check", "--out", str(tmp_path)]).exit_code
        == 0
    )

    stale = tmp_path / "machinerie-usage.json"
    stale.write_text(stale.read_text().replace("Top members", "Best members"))
    (tmp_path / "old.json").write_text("{}")
    checked = runner.invoke(app, ["dashboards", "export", "--check", "--out", str(tmp_path)])
    assert checked.exit_code == 1
    assert f"out of date: {stale}" in checked.output
    assert f"out of date: {tmp_path / 'old.json'}" in checked.output
    assert stale.read_text() != render()["machinerie-usage.json"]  # --check writes nothing


def test_the_json_is_stable_text() -> None:
    for name, text in render().items():
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
        assert (JSON_DIR / name).read_text(encoding="utf-8") == text


# ---------------------------------------------------------------- provisioning


def _yaml(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROVISIONING / relative).read_text(encoding="utf-8"))
    return data


def _env_defaults() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in (PROVISIONING / "machinerie.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    return dict(pairs)


def test_the_datasource_file_provisions_the_uid_every_dashboard_uses() -> None:
    (source,) = _yaml("datasources/machinerie.yaml")["datasources"]
    assert (source["uid"], source["type"], source["access"]) == (
        DATASOURCE_UID,
        DATASOURCE_TYPE,
        "proxy",
    )
    assert source["jsonData"]["version"] == "InfluxQL"
    assert source["url"] == f"${push.INFLUXDB_URL_ENV}"
    assert source["jsonData"]["dbName"] == source["database"] == f"${push.INFLUXDB_DATABASE_ENV}"
    used = {
        target["datasource"]["uid"]
        for board in load()
        for panel in board["panels"]
        for target in panel["targets"]
    }
    assert used == {source["uid"]}


def test_the_env_file_holds_a_default_for_every_variable_the_datasource_file_uses() -> None:
    text = (PROVISIONING / "datasources" / "machinerie.yaml").read_text()
    defaults = _env_defaults()
    used = {word.strip("$") for word in text.split() if word.startswith("$MACHINERIE_")}
    assert used == set(defaults)
    # The push command creates the datasource with the same defaults.
    assert defaults[push.INFLUXDB_URL_ENV] == push.DEFAULT_INFLUXDB_URL
    assert defaults[push.INFLUXDB_DATABASE_ENV] == push.DEFAULT_INFLUXDB_DATABASE


def test_the_dashboard_provider_loads_the_exported_folder_into_the_machinerie_folder() -> None:
    (provider,) = _yaml("dashboards/machinerie.yaml")["providers"]
    assert provider["type"] == "file"
    assert (provider["folder"], provider["folderUid"]) == (FOLDER_TITLE, FOLDER_UID)
    path = provider["options"]["path"]
    assert path == "/var/lib/grafana/dashboards/machinerie"
    # docs/dashboards.md tells to export there, or to mount the committed folder there.
    docs = (Path(__file__).parents[2] / "docs" / "dashboards.md").read_text()
    assert f"machinerie dashboards export --out {path}" in docs
    assert f"dashboards/json:{path}" in docs
