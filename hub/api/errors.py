"""The API's one error boundary: every `hub.errors.HubError` becomes an HTTP status with a reason.

Routes and services raise; only the handlers here know about status codes, so a bad input is a
4xx with a readable `detail`, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from hub.errors import Conflict, HubError, Invalid, NotFound, StoreUnavailable

log = logging.getLogger(__name__)


class Unauthenticated(HubError):
    """No bearer token, or one that is unknown, expired or whose user is disabled."""


class Forbidden(HubError, PermissionError):
    """The caller is known but its role may not do this."""


class TooManyAttempts(HubError):
    """Too many failed logins for a username; the caller should wait `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# Most specific first: the first class the error is an instance of decides the status.
STATUS: tuple[tuple[type[HubError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (TooManyAttempts, 429),
    (StoreUnavailable, 503),
)

DESCRIPTIONS = {
    401: "Missing, unknown or expired bearer token",
    403: "The caller's role may not do this",
    404: "No such thing in the registry or ledger",
    409: "Clashes with what is stored (a duplicate)",
    422: "Malformed input, with the reason in `detail`",
    429: "Too many failed logins for this username; retry later",
}


class ErrorBody(BaseModel):
    detail: str


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error statuses a route can answer."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        documented[code] = {"model": ErrorBody, "description": DESCRIPTIONS[code]}
    return documented


def status_of(error: HubError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


async def _hub_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HubError)
    status = status_of(exc)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _store_down(request: Request, exc: Exception) -> JSONResponse:
    # The database went away mid-request: the client may retry, nothing was half-written.
    log.error("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": "the hub's database is unavailable"}, status_code=503)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HubError, _hub_error)
    app.add_exception_handler(OperationalError, _store_down)
