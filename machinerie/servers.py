"""Real servers started on free loopback ports in temporary folders, for the demo and the tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self


class ServerError(RuntimeError):
    """A local server could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise ServerError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# Throughput settings also shipped in deploy/mosquitto: with 2.0's defaults a QoS 1 burst to a
# slow subscriber overflows the 1000-message queue and messages are dropped.
TUNED = """\
set_tcp_nodelay true
max_queued_messages 100000
max_inflight_messages 100
"""


class _ChildServer:
    """A server binary run as a child process, with its folder and log: what Mosquitto and
    VictoriaMetrics share. Subclasses set `folder` and `log_path` and implement `start`."""

    folder: Path
    log_path: Path
    _process: subprocess.Popen[bytes] | None = None
    stop_timeout_s = 10.0

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        """SIGTERM, and wait for the process to end (Mosquitto saves its persistence file)."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(self.stop_timeout_s)
            self._process = None

    def kill(self) -> None:
        """SIGKILL: whatever the server had not written yet is lost."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()


class Mosquitto(_ChildServer):
    """A Mosquitto broker in its own folder; stop, kill and restart on the same port."""

    def __init__(
        self, *, port: int | None = None, extra: str = "", persistence: bool = True
    ) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise ServerError("mosquitto is not installed (Debian package `mosquitto`)")
        self.binary = binary
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="mosquitto-"))
        self.log_path = self.folder / "mosquitto.log"
        self._write_config(extra, persistence)
        self._process: subprocess.Popen[bytes] | None = None

    def _write_config(self, extra: str, persistence: bool) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {self.folder}/",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            TUNED,
            # Sessions written every second, so a SIGKILL test loses the hub's subscription only
            # for a moment (production: deploy/mosquitto/machinerie.conf).
            "autosave_interval 1",
            extra,
        ]
        # Started as root, Mosquitto drops to the `mosquitto` user and cannot write here.
        if os.geteuid() == 0:
            lines.append("user root")
        (self.folder / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self) -> Mosquitto:
        self._process = subprocess.Popen(
            [self.binary, "-c", str(self.folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port)
        except ServerError:
            self.stop()
            raise ServerError(f"mosquitto did not start: {self.log_tail()}") from None
        return self

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password and ACL files."""
        if self._process is not None:
            self._process.send_signal(signal.SIGHUP)


def _postgres_bin() -> Path:
    # Debian keeps the server binaries out of PATH, one folder per major version.
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise ServerError("PostgreSQL is not installed (Debian package `postgresql`)")
    return found[-1].parent


class PostgreSQL:
    """A throw-away PostgreSQL cluster in a temporary folder, on a free loopback port.

    PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user.
    `durable=False` (the test suite's) skips fsync and the shutdown checkpoint: the cluster is
    thrown away, and what the tests check is SQL and concurrency, not surviving a power cut.
    Benchmarks keep it durable, as a site's database is.
    """

    def __init__(self, *, port: int | None = None, durable: bool = True) -> None:
        self.durable = durable
        self.bin = _postgres_bin()
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="postgres-"))
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServerError(f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> PostgreSQL:
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        if not self.data.exists():
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log_path),
            "-w",
            "start",
        )
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh database; returns its SQLAlchemy URL."""
        self._run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            name,
        )
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            mode = "fast" if self.durable else "immediate"
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgreSQL:
        return self.start()

    def __exit__(
        self, exc: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()


class VictoriaMetrics(_ChildServer):
    """A VictoriaMetrics store in a temporary folder, on a free loopback port.

    It takes influxdb-client's `/api/v2/write`, so the telemetry writer is tested against a real
    server; `/api/v1/export` reads back what arrived. Stop, kill, pause and restart it on the same
    port: the data folder survives until `cleanup`.
    """

    def __init__(self, *, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        binary = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
        if not Path(binary).exists():
            raise ServerError(
                "victoria-metrics is not installed (Debian package `victoria-metrics`)"
            )
        self.binary = binary
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="victoria-"))
        self.log_path = self.folder / "victoria.log"
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._reads = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        return [
            self.binary,
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.folder / 'data'}",
            # Tests and benchmarks write samples of any recent date: keep them all.
            "-retentionPeriod=100y",
            # Queries see a sample as soon as it is stored, and never a cached older answer.
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
            *self.extra_args,
        ]

    def start(self, timeout: float = 15.0) -> VictoriaMetrics:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise ServerError(f"victoria-metrics did not start: {self.log_tail()}")
            if self._healthy():
                return self
            time.sleep(0.05)
        self.kill()
        raise ServerError(f"victoria-metrics not ready after {timeout} s: {self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310 - loopback
                return bool(response.status == 200)
        except OSError:
            return False

    stop_timeout_s = 30.0

    def stop(self) -> None:
        """SIGTERM: pending samples are written to disk before the process exits (SIGKILL,
        `kill`, loses the last second or so, still in memory)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        super().stop()

    def restart(self) -> VictoriaMetrics:
        """Stop, then start again on the same port with the same data."""
        self.stop()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the port stays open but nothing answers, like a hung store."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def write(self, lines: Iterable[str], *, precision: str = "ms") -> None:
        """Line protocol straight to `/api/v2/write`, as influxdb-client sends it."""
        query = urllib.parse.urlencode(
            {"org": "machinerie", "bucket": "machinerie", "precision": precision}
        )
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}/api/v2/write?{query}", data="\n".join(lines).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            if response.status != 204:
                raise ServerError(f"victoria-metrics answered {response.status} to a write")

    def export(self, name: str) -> list[dict[str, Any]]:
        """Every stored series whose name matches the regular expression `name` (such as
        `machine_.+`), as `{"metric": {labels}, "values": [...], "timestamps": [ms...]}`."""
        # VictoriaMetrics remembers for a few seconds which series a selector matched, so a
        # selector asked again misses series created since: each read uses a selector of its own
        # (a matcher on a label no series has).
        self._reads += 1
        selector = f'{{__name__=~"{name}",machinerie_read!="{self._reads}"}}'
        query = urllib.parse.urlencode({"match[]": selector})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=30) as response:  # noqa: S310 - loopback
            return [json.loads(line) for line in response.read().splitlines() if line.strip()]


async def _cancel_others(timeout_s: float = 5.0) -> None:
    """Cancel every other task of the running loop and wait for them to end."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=timeout_s)


class EmbeddedBroker:
    """An MQTT 3.1.1 broker inside this process (amqtt), for the demo that installs nothing.

    Anonymous, no persistence: the demo's edge outboxes and the hub's ledger carry the state.
    """

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._broker: Any = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self) -> EmbeddedBroker:
        from amqtt.broker import Broker  # noqa: PLC0415 - hub extra, only the demo needs it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._thread.start()
        self._broker = Broker(config, loop=self._loop)
        # start() returns once the listener is bound: no probe connection, which amqtt would log
        # as a failed client.
        asyncio.run_coroutine_threadsafe(self._broker.start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._broker is not None:
            shutdown = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                shutdown.result(10)
            except concurrent.futures.TimeoutError:
                # amqtt waits for clients that never say goodbye; the process is ending anyway.
                shutdown.cancel()
            self._broker = None
        # Whatever amqtt left running is cancelled and awaited here: a task destroyed later,
        # with its loop gone, raises at garbage collection.
        leftovers = asyncio.run_coroutine_threadsafe(_cancel_others(), self._loop)
        try:
            leftovers.result(10)
        except concurrent.futures.TimeoutError:
            leftovers.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class InfluxDB(_ChildServer):
    """An InfluxDB 1.x (`influxd`, Debian package `influxdb`) in a temporary folder, on a free
    loopback port, without authentication: the InfluxQL the dashboards run, against real data.

    Version 1.6 has only the v1 API: `write` posts line protocol to `/write`, `query` asks
    `/query` with times in epoch milliseconds.
    """

    def __init__(self, *, port: int | None = None) -> None:
        binary = shutil.which("influxd") or "/usr/bin/influxd"
        if not Path(binary).exists():
            raise ServerError("influxd is not installed (Debian package `influxdb`)")
        self.binary = binary
        self.port = port or free_port()
        # The RPC service used by backups binds a port of its own, loopback too.
        self.rpc_port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="influxdb-"))
        self.log_path = self.folder / "influxd.log"
        self._process: subprocess.Popen[bytes] | None = None
        (self.folder / "influxdb.conf").write_text(self._config())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> str:
        return "\n".join(
            [
                "reporting-disabled = true",
                f'bind-address = "127.0.0.1:{self.rpc_port}"',
                "[meta]",
                f'  dir = "{self.folder / "meta"}"',
                "[data]",
                f'  dir = "{self.folder / "data"}"',
                f'  wal-dir = "{self.folder / "wal"}"',
                "  query-log-enabled = false",
                "[monitor]",
                "  store-enabled = false",
                "[http]",
                f'  bind-address = "127.0.0.1:{self.port}"',
                "  auth-enabled = false",
                "  log-enabled = false",
                "[logging]",
                '  level = "warn"',
                "  suppress-logo = true",
                "[continuous_queries]",
                "  enabled = false",
                "",
            ]
        )

    def start(self, timeout: float = 15.0) -> InfluxDB:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-config", str(self.folder / "influxdb.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise ServerError(f"influxd did not start: {self.log_tail()}")
            if self._pings():
                return self
            time.sleep(0.05)
        self.kill()
        raise ServerError(f"influxd not ready after {timeout} s: {self.log_tail()}")

    def _pings(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:  # noqa: S310 - loopback
                return bool(response.status == 204)
        except OSError:
            return False

    def _post(self, path: str, params: dict[str, str], body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}{path}?{urllib.parse.urlencode(params)}", data=body, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                return int(response.status), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def query(self, q: str, db: str = "") -> dict[str, Any]:
        """One or more InfluxQL statements; the `/query` answer with times in epoch
        milliseconds. A statement InfluxDB refuses raises ServerError with its message."""
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        status, body = self._post("/query", params, b"")
        answer: dict[str, Any] = json.loads(body) if body else {}
        errors = [answer.get("error")] + [r.get("error") for r in answer.get("results", [])]
        found = [error for error in errors if error]
        if status != 200 or found:
            raise ServerError(f"influxd refused {q!r}: {found or status}")
        return answer

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def write(self, lines: Iterable[str], db: str, precision: str = "ms") -> None:
        """Line protocol to `/write`; a line InfluxDB refuses raises ServerError with its
        message (the lines it could parse are stored all the same)."""
        body = "\n".join(lines).encode()
        status, answer = self._post("/write", {"db": db, "precision": precision}, body)
        if status != 204:
            raise ServerError(f"influxd answered {status} to a write: {answer.decode()}")
