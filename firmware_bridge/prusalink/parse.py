"""PrusaLink's documents and Digest headers as typed values.

`/api/v1/status` and `/api/v1/job` (200 with JSON, or 204 when there is no job) follow
prusa3d/Prusa-Link-Web `spec/openapi.yaml`; every field but `printer.state` is optional.
The Digest functions implement RFC 7616 (MD5, qop=auth, and the qop-less RFC 2069 form some
firmware answers with) for both the link and the simulator. Nothing here raises: anything
unusable is `Unknown`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from firmware_bridge.jsonbody import EXCERPT, document, excerpt, number

MAX_BODY = 1 << 18  # a status document is under 1 kB

# The openapi enum spells it ATTTENTION; the firmware sends ATTENTION.
STATE_ALIASES = {"ATTTENTION": "ATTENTION"}


@dataclass(frozen=True, slots=True)
class Unknown:
    text: str


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    state: str  # upper case: IDLE, BUSY, PRINTING, PAUSED, FINISHED, STOPPED, ERROR, ...
    temp_nozzle: float | None = None
    target_nozzle: float | None = None
    temp_bed: float | None = None
    target_bed: float | None = None
    speed: float | None = None  # percent
    flow: float | None = None  # percent
    ok: bool = True  # status_printer.ok
    message: str = ""  # status_printer.message


@dataclass(frozen=True, slots=True)
class StatusJob:
    job_id: int
    progress: float | None = None  # percent
    time_printing: float | None = None
    time_remaining: float | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """`GET /api/v1/status`."""

    printer: PrinterStatus
    job: StatusJob | None = None


@dataclass(frozen=True, slots=True)
class Version:
    """`GET /api/version`; `firmware` ("6.1.3+7898") only from Buddy firmware that has it."""

    firmware: str


@dataclass(frozen=True, slots=True)
class JobInfo:
    """`GET /api/v1/job` with a job."""

    job_id: int
    state: str  # PRINTING, PAUSED, FINISHED, STOPPED, ERROR
    name: str = ""  # the long file name when given
    progress: float | None = None  # percent
    time_printing: float | None = None
    time_remaining: float | None = None


@dataclass(frozen=True, slots=True)
class NoJob:
    """`GET /api/v1/job` answered 204 No Content."""


def parse_status(body: bytes | str) -> Status | Unknown:
    doc = document(body, MAX_BODY)
    if not isinstance(doc, dict):
        return Unknown(excerpt(body))
    printer = _printer(doc.get("printer"))
    if printer is None:
        return Unknown(excerpt(body))
    return Status(printer, _status_job(doc.get("job")))


def parse_version(status_code: int, body: bytes | str) -> Version | Unknown:
    doc = document(body, MAX_BODY) if status_code == 200 else None
    if not isinstance(doc, dict):
        return Unknown(f"HTTP {status_code} for /api/version: {excerpt(body)}")
    firmware = doc.get("firmware")
    return Version(firmware if isinstance(firmware, str) else "")


def parse_job(status_code: int, body: bytes | str) -> JobInfo | NoJob | Unknown:
    if status_code == 204:
        return NoJob()
    doc = document(body, MAX_BODY) if status_code == 200 else None
    if not isinstance(doc, dict):
        return Unknown(f"HTTP {status_code}: {excerpt(body)}")
    job_id = _job_id(doc.get("id"))
    state = _state(doc.get("state"))
    if job_id is None or state is None:
        return Unknown(excerpt(body))
    return JobInfo(
        job_id,
        state,
        _file_name(doc.get("file")),
        number(doc.get("progress")),
        number(doc.get("time_printing")),
        number(doc.get("time_remaining")),
    )


def _printer(value: object) -> PrinterStatus | None:
    if not isinstance(value, dict):
        return None
    state = _state(value.get("state"))
    if state is None:
        return None
    health = value.get("status_printer")
    health = health if isinstance(health, dict) else {}
    message = health.get("message")
    return PrinterStatus(
        state,
        number(value.get("temp_nozzle")),
        number(value.get("target_nozzle")),
        number(value.get("temp_bed")),
        number(value.get("target_bed")),
        number(value.get("speed")),
        number(value.get("flow")),
        health.get("ok") is not False,
        message if isinstance(message, str) else "",
    )


def _status_job(value: object) -> StatusJob | None:
    if not isinstance(value, dict):
        return None
    job_id = _job_id(value.get("id"))
    if job_id is None:
        return None
    return StatusJob(
        job_id,
        number(value.get("progress")),
        number(value.get("time_printing")),
        number(value.get("time_remaining")),
    )


def _file_name(value: object) -> str:
    if not isinstance(value, dict):
        return ""
    for key in ("display_name", "name"):
        name = value.get(key)
        if isinstance(name, str) and name:
            return name
    return ""


def _state(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    state = value.strip().upper()
    return STATE_ALIASES.get(state, state)


def _job_id(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


# -- HTTP Digest (RFC 7616) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """A `WWW-Authenticate: Digest ...` challenge the client can answer."""

    realm: str
    nonce: str
    qop: str | None = None  # "auth", or None for the RFC 2069 form
    opaque: str | None = None
    stale: bool = False  # the password was right, the nonce had expired


@dataclass(frozen=True, slots=True)
class Credentials:
    """An `Authorization: Digest ...` header as a server reads it."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str | None = None
    nc: str = ""
    cnonce: str = ""
    opaque: str | None = None


_NAME = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_NAME})\s*=\s*("(?:[^"\\]|\\.)*"|[^",\s]*)\s*(?:,|$)')


def auth_params(header: str, scheme: str = "Digest") -> dict[str, str] | None:
    """The `name=value` pairs after the scheme, unquoted; None if the header is not that."""
    head, _, rest = header.strip().partition(" ")
    if head.lower() != scheme.lower():
        return None
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            return None
        value = match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[match.group(1).lower()] = value
        position = match.end()
    return params


def parse_challenge(header: str) -> Challenge | Unknown:
    params = auth_params(header)
    if params is None or "realm" not in params or "nonce" not in params:
        return Unknown(header[:EXCERPT])
    if params.get("algorithm", "MD5").upper() != "MD5":
        return Unknown(header[:EXCERPT])  # MD5 is what printers offer; nothing else is answered
    qop: str | None = None
    if "qop" in params:
        offered = {option.strip().lower() for option in params["qop"].split(",")}
        if "auth" not in offered:
            return Unknown(header[:EXCERPT])
        qop = "auth"
    return Challenge(
        params["realm"],
        params["nonce"],
        qop,
        params.get("opaque"),
        params.get("stale", "").lower() == "true",
    )


def parse_authorization(header: str) -> Credentials | Unknown:
    params = auth_params(header)
    required = ("username", "realm", "nonce", "uri", "response")
    if params is None or any(key not in params for key in required):
        return Unknown(header[:EXCERPT])
    qop = params.get("qop")
    if qop is not None and ("nc" not in params or "cnonce" not in params):
        return Unknown(header[:EXCERPT])
    return Credentials(
        params["username"],
        params["realm"],
        params["nonce"],
        params["uri"],
        params["response"],
        qop,
        params.get("nc", ""),
        params.get("cnonce", ""),
        params.get("opaque"),
    )


def _md5(text: str) -> str:
    # MD5 is what the protocol specifies, not a choice made here.
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def digest_response(
    *,
    user: str,
    password: str,
    realm: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str = "",
    cnonce: str = "",
) -> str:
    """The `response` value: RFC 7616 §3.4.1 with qop=auth, RFC 2069 without qop."""
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop is None:
        return _md5(f"{ha1}:{nonce}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def authorization(
    challenge: Challenge,
    *,
    user: str,
    password: str,
    method: str,
    uri: str,
    nc: int,
    cnonce: str,
) -> str:
    """The `Authorization` header answering `challenge` for the `nc`-th use of its nonce."""
    count = f"{nc:08x}"
    response = digest_response(
        user=user,
        password=password,
        realm=challenge.realm,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        qop=challenge.qop,
        nc=count,
        cnonce=cnonce,
    )
    parts = [
        f'username="{_quote(user)}"',
        f'realm="{_quote(challenge.realm)}"',
        f'nonce="{_quote(challenge.nonce)}"',
        f'uri="{_quote(uri)}"',
        "algorithm=MD5",
        f'response="{response}"',
    ]
    if challenge.qop is not None:
        parts += [f"qop={challenge.qop}", f"nc={count}", f'cnonce="{_quote(cnonce)}"']
    if challenge.opaque is not None:
        parts.append(f'opaque="{_quote(challenge.opaque)}"')
    return "Digest " + ", ".join(parts)


def challenge_header(
    realm: str, nonce: str, *, stale: bool = False, opaque: str | None = None
) -> str:
    """The `WWW-Authenticate` value a server sends (qop=auth, MD5)."""
    parts = [
        f'realm="{_quote(realm)}"',
        f'nonce="{_quote(nonce)}"',
        'qop="auth"',
        "algorithm=MD5",
        f"stale={'TRUE' if stale else 'FALSE'}",
    ]
    if opaque is not None:
        parts.append(f'opaque="{_quote(opaque)}"')
    return "Digest " + ", ".join(parts)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
