"""The agent's main loop: one thread owns the session machine, the relay and every record.

Readers, buttons and the MQTT link only post items to its inbox, so a badge never waits on
the network and no two threads ever drive the relay.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from uuid import UUID

from contracts import codec
from contracts.errors import ContractError
from contracts.models import (
    AclApplied,
    AgentStarted,
    Alarm,
    EndReason,
    EventType,
    SessionEnded,
    Status,
)
from contracts.topics import Kind
from edge import __version__, journal
from edge.access import decide
from edge.acl_cache import Outcome
from edge.bridging import JOB_STATES, MachineBook
from edge.errors import OutboxError
from edge.hub_commands import CommandFilter
from edge.hw.ports import Signal
from edge.inbox import (
    BadgeSeen,
    BridgeReport,
    Incoming,
    Item,
    JobReported,
    LogoutRequested,
    ReaderFault,
    ReaderRecovered,
    read_badges,
)
from edge.parts import Parts
from edge.session import (
    CLEARED,
    BadgePresented,
    HolderRevalidated,
    Indicate,
    Input,
    JobChanged,
    LogoutPressed,
    Moment,
    PowerOff,
    PowerOn,
    Record,
    Shutdown,
    State,
    Tick,
)
from edge.session import Command as MachineCommand
from firmware_bridge.tracker import (
    AlarmChanged,
    FirmwareIdentified,
    InterlockChanged,
    JobBegan,
    JobFinished,
    Output,
)

log = logging.getLogger(__name__)

TICK_S = 0.5
FLUSH_ON_STOP_S = 3.0
_LOCKED_KEY = "locked"


class Agent:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.inbox: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self.counters: Counter[str] = Counter()
        self.ready = threading.Event()
        self._alarms: dict[str, bool] = {}
        self._last_tick = self._last_heartbeat = self._last_status = self._last_watchdog = 0.0
        self._last_telemetry = 0.0
        self._book = None if parts.bridge is None else MachineBook(parts.bridge)
        self._commands = CommandFilter(self.counters)
        self._reader_thread: threading.Thread | None = None

    # ------------------------------------------------------------ public

    def post(self, item: Item) -> None:
        """Thread-safe entry point for readers, buttons, the link and the bridge."""
        self.inbox.put(item)

    def run(self, stop: threading.Event) -> None:
        """Boot, serve until `stop` is set, then shut down with the relay open."""
        try:
            self.boot()
            self._start_threads(stop)
            self.parts.notifier.ready(f"ready, access list v{self._acl_version()}")
            self.ready.set()
            while not stop.is_set():
                self._step()
        finally:
            self.shutdown(stop)

    # ------------------------------------------------------------ boot and shutdown

    def boot(self) -> None:
        p = self.parts
        p.power.off()  # constructed off already; said again because it is the whole point
        recovered = self._recover_session()
        self._load_acl()
        p.machine.locked = p.store.get(_LOCKED_KEY) == "1"
        started = AgentStarted(
            version=__version__, acl_version=self._acl_version(), recovered_session_id=recovered
        )
        self._record(Record(EventType.AGENT_STARTED, started))
        p.indicator.show(Signal.LOCKED if p.machine.locked else Signal.READY)

    def _recover_session(self) -> UUID | None:
        found = journal.load(self.parts.store)
        if found is None:
            return None
        session = found.session
        ended = SessionEnded(
            session_id=session.session_id,
            badge_uid=session.badge_uid,
            member_id=session.member_id,
            started_at=session.started_at,
            ended_at=max(found.last_heartbeat, session.started_at),
            end_reason=EndReason.UNCLEAN_SHUTDOWN,
            unclean=True,
        )
        log.warning(
            "session %s was open at the last stop: closed at its last heartbeat %s",
            session.session_id,
            found.last_heartbeat.isoformat(),
        )
        self._record(Record(EventType.SESSION_ENDED, ended, CLEARED))
        return session.session_id

    def _load_acl(self) -> None:
        offer = self.parts.acl.load()
        if offer.outcome is Outcome.REJECTED:
            self.counters["acl_rejected"] += 1
            log.error("access list on disk refused: %s", offer.detail)
            self._alarm("acl_invalid", "critical", f"access list on disk refused: {offer.detail}")

    def _start_threads(self, stop: threading.Event) -> None:
        p = self.parts
        self._reader_thread = threading.Thread(
            target=read_badges,
            args=(p.reader, self.post, stop, self.counters),
            name="badge-reader",
            daemon=True,
        )
        self._reader_thread.start()
        p.publisher.start()
        p.link.start()
        if p.bridge is not None:
            p.bridge.start()

    def shutdown(self, stop: threading.Event) -> None:
        p = self.parts
        stop.set()
        p.notifier.stopping()
        try:
            self._feed(Shutdown(at=p.clock.now(), mono=p.clock.monotonic()))
        finally:
            p.power.off()
        if p.bridge is not None:
            p.bridge.stop()
        self._flush_outbox(FLUSH_ON_STOP_S)
        p.link.stop()
        p.publisher.stop()
        for part in (p.reader, p.indicator, p.power):
            part.close()
        for closer in p.extra_closers:
            getattr(closer, "close", lambda: None)()
        if self._reader_thread is not None:
            self._reader_thread.join(2)
        p.store.close()

    def _flush_outbox(self, timeout: float) -> None:
        # The last events (the session's end) reach the hub now if the broker is there;
        # otherwise they wait in the outbox for the next start.
        p = self.parts
        deadline = time.monotonic() + timeout
        while p.link.connected and p.outbox.backlog() and time.monotonic() < deadline:
            time.sleep(0.05)

    # ------------------------------------------------------------ the loop

    def _step(self) -> None:
        try:
            item = self.inbox.get(timeout=TICK_S)
        except queue.Empty:
            item = None
        if item is not None:
            self._dispatch(item)
        self._periodic()

    def _dispatch(self, item: Item) -> None:
        match item:
            case BadgeSeen(uid):
                self._on_badge(uid)
            case LogoutRequested():
                self._feed(LogoutPressed(**self._now()))
            case JobReported(job):
                self._feed(JobChanged(job=job, **self._now()))
            case BridgeReport(outputs):
                for output in outputs:
                    self._on_bridge(output)
            case Incoming(kind, payload):
                self._on_message(kind, payload)
            case ReaderFault(message):
                self._alarm("reader_fault", "critical", message)
            case ReaderRecovered():
                self._alarm("reader_fault", "info", "badge reader answers again", active=False)

    def _now(self) -> Moment:
        clock = self.parts.clock
        return Moment(at=clock.now(), mono=clock.monotonic())

    def _on_badge(self, uid: str) -> None:
        p = self.parts
        now = p.clock.now()
        decision = decide(p.acl.index, uid, now, locked=p.machine.locked)
        self.counters["badges"] += 1
        self._feed(BadgePresented(decision=decision, at=now, mono=p.clock.monotonic()))

    def _periodic(self) -> None:
        p = self.parts
        mono = p.clock.monotonic()
        if mono - self._last_tick >= TICK_S:
            self._last_tick = mono
            self._revalidate_holder()
            self._feed(Tick(**self._now()))
        if (
            p.machine.holder is not None
            and mono - self._last_heartbeat >= p.config.session.heartbeat_s
        ):
            self._last_heartbeat = mono
            journal.heartbeat(p.store, p.clock.now())
        if mono - self._last_status >= p.config.watchdog.status_interval_s:
            self.publish_status()
        self._publish_telemetry(mono)
        self._pet_watchdog(mono)

    def _pet_watchdog(self, mono: float) -> None:
        interval = self.parts.notifier.watchdog_interval_s
        if interval is None or mono - self._last_watchdog < interval:
            return
        # Only a healthy agent pets the watchdog: a dead reader thread means systemd restarts us.
        if self._reader_thread is not None and self._reader_thread.is_alive():
            self._last_watchdog = mono
            self.parts.notifier.watchdog()

    def _revalidate_holder(self) -> None:
        p = self.parts
        holder = p.machine.holder
        if holder is None or p.machine.state is not State.ACTIVE:
            return
        decision = decide(p.acl.index, holder.uid, p.clock.now(), locked=p.machine.locked)
        if not decision.allowed:
            self._feed(HolderRevalidated(decision=decision, **self._now()))

    # ------------------------------------------------------------ machine commands

    def _feed(self, event: Input) -> None:
        p = self.parts
        before = (p.machine.state, p.machine.locked)
        self._execute(p.machine.handle(event))
        if p.machine.locked != before[1]:
            p.store.put(_LOCKED_KEY, "1" if p.machine.locked else "0")
        if (p.machine.state, p.machine.locked) != before:
            self.publish_status()

    def _execute(self, commands: list[MachineCommand]) -> None:
        p = self.parts
        for command in commands:
            match command:
                case Record():
                    if not self._record(command):
                        return
                case PowerOn():
                    p.power.on()
                    if p.bridge is not None:
                        p.bridge.power(True)
                case PowerOff():
                    p.power.off()
                    if p.bridge is not None:
                        p.bridge.power(False)
                case Indicate(signal):
                    p.indicator.show(signal)

    def _record(self, command: Record) -> bool:
        """Store one event; False stops the batch (no power for an unrecorded session)."""
        if self._book is not None:
            command = self._book.annotate(command)
        try:
            self.parts.recorder.record(command.type, command.data, command.journal)
        except OutboxError as exc:
            self.counters["record_failures"] += 1
            log.critical("cannot record %s: %s", command.type.value, exc)
            if command.type is EventType.SESSION_STARTED:
                self.parts.machine.abort()
                self.parts.power.off()
                self.parts.indicator.show(Signal.DENIED)
                return False
        self._watch_outbox()
        return True

    def _watch_outbox(self) -> None:
        outbox = self.parts.outbox
        if outbox.alarm_active != self._alarms.get("outbox_backlog", False):
            message = f"outbox holds {outbox.backlog()} events waiting for the hub"
            self._alarm("outbox_backlog", "warning", message, active=outbox.alarm_active)

    def _alarm(self, code: str, severity: str, message: str, *, active: bool = True) -> None:
        # One event per change of state, never one per occurrence: a flapping reader or a
        # flood of forged messages must not fill the outbox.
        if self._alarms.get(code, False) == active:
            return
        self._alarms[code] = active
        alarm = Alarm.model_validate(
            {"code": code, "severity": severity, "message": message[:500], "active": active}
        )
        self._record(Record(EventType.ALARM, alarm))

    # ------------------------------------------------------------ the firmware bridge

    def _on_bridge(self, output: Output) -> None:
        book = self._book
        assert book is not None
        match output:
            case InterlockChanged(interlock):
                self._feed(JobChanged(job=JOB_STATES[interlock], **self._now()))
            case JobBegan():
                holder = self.parts.machine.holder
                self._record(book.job_started(output, holder.session_id if holder else None))
            case JobFinished():
                self._record(book.job_ended(output))
            case AlarmChanged(code, severity, message, active):
                self._alarm(code, severity, message, active=active)
            case FirmwareIdentified():
                self.publish_status()  # the console learns the firmware now, not next period

    def _publish_telemetry(self, mono: float) -> None:
        p = self.parts
        if self._book is None or p.config.bridge is None:
            return
        if mono - self._last_telemetry < p.config.bridge.telemetry_interval_s:
            return
        self._last_telemetry = mono
        if p.link.connected:  # QoS 0 and never queued: a missed sample costs nothing
            telemetry = self._book.telemetry(p.identity, p.clock)
            p.link.publish(Kind.TELEMETRY, codec.encode(telemetry), qos=0)

    # ------------------------------------------------------------ messages from the hub

    def _on_message(self, kind: Kind, payload: bytes) -> None:
        if kind is Kind.ACL:
            self._on_access_list(payload)
        elif kind is Kind.COMMAND:
            self._on_command(payload)
        else:
            self.counters["unexpected_messages"] += 1

    def _on_access_list(self, payload: bytes) -> None:
        acl = self.parts.acl
        offer = acl.offer(payload)
        if offer.outcome is Outcome.REJECTED:
            self.counters["acl_rejected"] += 1
            log.error("access list refused: %s", offer.detail)
            self._alarm("acl_rejected", "warning", f"access list refused: {offer.detail}")
            return
        if offer.outcome is Outcome.STALE:
            return
        assert acl.index is not None
        log.info("access list %s applied (%d badges)", offer.detail, len(acl.index))
        self._alarms["acl_rejected"] = False
        applied = AclApplied(version=acl.index.version, entries=len(acl.index))
        self._record(Record(EventType.ACL_APPLIED, applied))
        self._revalidate_holder()
        self.publish_status()

    def _on_command(self, payload: bytes) -> None:
        try:
            command = codec.decode_command(payload)
        except ContractError as exc:
            self.counters["commands_rejected"] += 1
            log.error("command refused: %s", exc)
            return
        admitted = self._commands.admit(
            command, self._now(), clock_synced=self.parts.clock.synced()
        )
        if admitted is not None:
            self._feed(admitted)

    # ------------------------------------------------------------ status

    def status(self, *, online: bool = True) -> Status:
        p = self.parts
        holder = p.machine.holder
        return Status(
            site=p.identity.site,
            device_id=p.identity.device_id,
            machine_id=p.identity.machine_id,
            boot_id=p.identity.boot_id,
            online=online,
            time=p.clock.now(),
            version=__version__,
            acl_version=self._acl_version(),
            locked=p.machine.locked,
            relay_on=p.power.is_on,
            session=None if holder is None else holder.journal(),
            outbox_backlog=p.outbox.backlog(),
            counters=self.all_counters(),
            firmware=self._firmware(),
        )

    def _firmware(self) -> str | None:
        bridge = self.parts.bridge
        return None if bridge is None else bridge.snapshot().firmware or None

    def status_payload(self) -> bytes:
        return codec.encode(self.status())

    def publish_status(self) -> None:
        self._last_status = self.parts.clock.monotonic()
        self.parts.link.publish(Kind.STATUS, self.status_payload(), qos=1, retain=True)

    def all_counters(self) -> dict[str, int]:
        p = self.parts
        merged: Counter[str] = Counter(self.counters)
        for prefix, part in (
            ("outbox", p.outbox),
            ("link", p.link),
            ("publisher", p.publisher),
            ("reader", p.reader),
            ("recorder", p.recorder),
            ("bridge", p.bridge),  # unknown lines and link losses, per protocol
        ):
            for name, value in getattr(part, "counters", {}).items():
                merged[f"{prefix}_{name}"] = int(value)
        return dict(merged)

    def _acl_version(self) -> int | None:
        index = self.parts.acl.index
        return None if index is None else index.version
