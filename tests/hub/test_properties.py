"""Whatever the order, repetition and batching of session events, the ledger ends up the same."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from contracts.models import Event
from hub.ledger.models import EventRecord, MachineSession
from hub.ledger.service import record_events
from tests.hub.factories import T0, ended, started

SIDS = [UUID(int=n) for n in range(1, 5)]
EVENTS: list[Event] = [
    started(SIDS[0], T0),
    ended(SIDS[0], T0, T0 + timedelta(minutes=10)),
    ended(SIDS[1], T0, T0 + timedelta(minutes=20), reason="unclean_shutdown"),  # end only
    started(SIDS[2], T0 + timedelta(hours=1)),  # still open
    started(SIDS[3], T0 + timedelta(hours=2), member="m-0002"),
    ended(SIDS[3], T0 + timedelta(hours=2), T0 + timedelta(hours=3), member="m-0002"),
]

deliveries = st.permutations(range(len(EVENTS))).flatmap(
    lambda order: st.lists(st.sampled_from(order), max_size=6).map(lambda extra: order + extra)
)


def _snapshot(db: Session) -> list[tuple[Any, ...]]:
    db.expire_all()
    rows = db.scalars(select(MachineSession).order_by(MachineSession.session_id))
    columns = [c.key for c in MachineSession.__table__.columns]
    return [tuple(getattr(row, name) for name in columns) for row in rows]


def _deliver(db: Session, order: list[int], cuts: list[int]) -> list[tuple[Any, ...]]:
    db.execute(delete(MachineSession))
    db.execute(delete(EventRecord))
    db.commit()
    bounds = sorted({0, len(order), *(c % (len(order) + 1) for c in cuts)})
    for low, high in itertools.pairwise(bounds):
        record_events(db, [EVENTS[i] for i in order[low:high]], received_at=T0)
        db.commit()
    return _snapshot(db)


def test_any_delivery_order_gives_the_same_sessions(db: Session) -> None:
    expected = _deliver(db, list(range(len(EVENTS))), [])
    assert len(expected) == 4

    @settings(max_examples=40, deadline=None)
    @given(order=deliveries, cuts=st.lists(st.integers(0, 20), max_size=4))
    def check(order: list[int], cuts: list[int]) -> None:
        assert _deliver(db, order, cuts) == expected

    check()
