"""`machinerie dashboards push` through grafana-client, against a loopback stand-in for
Grafana's HTTP API (tests/dashboards/grafana_standin.py): Grafana itself cannot be installed
here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dashboards.errors import PushFailed
from dashboards.export import load
from dashboards.grafana import DATASOURCE_UID, FOLDER_UID
from dashboards.push import Credentials, Influx, push
from machinerie.cli import app
from machinerie.servers import free_port
from tests.dashboards.grafana_standin import GrafanaStandIn

TOKEN, USER, PASSWORD = "glsa_secret", "admin", "s3cret"
UIDS = ["machinerie-live", "machinerie-maintenance", "machinerie-usage"]


@pytest.fixture
def grafana() -> Iterator[GrafanaStandIn]:
    with GrafanaStandIn(token=TOKEN, user=USER, password=PASSWORD) as server:
        yield server


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["dashboards", "push", *args])


def test_push_creates_folder_and_datasource_then_the_dashboards(
    grafana: GrafanaStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MACHINERIE_INFLUXDB_URL", "http://influx.lan:8086")
    monkeypatch.delenv("MACHINERIE_INFLUXDB_DATABASE", raising=False)
    result = run("--url", grafana.url, "--token", TOKEN, "--folder", "Atelier")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "folder Atelier: created",
        "datasource: created",
        *(f"dashboard {uid}: pushed" for uid in UIDS),
    ]
    state = grafana.state
    assert state.folders[FOLDER_UID]["title"] == "Atelier"
    source = state.datasources[DATASOURCE_UID]
    assert (source["type"], source["url"], source["jsonData"]["dbName"]) == (
        "influxdb",
        "http://influx.lan:8086",
        "machinerie",
    )
    assert source["jsonData"]["version"] == "InfluxQL"
    for board in load():
        stored = state.dashboards[board["uid"]]
        assert stored["meta"]["folderUid"] == FOLDER_UID
        assert {**stored["dashboard"], "version": None} == {**board, "version": None}
    assert {request.authorization for request in state.requests} == {f"Bearer {TOKEN}"}


def test_pushing_again_overwrites_the_dashboards_and_leaves_the_datasource(
    grafana: GrafanaStandIn,
) -> None:
    assert run("--url", grafana.url, "--token", TOKEN).exit_code == 0
    # The administrator points the datasource elsewhere; a later push must keep that.
    grafana.state.datasources[DATASOURCE_UID]["url"] = "http://elsewhere:8086"
    before = len(grafana.state.requests)

    again = run("--url", grafana.url, "--user", USER, "--password", PASSWORD)
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[:2] == [
        "folder Machinerie: present",
        "datasource: present, unchanged",
    ]
    assert grafana.state.datasources[DATASOURCE_UID]["url"] == "http://elsewhere:8086"
    assert {
        uid: board["dashboard"]["version"] for uid, board in grafana.state.dashboards.items()
    } == {uid: 2 for uid in UIDS}
    posted = [(r.method, r.path) for r in grafana.state.requests[before:] if r.method == "POST"]
    assert posted == [("POST", "/api/dashboards/db")] * 3
    saves = [r.body for r in grafana.state.requests if r.path == "/api/dashboards/db"]
    assert all(body["overwrite"] is True and "id" not in body["dashboard"] for body in saves)


def test_a_wrong_token_fails_clearly_and_changes_nothing(grafana: GrafanaStandIn) -> None:
    result = run("--url", grafana.url, "--token", "glsa_wrong")
    assert result.exit_code == 1
    assert "error: folder: Grafana answered 401: Unauthorized" in result.output
    assert grafana.state.folders == grafana.state.dashboards == {}


def test_an_unreachable_grafana_fails_clearly() -> None:
    result = run("--url", f"http://127.0.0.1:{free_port()}", "--token", TOKEN)
    assert result.exit_code == 1
    assert "error: folder: Grafana cannot be reached" in result.output


def test_credentials_are_required() -> None:
    result = run("--url", "http://127.0.0.1:3000", "--user", "admin")
    assert result.exit_code == 2
    assert "give --token, or --user and --password" in result.output


def test_a_dashboard_grafana_refuses_is_named(grafana: GrafanaStandIn) -> None:
    boards = load()
    untitled = {**boards[1], "title": ""}
    with pytest.raises(PushFailed, match="dashboard machinerie-maintenance: Grafana answered 400"):
        push(
            grafana.url,
            Credentials(token=TOKEN),
            [boards[0], untitled, boards[2]],
            influx=Influx(),
        )
    # The one before it is in; nothing after it was sent.
    assert list(grafana.state.dashboards) == ["machinerie-live"]


def test_a_folder_without_dashboards_is_refused(grafana: GrafanaStandIn, tmp_path: Path) -> None:
    result = run("--url", grafana.url, "--token", TOKEN, "--from", str(tmp_path))
    assert result.exit_code == 1
    assert f"error: no dashboard in {tmp_path}" in result.output
    assert grafana.state.requests == []
