"""The open session kept on disk with its heartbeat, so a power cut bills no further than the
last heartbeat: at boot a session still open is closed there as an unclean end."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from contracts.models import OpenSession
from edge.store import Store

_KEY = "open_session"


@dataclass(frozen=True)
class Journaled:
    session: OpenSession
    last_heartbeat: datetime


def save(conn: sqlite3.Connection, session: OpenSession, heartbeat: datetime) -> None:
    """Write inside the caller's transaction, alongside the event that opened or changed it."""
    value = json.dumps(
        {
            "session": session.model_dump(mode="json"),
            "last_heartbeat": heartbeat.isoformat(),
        }
    )
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (_KEY, value),
    )


def clear(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM kv WHERE key = ?", (_KEY,))


def heartbeat(store: Store, at: datetime) -> None:
    with store.transaction() as conn:
        row = conn.execute("SELECT value FROM kv WHERE key = ?", (_KEY,)).fetchone()
        if row is None:
            return
        value = json.loads(row[0])
        value["last_heartbeat"] = at.isoformat()
        conn.execute("UPDATE kv SET value = ? WHERE key = ?", (json.dumps(value), _KEY))


def load(store: Store) -> Journaled | None:
    raw = store.get(_KEY)
    if raw is None:
        return None
    value = json.loads(raw)
    return Journaled(
        OpenSession.model_validate(value["session"]),
        datetime.fromisoformat(value["last_heartbeat"]),
    )
