"""`machinerie dashboards push`: the dashboards into a running Grafana through its HTTP API
(grafana-client), for a Grafana whose provisioning folder we cannot write.

It ensures the folder, creates the InfluxDB datasource when Grafana has none of that uid (an
existing one is left as the administrator configured it), then upserts every dashboard with
overwrite, so pushing twice changes nothing but Grafana's version counters.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.errors import PushFailed
from dashboards.grafana import (
    DATASOURCE_NAME,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    FOLDER_TITLE,
    FOLDER_UID,
)

# The same variables and defaults as provisioning/machinerie.env.
INFLUXDB_URL_ENV = "MACHINERIE_INFLUXDB_URL"
INFLUXDB_DATABASE_ENV = "MACHINERIE_INFLUXDB_DATABASE"
DEFAULT_INFLUXDB_URL = "http://127.0.0.1:8086"
DEFAULT_INFLUXDB_DATABASE = "machinerie"
_NOT_FOUND = 404
T = TypeVar("T")


@dataclass(frozen=True)
class Credentials:
    """A service account token, or a user and password (basic authentication)."""

    token: str = ""
    user: str = ""
    password: str = ""

    def for_client(self) -> str | tuple[str, str]:
        if self.token:
            return self.token
        if self.user:
            return (self.user, self.password)
        raise PushFailed("give a token, or a user and a password")


@dataclass(frozen=True)
class Influx:
    """Where the datasource created by `push` points."""

    url: str = DEFAULT_INFLUXDB_URL
    database: str = DEFAULT_INFLUXDB_DATABASE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Influx:
        return cls(
            url=env.get(INFLUXDB_URL_ENV) or DEFAULT_INFLUXDB_URL,
            database=env.get(INFLUXDB_DATABASE_ENV) or DEFAULT_INFLUXDB_DATABASE,
        )


@dataclass(frozen=True)
class Pushed:
    folder_created: bool
    datasource_created: bool
    dashboards: list[str]


def datasource_body(influx: Influx) -> dict[str, object]:
    """The datasource as provisioning/datasources/machinerie.yaml describes it."""
    return {
        "name": DATASOURCE_NAME,
        "uid": DATASOURCE_UID,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": influx.url,
        "database": influx.database,
        "jsonData": {
            "version": "InfluxQL",
            "dbName": influx.database,
            "httpMode": "POST",
            "timeInterval": "10s",
        },
    }


def push(
    url: str,
    credentials: Credentials,
    boards: Sequence[dict[str, Any]],
    *,
    folder_title: str = FOLDER_TITLE,
    influx: Influx | None = None,
    timeout_s: float = 10.0,
) -> Pushed:
    """Folder, datasource, then each dashboard; PushFailed names the step that failed."""
    # grafana-client has no type hints: its calls are kept on an Any.
    api: Any = GrafanaApi.from_url(url, credential=credentials.for_client(), timeout=timeout_s)
    folder_created = _step("folder", lambda: _ensure_folder(api, folder_title))
    datasource_created = _step(
        "datasource", lambda: _ensure_datasource(api, influx or Influx.from_env())
    )
    pushed = [_step(f"dashboard {board.get('uid')}", _upload(api, board)) for board in boards]
    return Pushed(folder_created, datasource_created, pushed)


def _step(what: str, action: Callable[[], T]) -> T:
    try:
        result = action()
    except GrafanaException as error:
        raise PushFailed(
            f"{what}: Grafana answered {error.status_code}: {error.message}"
        ) from error
    except requests.exceptions.RequestException as error:
        raise PushFailed(f"{what}: Grafana cannot be reached: {error}") from error
    return result


def _exists(read: Any) -> bool:
    try:
        read()
    except GrafanaClientError as error:
        if error.status_code == _NOT_FOUND:
            return False
        raise
    return True


def _ensure_folder(api: Any, title: str) -> bool:
    if _exists(lambda: api.folder.get_folder(FOLDER_UID)):
        return False
    api.folder.create_folder(title, uid=FOLDER_UID)
    return True


def _ensure_datasource(api: Any, influx: Influx) -> bool:
    if _exists(lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID)):
        return False
    api.datasource.create_datasource(datasource_body(influx))
    return True


def _upload(api: Any, board: dict[str, Any]) -> Callable[[], str]:
    def upload() -> str:
        # Without "id" Grafana matches the dashboard by uid, on any Grafana.
        body = {key: value for key, value in board.items() if key != "id"}
        api.dashboard.update_dashboard(
            {
                "dashboard": body,
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "machinerie dashboards push",
            }
        )
        return str(board["uid"])

    return upload
