"""Poll an OctoPrint instance's REST API with its API key.

Each poll reads `/api/job` and `/api/printer?exclude=sd` over one kept-alive connection (and,
first after every connection loss, `/api/version`, which names OctoPrint) and reports a whole
view, so the consumer sees fresh telemetry at every poll. A 401 (older
OctoPrint) or 403 means the key is wrong or lacks the STATUS permission: reported as offline
and retried with growing backoff, never hammered. 409 from `/api/printer` is not a failure of
the link: OctoPrint is up but has no operational printer, which the machine reports.
"""

from __future__ import annotations

from firmware_bridge.errors import LinkError
from firmware_bridge.httppoll import KeptAlive, Pacing, PollingLink, http_url
from firmware_bridge.model import ControllerView, Sink
from firmware_bridge.octoprint.machine import OctoPrintMachine
from firmware_bridge.octoprint.parse import (
    MAX_BODY,
    JobStatus,
    PrinterStatus,
    Unknown,
    Version,
    parse_job,
    parse_printer,
    parse_version,
)

JOB_PATH = "/api/job"
PRINTER_PATH = "/api/printer?exclude=sd"
VERSION_PATH = "/api/version"
REFUSED = (401, 403)


class OctoPrintLink(PollingLink[OctoPrintMachine]):
    """A `Source` polling the OctoPrint instance at `base_url` (e.g. http://octopi.local)."""

    name = "octoprint"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        poll_s: float = 2.0,
        *,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        url = http_url(base_url, "an OctoPrint")
        headers = {"X-Api-Key": api_key, "Accept": "application/json"}
        connection = KeptAlive(
            url,
            device=self.name,
            headers=lambda _path: headers,
            timeout_s=timeout_s,
            max_body=MAX_BODY,
        )
        super().__init__(base_url, connection, Pacing(poll_s, backoff_s, max_backoff_s))
        self._prefix = url.path.rstrip("/")  # OctoPrint may be served under a path behind a proxy

    def _machine(self) -> OctoPrintMachine:
        return OctoPrintMachine()

    def _identify(self, machine: OctoPrintMachine, sink: Sink) -> None:
        version = parse_version(*self._get(VERSION_PATH))
        if isinstance(version, Version):
            machine.identified(version)
        else:
            sink.unknown(version.text)

    def _poll(self, machine: OctoPrintMachine, sink: Sink) -> ControllerView | None:
        job = parse_job(*self._get(JOB_PATH))
        printer = parse_printer(*self._get(PRINTER_PATH))
        for parsed in (job, printer):
            if isinstance(parsed, Unknown):
                sink.unknown(parsed.text)
        usable_job = job if isinstance(job, JobStatus) else None
        usable_printer = None if isinstance(printer, Unknown) else printer
        if usable_job is None and not isinstance(usable_printer, PrinterStatus):
            return None  # nothing fresh enough to report this time
        return machine.feed(usable_printer, usable_job)

    def _get(self, path: str) -> tuple[int, bytes]:
        answer = self._connection.get(self._prefix + path)
        if answer.status in REFUSED:
            raise LinkError(
                f"octoprint at {self._connection.netloc} refused the API key: wrong key? "
                f"(HTTP {answer.status})"
            )
        return answer.status, answer.body
