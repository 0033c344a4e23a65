"""The ledger as the ingest's sink: one transaction per batch, database failures made explicit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from contracts.models import Event
from hub.db import session_factory, writing
from hub.errors import StoreUnavailable
from hub.ingest.batch import DeadLetter
from hub.ledger.service import dead_letter, record_batch


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
    ) -> int:
        try:
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
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"the ledger refused a batch of {len(events)} events: {exc}"
            ) from exc
        return recorded.new
