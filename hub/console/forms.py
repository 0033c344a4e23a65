"""One shape for every console form that changes something.

A route reads its fields and calls a service inside `act`. A refusal (the hub's `Invalid`,
`Conflict`, `NotFound`, or the page's own `Refused`) rolls the request's transaction back, is
counted and logged, and the page comes back with the reason in the visitor's language and a 4xx
status. Success records the audit entry in the same transaction, commits, wakes whatever must
follow the change, and sends the browser on with a 303 (POST/redirect/GET).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hub.api.errors import status_of
from hub.console import audit, i18n
from hub.console.auth import Visitor
from hub.console.web import language, render, see_other
from hub.errors import Conflict, HubError, Invalid, NotFound

log = logging.getLogger(__name__)
SERVICE_REFUSALS = (Invalid, Conflict, NotFound)


class Refused(HubError, ValueError):
    """A form the page will not act on: `message_id` (with `values`) says why, in words."""

    def __init__(self, message_id: str, status: int = 422, **values: object) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.status = status
        self.values = values


REFUSALS = (Refused, *SERVICE_REFUSALS)


@dataclass(frozen=True)
class Problem:
    """A refusal as the page shows it."""

    message: str  # in the visitor's language
    status: int
    # The service's own (English) words, kept only for a refusal no message of the page foresaw.
    detail: str = ""


@dataclass(frozen=True)
class Trace:
    """What the audit log keeps of an action."""

    action: str
    target: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Done:
    """A change made: where the browser goes next, and what the audit log keeps of it (None
    when nothing, or when the service's own transaction recorded it already)."""

    path: str
    trace: Trace | None = None


@dataclass(frozen=True)
class Section:
    """How a part of the console words and counts its refusals: the metric is
    `console_<name>_refused{form=…}`; an unforeseen refusal shows `<prefix>.<status>` and the
    service's words beside it."""

    name: str
    prefix: str


@dataclass(frozen=True)
class Sent:
    """One submitted form: the request, its transaction, who sent it and when."""

    request: Request
    db: Session
    visitor: Visitor
    now: datetime

    def record(self, session: Session, trace: Trace) -> None:
        """Trace the action in `session` (the transaction making the change)."""
        record(session, self.visitor, trace, now=self.now)


def act(
    sent: Sent,
    *,
    section: Section,
    form: str,
    change: Callable[[], Done],
    refused: Callable[[Problem], Response],
    wake: Callable[[], object] | None = None,
) -> Response:
    """Make the change; on a refusal show `refused(problem)` with nothing changed."""
    try:
        done = change()
        if done.trace is not None:
            sent.record(sent.db, done.trace)
    except REFUSALS as exc:
        sent.db.rollback()
        return refused(problem_of(sent.request, exc, section=section, form=form))
    sent.db.commit()
    if wake is not None:
        wake()
    return see_other(done.path)


def problem_of(request: Request, exc: HubError, *, section: Section, form: str) -> Problem:
    """Count and log the refusal, and say it in the visitor's language."""
    metric = f"console_{section.name}_refused"
    metrics = request.app.state.metrics
    metrics.describe(metric, f"Console {section.name} forms refused, by form")
    metrics.inc(metric, form=form)
    log.info("%s form %r refused: %s", section.name, form, exc)
    t = i18n.translator(language(request))
    if isinstance(exc, Refused):
        return Problem(t(exc.message_id, **exc.values), exc.status)
    status = status_of(exc)
    return Problem(t(f"{section.prefix}.{status}"), status, detail=str(exc))


@contextmanager
def saying(words: Mapping[type[HubError], str], **values: object) -> Iterator[None]:
    """Within: a service's refusal of a kind in `words` becomes the page's `Refused` with that
    message id (and `values`), keeping the service's status. Where a form calls one service
    step, the kind of refusal tells what went wrong; other kinds pass through unchanged."""
    try:
        yield
    except SERVICE_REFUSALS as exc:
        for kind, message_id in words.items():
            if isinstance(exc, kind):
                raise Refused(message_id, status_of(exc), **values) from exc
        raise


def missing(request: Request, visitor: Visitor, *, title_id: str, message_id: str) -> Response:
    """The 404 page of a thing the address names and the hub does not have."""
    t = i18n.translator(language(request))
    return render(
        request,
        "note.html",
        visitor=visitor,
        status_code=404,
        title_id=title_id,
        message=t(message_id),
    )


def record(session: Session, visitor: Visitor, trace: Trace, *, now: datetime) -> None:
    """Add the audit entry of a manager's or an accountant's action to `session`."""
    if audit.is_audited(visitor.role):
        audit.record(
            session,
            username=visitor.principal.username,
            role=visitor.role,
            action=trace.action,
            target=trace.target,
            detail=trace.detail,
            at=now,
        )
