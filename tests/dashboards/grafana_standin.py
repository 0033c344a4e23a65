"""A stand-in for Grafana's HTTP API: the few endpoints `machinerie dashboards push` calls
(folders, datasources, dashboards/db), with Grafana's status codes and bodies, recording every
request. Grafana itself is not packaged for Debian, PyPI or npm, so push is tested against this
loopback server, not a real Grafana.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from machinerie.servers import free_port


@dataclass
class Request:
    method: str
    path: str
    body: Any
    authorization: str


@dataclass
class State:
    token: str
    user: str
    password: str
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def authorised(self, header: str) -> bool:
        basic = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return header in (f"Bearer {self.token}", f"Basic {basic}")


Answer = tuple[int, dict[str, Any]]


def _get(state: State, path: str) -> Answer:
    kind, _, uid = path.removeprefix("/api/").rpartition("/")
    found = {"folders": state.folders, "datasources/uid": state.datasources}.get(kind, {})
    if kind == "dashboards/uid" and uid in state.dashboards:
        return 200, state.dashboards[uid]
    if uid in found:
        return 200, found[uid]
    messages = {"folders": "folder not found", "datasources/uid": "Data source not found"}
    return 404, {"message": messages.get(kind, "Not found")}


def _create_folder(state: State, body: dict[str, Any]) -> Answer:
    if any(folder["title"] == body["title"] for folder in state.folders.values()):
        return 409, {"message": "a folder with the same name already exists"}
    folder = {"id": len(state.folders) + 1, "uid": body["uid"], "title": body["title"]}
    state.folders[body["uid"]] = folder
    return 200, folder


def _create_datasource(state: State, body: dict[str, Any]) -> Answer:
    if not body.get("name") or not body.get("type"):
        return 400, {"message": "Validation error, need to specify name and type"}
    if any(source["name"] == body["name"] for source in state.datasources.values()):
        return 409, {"message": "data source with the same name already exists"}
    source = {"id": len(state.datasources) + 1, **body}
    state.datasources[body["uid"]] = source
    return 200, {"datasource": source, "id": source["id"], "message": "Datasource added"}


def _save_dashboard(state: State, body: dict[str, Any]) -> Answer:
    board, folder = body["dashboard"], body.get("folderUid", "")
    if not board.get("title"):
        return 400, {"message": "Dashboard title cannot be empty"}
    if folder and folder not in state.folders:
        return 400, {"message": "folder not found"}
    old = state.dashboards.get(board["uid"])
    if old is not None and not body.get("overwrite"):
        return 412, {"status": "version-mismatch", "message": "version-mismatch"}
    version = 1 if old is None else old["dashboard"]["version"] + 1
    stored = {"dashboard": {**board, "version": version}, "meta": {"folderUid": folder}}
    state.dashboards[board["uid"]] = stored
    return 200, {"uid": board["uid"], "status": "success", "version": version}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        state = self.server.state
        authorization = self.headers.get("Authorization", "")
        with self.server.lock:
            state.requests.append(Request(method, self.path, body, authorization))
            if not state.authorised(authorization):
                self._answer(401, {"message": "Unauthorized"})
                return
            self._answer(*self._route(method, body))

    def _route(self, method: str, body: Any) -> Answer:
        state = self.server.state
        if method == "GET":
            return _get(state, self.path)
        posts = {
            "/api/folders": _create_folder,
            "/api/datasources": _create_datasource,
            "/api/dashboards/db": _save_dashboard,
        }
        if self.path in posts:
            return posts[self.path](state, body)
        return 404, {"message": "Not found"}

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are recorded in `state`."""


class _Server(ThreadingHTTPServer):
    state: State
    lock: threading.Lock


class GrafanaStandIn:
    """Start with `with GrafanaStandIn(token=...) as grafana:`; `grafana.url`, `.state`."""

    def __init__(self, *, token: str, user: str, password: str) -> None:
        self.port = free_port()
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.state = State(token, user, password)
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> State:
        return self._server.state

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
