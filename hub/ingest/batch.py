"""One batch of MQTT messages judged and committed: events validated, the rest dead-lettered.

Runs where the ledger is written (the committer process, see `committer.py`), so the MQTT loop
only moves bytes: it gets back the ack payloads to publish and the figures to count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from contracts import codec
from contracts.errors import ContractError
from contracts.models import Ack, Event
from contracts.topics import Kind, parse, topic

MAX_IDS_PER_ACK = 1000  # contracts.models.Ack bound
# Topics already parsed, each with the device it names and its ack topic. The broker's ACL
# keeps the set to the site's devices; the bound only stops a misconfigured broker's flood.
MAX_KNOWN_TOPICS = 10_000
EVENT_SUFFIX = f"/{Kind.EVENT.value}"
# The kind counted for an event valid per contract that the database would not store.
LEDGER_REFUSED = "LedgerRefused"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: str


@dataclass(frozen=True)
class Stored:
    """What the sink did with a batch: how many events were new, and the events the ledger
    refused (valid per contract, but not storable), kept as dead letters instead."""

    new: int
    refused: list[DeadLetter] = field(default_factory=list)


class EventSink(Protocol):
    def store(
        self,
        events: list[Event],
        dead: list[DeadLetter],
        *,
        received_at: datetime,
        payloads: Sequence[bytes] | None = None,
        topics: Sequence[str] | None = None,
    ) -> Stored:
        """Commit valid events (idempotent on event_id) and dead letters in one transaction;
        say how many events were new. Raises StoreUnavailable when the database cannot.

        `payloads` and `topics`, when given, are the bytes each event was validated from and
        the topic it came on, one per event. An event the database refuses for its values is
        kept as a dead letter and reported in `Stored.refused`; the others are stored."""
        ...


class ForgedDevice(ContractError):
    """An event whose device is not the one its topic names."""


@dataclass(frozen=True)
class Refused:
    """A dead letter as the MQTT side reports it: where from, the error's kind, why."""

    topic: str
    kind: str
    reason: str


@dataclass
class Outcome:
    """A committed batch: ack messages to publish, in order, and what to count and log."""

    acks: list[tuple[str, bytes]] = field(default_factory=list)
    events: int = 0
    new: int = 0
    refused: list[Refused] = field(default_factory=list)
    misrouted: list[str] = field(default_factory=list)


@dataclass
class Checked:
    """A batch validated and sorted, ready to commit."""

    received_at: datetime
    events: list[Event] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    misrouted: list[str] = field(default_factory=list)
    # Ack topic -> the ids of its device's events, in arrival order.
    ids: defaultdict[str, list[UUID]] = field(default_factory=lambda: defaultdict(list))

    def commit(self, sink: EventSink) -> Outcome:
        """Store the batch; then, and only then, the acks are due. Events the ledger refused
        are acked too: the hub keeps them as dead letters, and a device resending them for
        ever would only add more."""
        stored = sink.store(
            self.events,
            self.dead,
            received_at=self.received_at,
            payloads=self.payloads,
            topics=self.topics,
        )
        acks = [
            (ack_topic, codec.encode(Ack(event_ids=chunk)))
            for ack_topic, all_ids in self.ids.items()
            for chunk in _chunks(all_ids, MAX_IDS_PER_ACK)
        ]
        refused = self.refused + [
            Refused(letter.topic, LEDGER_REFUSED, letter.reason) for letter in stored.refused
        ]
        return Outcome(acks, len(self.events), stored.new, refused, self.misrouted)


@dataclass(frozen=True)
class _Source:
    site: str
    device: str
    ack_topic: str


class Judge:
    """Validates messages against the contract: events to store, the rest dead letters."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._sources: dict[str, _Source] = {}

    def check(self, messages: Sequence[tuple[str, bytes]], received_at: datetime) -> Checked:
        checked = Checked(received_at)
        for where, payload in messages:
            if not where.endswith(EVENT_SUFFIX):
                # Not ours to judge: amqtt 0.12 hands a new wildcard subscription retained
                # messages from topics it does not match (access lists). Counted, acked, dropped.
                checked.misrouted.append(where)
                continue
            try:
                event, source = self._validate(where, payload)
            except ContractError as exc:
                checked.dead.append(DeadLetter(where, payload, str(exc)))
                checked.refused.append(Refused(where, type(exc).__name__, str(exc)))
                continue
            checked.events.append(event)
            checked.payloads.append(payload)
            checked.topics.append(where)
            checked.ids[source.ack_topic].append(event.event_id)
        return checked

    def commit(
        self, sink: EventSink, messages: Sequence[tuple[str, bytes]], received_at: datetime
    ) -> Outcome:
        """`check`, then `Checked.commit`."""
        return self.check(messages, received_at).commit(sink)

    def _validate(self, where: str, payload: bytes) -> tuple[Event, _Source]:
        source = self._source(where)
        event = codec.decode_event(payload)
        if (event.site, event.device_id) != (source.site, source.device):
            # The broker ACL already stops this; a hub that trusted payloads would still
            # book one device's sessions on another.
            claimed = f"{event.site}/{event.device_id}"
            raise ForgedDevice(
                f"event from {claimed} on the topic of {source.site}/{source.device}"
            )
        return event, source

    def _source(self, where: str) -> _Source:
        known = self._sources.get(where)
        if known is None:
            parsed = parse(where, self._prefix)
            ack_topic = topic(parsed.site, parsed.device, Kind.ACK, self._prefix)
            known = _Source(parsed.site, parsed.device, ack_topic)
            if len(self._sources) >= MAX_KNOWN_TOPICS:
                self._sources.clear()
            self._sources[where] = known
        return known


def _chunks(ids: list[UUID], size: int) -> list[list[UUID]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]
