"""Keeping every machine's retained, signed access list in step with the registry.

A change is noticed three ways: `changed()` from this process (the API, after its commit), a poll
of the database's access-list version (another hub replica or the CLI wrote), and every
(re)connect to the broker, which republishes everything so a wiped broker is refilled.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from contracts.models import AccessList
from contracts.signing import KeyPair
from edge.link import QuietDisconnect
from hub.acl.publisher import AccessListPublisher, build_access_list
from hub.db import session_factory
from hub.devices.errors import BrokerError
from hub.errors import Conflict, HubError
from hub.ingest.metrics import Metrics
from hub.mqtt import BrokerLogin, part_client
from hub.registry.access import access_entries, acl_version
from hub.registry.models import DEFAULT_TIMEZONE, Machine, Site

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")
paho_log.addFilter(QuietDisconnect())

POLL_S = 1.0
RETRY_S = 1.0


@dataclass(frozen=True)
class Listing:
    """One machine's list and the device whose `acl` topic carries it."""

    device_id: str
    access_list: AccessList


def current_lists(
    session: Session, *, site: str | None, now: datetime
) -> tuple[int, list[Listing]]:
    """The version, then every gated machine's list at that version (or a newer registry).

    The version is read first: on PostgreSQL each statement sees the latest commits, so entries
    may be newer than the version read, never older; the next poll sees the higher version and
    publishes again. The other order could label stale entries with the newest version.
    """
    version = acl_version(session)
    zones = {s.id: s.timezone for s in session.scalars(select(Site))}
    query = select(Machine).where(Machine.device_id.is_not(None)).order_by(Machine.id)
    if site is not None:
        query = query.where(Machine.site_id == site)
    listings = []
    for machine in session.scalars(query):
        if machine.device_id is None:  # excluded by the query; narrows the type
            continue
        acl = build_access_list(
            site=machine.site_id,
            machine_id=machine.id,
            version=version,
            entries=access_entries(session, machine_id=machine.id, now=now),
            timezone=zones.get(machine.site_id, DEFAULT_TIMEZONE),
            issued_at=now,
        )
        listings.append(Listing(machine.device_id, acl))
    return version, listings


class AccessListSync:
    """One thread that publishes all lists whenever the version moved or the broker reconnected."""

    def __init__(
        self,
        engine: Engine,
        keys: KeyPair,
        login: BrokerLogin,
        *,
        site: str | None = None,
        poll_s: float = POLL_S,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = session_factory(engine)
        self._login = login
        self._site = site
        self._poll_s = poll_s
        self.metrics = metrics or Metrics()
        _describe(self.metrics)
        self._wake = threading.Event()
        self._refill = threading.Event()
        self._stopping = threading.Event()
        self._published: int | None = None
        self._client = self._build_client()
        self._publisher = AccessListPublisher(self._client, keys, prefix=login.prefix)
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ public

    def changed(self) -> None:
        """The registry changed (call after the commit); cheap, from any thread."""
        self._wake.set()

    @property
    def published_version(self) -> int | None:
        """The version every gated machine's list was last published at (None: not yet)."""
        return self._published

    def start(self) -> AccessListSync:
        login = self._login
        self._client.connect_async(login.host, login.port, 30)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="acl-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(15)
        self._client.disconnect()
        self._client.loop_stop()

    # ------------------------------------------------------------ worker

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._poll_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._sync()
            except (BrokerError, SQLAlchemyError, HubError) as exc:
                # Forget what was published: the next round republishes every list.
                self._published = None
                self.metrics.inc("acl_publish_failures_total")
                log.warning("access lists not published, retrying: %s", exc)
                self._stopping.wait(RETRY_S)

    def _sync(self) -> None:
        if not self._client.is_connected():
            return  # on_connect asks for a full refill anyway
        with self._sessions() as session:
            version = acl_version(session)
            if version == self._published and not self._refill.is_set():
                return
            # Cleared before publishing: a reconnect during the round asks for another one.
            self._refill.clear()
            version, listings = current_lists(session, site=self._site, now=datetime.now(UTC))
        for listing in listings:
            self._publish(listing)
        self._published = version
        log.info("published %d access lists at version %d", len(listings), version)

    def _publish(self, listing: Listing) -> None:
        acl = listing.access_list
        try:
            self._publisher.publish(acl.site, listing.device_id, acl)
        except Conflict as exc:
            # A restored, older database: devices keep their newer list; a human must act.
            log.error("access list for %s not published: %s", listing.device_id, exc)
            return
        self.metrics.inc("acl_lists_published_total")

    # ------------------------------------------------------------ paho side

    def _build_client(self) -> Client:
        client = part_client(self._login, "acl", paho_log)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(
        self,
        _client: Client,
        _userdata: Any,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the access-list publisher: %s", reason)
            return
        self._refill.set()
        self._wake.set()

    def _on_disconnect(
        self,
        _client: Client,
        _userdata: Any,
        _flags: DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not self._stopping.is_set():
            log.warning("access-list publisher disconnected: %s", reason)


def _describe(metrics: Metrics) -> None:
    metrics.describe("acl_lists_published_total", "Signed access lists published to devices.")
    metrics.describe("acl_publish_failures_total", "Publishing rounds that failed (retried).")
