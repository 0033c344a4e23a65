"""The ledger as the ingest's sink: one transaction per batch, database failures made explicit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from contracts.models import Event
from hub.db import session_factory
from hub.errors import StoreUnavailable
from hub.ingest.consumer import DeadLetter
from hub.ledger.service import dead_letter, record_batch


class LedgerSink:
    def __init__(self, engine: Engine) -> None:
        self._sessions = session_factory(engine)

    def store(self, events: list[Event], dead: list[DeadLetter], *, received_at: datetime) -> int:
        try:
            with self._sessions.begin() as session:
                recorded = record_batch(session, events, received_at=received_at)
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
