"""The ledger as the ingest's sink: one transaction per batch, database failures made explicit.

A database that cannot be reached, is locked or full makes the whole batch wait (the store is
unavailable: nothing is lost, the batch comes again). A value the database refuses (a busy time
no integer column holds, from a bridge gone wrong) is the data's fault, not the store's: that
batch is stored again event by event, and the events refused alone become dead letters, so one
bad event never stalls the ingest nor takes its batch with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, SQLAlchemyError, StatementError

from contracts import codec
from contracts.models import Event
from hub.db import session_factory, writing
from hub.errors import StoreUnavailable
from hub.ingest.batch import DeadLetter, Stored
from hub.ledger.service import dead_letter, record_batch

log = logging.getLogger(__name__)
# A driver's refusal of a Python value, raised before the database sees it (SQLite's integers
# stop at 2**63), or wrapped by SQLAlchemy as the statement's error.
VALUE_ERRORS = (OverflowError, ValueError)
REFUSED_VALUES = (DataError, *VALUE_ERRORS)
MAX_REASON = 500


class LedgerSink:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)

    def reopen_url(self) -> str | None:
        """The database's URL for another process; None for an in-memory SQLite database."""
        url = self._engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return None
        return url.render_as_string(hide_password=False)

    def store(
        self,
        events: list[Event],
        dead: list[DeadLetter],
        *,
        received_at: datetime,
        payloads: Sequence[bytes] | None = None,
        topics: Sequence[str] | None = None,
    ) -> Stored:
        try:
            return Stored(self._commit(events, dead, received_at, payloads))
        except (SQLAlchemyError, *VALUE_ERRORS) as exc:
            if not refuses_values(exc) or len(events) == 0:
                raise _unavailable(exc, len(events)) from exc
        return self._one_by_one(events, dead, received_at, payloads, topics)

    def _commit(
        self,
        events: list[Event],
        dead: list[DeadLetter],
        received_at: datetime,
        payloads: Sequence[bytes] | None,
    ) -> int:
        # The write lock up front (SQLite): the batch reads which events are known, then
        # inserts the others, and must not find another writer's commit in between.
        with writing(self._sessions) as session:
            recorded = record_batch(session, events, received_at=received_at, payloads=payloads)
            for letter in dead:
                dead_letter(
                    session,
                    topic=letter.topic,
                    payload=letter.payload,
                    reason=letter.reason,
                    received_at=received_at,
                )
        return recorded.new

    def _one_by_one(
        self,
        events: list[Event],
        dead: list[DeadLetter],
        received_at: datetime,
        payloads: Sequence[bytes] | None,
        topics: Sequence[str] | None,
    ) -> Stored:
        """Each event in a transaction of its own; those refused for their values become dead
        letters, committed with the batch's own."""
        new = 0
        refused: list[DeadLetter] = []
        for index, event in enumerate(events):
            payload = codec.encode(event) if payloads is None else payloads[index]
            try:
                new += self._commit([event], [], received_at, [payload])
            except (SQLAlchemyError, *VALUE_ERRORS) as exc:
                if not refuses_values(exc):
                    raise _unavailable(exc, len(events)) from exc
                where = f"{event.site}/{event.device_id}" if topics is None else topics[index]
                reason = f"the ledger refused the event {event.event_id}: {_cause(exc)}"
                log.error("%s (kept as a dead letter, acknowledged)", reason)
                refused.append(DeadLetter(where, payload, reason[:MAX_REASON]))
        try:
            self._commit([], dead + refused, received_at, None)
        except (SQLAlchemyError, *VALUE_ERRORS) as exc:
            raise _unavailable(exc, len(events)) from exc
        return Stored(new, refused)


def refuses_values(exc: BaseException) -> bool:
    """Whether the database (or its driver) refused the values written, rather than failing to
    write at all: the same batch would be refused again however long it waited."""
    if isinstance(exc, REFUSED_VALUES):
        return True
    return isinstance(exc, StatementError) and isinstance(exc.orig, VALUE_ERRORS)


def _cause(exc: BaseException) -> str:
    # SQLAlchemy's message repeats the statement and its parameters: the driver's says it all.
    orig = exc.orig if isinstance(exc, StatementError) else None
    return f"{type(orig or exc).__name__}: {orig or exc}".splitlines()[0]


def _unavailable(exc: BaseException, count: int) -> StoreUnavailable:
    return StoreUnavailable(f"the ledger refused a batch of {count} events: {exc}")
