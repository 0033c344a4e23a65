"""Dependencies the routes share: a database session, the caller, role guards, registry writes.

`Annotated` aliases keep route signatures short: `def route(db: SessionDep, me: Manager)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from hub.api.accounts import Principal, resolve_token
from hub.api.errors import Forbidden, Unauthenticated
from hub.api.models import UserRole
from hub.api.ratelimit import FailedLogins
from hub.db import IMMEDIATE
from hub.ingest.metrics import Metrics

# auto_error=False: a missing token goes through our error boundary like any other 401.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
bearer = HTTPBearer(auto_error=False, description="A login token or an API token")


def get_session(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        if request.method not in READ_ONLY_METHODS:
            # A request that writes reads first (who is asking, does it exist): on SQLite it
            # must hold the write lock from the start, or a commit by the ingest in between
            # fails it with "database is locked" (hub.db.writing).
            session.connection(execution_options={IMMEDIATE: True})
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_clock(request: Request) -> datetime:
    """The time of this request; tests replace `app.state.clock` to move it."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


Now = Annotated[datetime, Depends(get_clock)]


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def get_hasher(request: Request) -> PasswordHasher:
    """argon2 with the app's cost parameters (tests make it cheap)."""
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]


def get_failed_logins(request: Request) -> FailedLogins:
    limiter: FailedLogins = request.app.state.failed_logins
    return limiter


FailedLoginsDep = Annotated[FailedLogins, Depends(get_failed_logins)]


def current_principal(
    db: SessionDep,
    now: Now,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("log in and send the token as 'Authorization: Bearer <token>'")
    return resolve_token(db, secret=credentials.credentials, now=now)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(*roles: UserRole) -> Callable[[Principal], Principal]:
    """A dependency that lets through only callers holding one of `roles`."""
    allowed = frozenset(roles)

    def guard(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(allowed))
            raise Forbidden(f"role {principal.role} may not do this (needs {names})")
        return principal

    return guard


Manager = Annotated[Principal, Depends(require(UserRole.MANAGER))]
MachineReader = Annotated[Principal, Depends(require(UserRole.MANAGER, UserRole.MAINTAINER))]
UsageReader = Annotated[Principal, Depends(require(UserRole.MANAGER, UserRole.ACCOUNTANT))]
SessionReader = Annotated[
    Principal,
    Depends(require(UserRole.MANAGER, UserRole.ACCOUNTANT, UserRole.MAINTAINER)),
]


def member_principal(principal: Annotated[Principal, Depends(require(UserRole.MEMBER))]) -> int:
    """The registry member id of a member user: all a `/me` route may look at."""
    if principal.member_id is None:
        raise Forbidden("this user is not linked to a registry member")
    return principal.member_id


MemberId = Annotated[int, Depends(member_principal)]


@dataclass(frozen=True)
class RegistryWriter:
    """A session for registry writes; `commit` tells the access-list publisher afterwards."""

    session: Session
    notify: Callable[[], None]

    def commit(self) -> None:
        self.session.commit()
        self.notify()


def registry_writer(request: Request, db: SessionDep, _manager: Manager) -> RegistryWriter:
    return RegistryWriter(session=db, notify=request.app.state.on_registry_change)


Writer = Annotated[RegistryWriter, Depends(registry_writer)]


def now_utc() -> datetime:
    return datetime.now(UTC)
