"""The maintenance monitor: one thread that compares every active plan to its thresholds.

Each evaluation reads all counters (a few grouped queries), raises the alerts of new crossings
(the alert row and its notifications in one transaction; the database's unique key drops a
second raise by a restarted hub or another replica), and locks or unlocks machines through the
`CommandSender` after claiming the change in the database. The lock state of locked machines is
sent again after every reconnect to the broker and every `resend_s`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from contracts.models import Alert, AlertLevel, CommandAction
from hub.commands import CommandSender
from hub.db import session_factory, writing
from hub.errors import HubError
from hub.ingest.metrics import Metrics
from hub.maintenance import locks
from hub.maintenance.counters import PlanStatus, statuses
from hub.maintenance.locks import Change
from hub.maintenance.models import MachineLock, MaintenanceAlert, MaintenancePlan
from hub.maintenance.plans import PlanState, describe, new_crossing, threshold_of
from hub.maintenance.settings import MaintenanceSettings
from hub.registry.models import Machine
from hub.telemetry.points import alert_point, maintenance_point

log = logging.getLogger(__name__)

Notify = Callable[[Session, Alert, str], object]
Offer = Callable[[list[str]], object]
# More to write in the same transaction as a change (an audit entry).
Also = Callable[[Session], object]
ISSUER = "maintenance"


@dataclass(frozen=True)
class Place:
    """Where a machine is: its site, and the edge device that gates it (if any)."""

    site: str
    device_id: str | None


@dataclass
class Evaluation:
    """What one evaluation found and did."""

    statuses: list[PlanStatus] = field(default_factory=list)
    raised: list[Alert] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)
    unlocked: list[str] = field(default_factory=list)


@dataclass
class _Snapshot:
    statuses: list[PlanStatus]
    places: dict[str, Place]
    raised: set[tuple[int, int, AlertLevel]]
    locks: dict[str, MachineLock]


class MaintenanceMonitor:
    def __init__(
        self,
        engine: Engine,
        settings: MaintenanceSettings,
        *,
        notify: Notify,
        sender: CommandSender | None,
        offer: Offer | None = None,
        after_raise: Callable[[], object] | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = session_factory(engine)
        self._settings = settings
        self._notify = notify
        self._sender = sender
        self._offer = offer
        # Told once alerts and their notifications are committed: the notifier sends at once.
        self._after_raise = after_raise
        self.metrics = metrics or Metrics()
        _describe(self.metrics)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # One evaluation at a time in this process (the thread, a test, the API's wake).
        self._evaluating = threading.Lock()
        self._seen_connections = 0
        self._resent_at: float | None = None
        self._unlocks: dict[UUID, str] = {}
        if sender is not None:
            sender.on_connect(self.wake)

    # ------------------------------------------------------------ thread

    def start(self) -> MaintenanceMonitor:
        self._thread = threading.Thread(target=self._run, name="maintenance", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(15)

    def wake(self) -> None:
        """Evaluate soon (the ledger committed sessions, a maintainer logged an intervention)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.evaluate()
            except (SQLAlchemyError, HubError) as exc:
                self.metrics.inc("maintenance_evaluation_failures_total")
                log.warning("maintenance evaluation failed, retrying: %s", exc)
            self._stopping.wait(self._settings.min_gap_s)
            self._wake.wait(max(0.0, self._settings.interval_s - self._settings.min_gap_s))
            self._wake.clear()

    # ------------------------------------------------------------ one evaluation

    def evaluate(self, now: datetime | None = None) -> Evaluation:
        """Look at every active plan once, as of `now`; usable synchronously."""
        now = now or self._clock()
        with self._evaluating:
            snapshot = self._read(now)
            self._confirm_unlocks()
            self._resend(snapshot.locks)
            result = Evaluation(statuses=snapshot.statuses)
            result.raised = self._raise_new(snapshot, now)
            if result.raised and self._after_raise is not None:
                self._after_raise()
            self._offer_points(snapshot, result.raised, now)
            self._apply_locks(snapshot, now, result)
            self.metrics.inc("maintenance_evaluations_total")
            return result

    def _read(self, now: datetime) -> _Snapshot:
        with self._sessions() as session:
            plans = list(
                session.scalars(
                    select(MaintenancePlan)
                    .where(MaintenancePlan.active.is_(True))
                    .order_by(MaintenancePlan.id)
                )
            )
            found = statuses(
                session, plans, now=now, window_days=self._settings.forecast_window_days
            )
            places = {m.id: Place(m.site_id, m.device_id) for m in session.scalars(select(Machine))}
            raised = {
                (a.plan_id, a.cycle, a.level)
                for a in session.execute(
                    select(MaintenanceAlert.plan_id, MaintenanceAlert.cycle, MaintenanceAlert.level)
                    .join(MaintenancePlan, MaintenancePlan.id == MaintenanceAlert.plan_id)
                    .where(MaintenanceAlert.cycle == MaintenancePlan.cycle)
                )
            }
            rows = {row.machine_id: row for row in session.scalars(select(MachineLock))}
        return _Snapshot(found, places, raised, rows)

    # ------------------------------------------------------------ alerts

    def _raise_new(self, snapshot: _Snapshot, now: datetime) -> list[Alert]:
        raised = []
        for status in snapshot.statuses:
            before = frozenset(
                level
                for level in AlertLevel
                if (status.plan_id, status.cycle, level) in snapshot.raised
            )
            level = new_crossing(status.value, status.thresholds, before)
            if level is None:
                continue
            alert = self._raise(status, level, snapshot.places[status.machine_id], now)
            if alert is not None:
                raised.append(alert)
        return raised

    def _raise(
        self, status: PlanStatus, level: AlertLevel, place: Place, now: datetime
    ) -> Alert | None:
        threshold = threshold_of(level, status.thresholds)
        alert = Alert(
            alert_id=uuid.uuid4(),
            site=place.site,
            machine_id=status.machine_id,
            plan=status.name,
            counter=status.counter,
            level=level,
            value=status.value,
            threshold=threshold,
            raised_at=now,
            due_at=status.due_at,
            message=_message(status, level, threshold),
        )
        try:
            with writing(self._sessions) as session:
                session.add(_alert_row(alert, status))
                session.flush()
                self._notify(session, alert, place.device_id or status.machine_id)
        except IntegrityError:
            log.debug("alert %s of plan %d raised already", level.value, status.plan_id)
            return None
        self.metrics.inc("maintenance_alerts_total", level=level.value)
        log.warning("maintenance alert on %s: %s", status.machine_id, alert.message)
        return alert

    def _offer_points(self, snapshot: _Snapshot, alerts: list[Alert], now: datetime) -> None:
        if self._offer is None:
            return
        lines = [_point(s, snapshot.places[s.machine_id].site, now) for s in snapshot.statuses]
        lines += [alert_point(alert) for alert in alerts]
        if lines:
            self._offer(lines)

    # ------------------------------------------------------------ locks

    def _apply_locks(self, snapshot: _Snapshot, now: datetime, result: Evaluation) -> None:
        overdue = _overdue(snapshot.statuses)
        for machine_id, plans in sorted(overdue.items()):
            row = snapshot.locks.get(machine_id)
            if row is None or not row.locked_by_maintenance:
                self._lock(machine_id, plans, snapshot.places[machine_id], now, result)
        for machine_id, row in sorted(snapshot.locks.items()):
            if row.locked_by_maintenance and machine_id not in overdue:
                self._unlock(machine_id, snapshot.places[machine_id], result)

    def _lock(
        self,
        machine_id: str,
        plans: list[PlanStatus],
        place: Place,
        now: datetime,
        result: Evaluation,
    ) -> None:
        names = ", ".join(p.name for p in plans)
        with writing(self._sessions) as session:
            change = locks.lock_for_maintenance(
                session, machine_id=machine_id, plans=names, now=now
            )
        if change is Change.NONE:
            return
        result.locked.append(machine_id)
        self.metrics.inc("maintenance_locks_total")
        log.warning("%s locked: %s", machine_id, _lock_reason(plans))
        if change is Change.SEND:
            self._send(place, CommandAction.LOCK, _lock_reason(plans))

    def _unlock(self, machine_id: str, place: Place, result: Evaluation) -> None:
        with writing(self._sessions) as session:
            change = locks.release_from_maintenance(session, machine_id=machine_id)
        if change is Change.NONE:
            return
        result.unlocked.append(machine_id)
        self.metrics.inc("maintenance_unlocks_total")
        log.info("%s released by maintenance", machine_id)
        if change is Change.SEND:
            self._send_unlock(machine_id, place, "maintenance done")

    def _send(
        self, place: Place, action: CommandAction, reason: str, by: str | None = ISSUER
    ) -> UUID | None:
        if self._sender is None or place.device_id is None:
            return None
        return self._sender.send(place.site, place.device_id, action, reason, by)

    def _send_unlock(self, machine_id: str, place: Place, reason: str) -> None:
        command_id = self._send(place, CommandAction.UNLOCK, reason)
        if command_id is not None:
            self._unlocks[command_id] = machine_id

    def _confirm_unlocks(self) -> None:
        if self._sender is None:
            return
        done = [cid for cid in self._unlocks if self._sender.confirmed(cid)]
        for command_id in done:
            machine_id = self._unlocks.pop(command_id)
            with writing(self._sessions) as session:
                locks.unlock_confirmed(session, machine_id=machine_id)

    def _resend(self, rows: dict[str, MachineLock]) -> None:
        """The lock state again after a reconnect to the broker, and every `resend_s`."""
        sender = self._sender
        if sender is None or not sender.connected:
            return
        mono = self._monotonic()
        reconnected = sender.connections != self._seen_connections
        stale = self._resent_at is None or mono - self._resent_at >= self._settings.resend_s
        if not (reconnected or stale):
            return
        self._seen_connections, self._resent_at = sender.connections, mono
        with self._sessions() as session:
            places = _places(session, rows)
        for machine_id, row in rows.items():
            place = places[machine_id]
            if row.locked:
                by = ISSUER if row.locked_by_maintenance else row.manual_by
                self._send(place, CommandAction.LOCK, _held_reason(row), by)
            elif row.unlock_pending:
                self._send_unlock(machine_id, place, "maintenance done")
            else:
                continue
            self.metrics.inc("maintenance_commands_resent_total")

    # ------------------------------------------------------------ manual locks

    def lock_manually(
        self, machine_id: str, *, by: str, reason: str, also: Also | None = None
    ) -> None:
        """A person locks the machine; maintenance will not unlock it. `also` runs inside the
        lock's transaction (the console's audit entry), committed with it or not at all."""
        with writing(self._sessions) as session:
            tell = locks.lock_manually(
                session, machine_id=machine_id, by=by, reason=reason, now=self._clock()
            )
            place = _places(session, [machine_id])[machine_id]
            if also is not None:
                also(session)
        if tell:
            self._send(place, CommandAction.LOCK, reason, by)

    def unlock_manually(self, machine_id: str, *, by: str, also: Also | None = None) -> None:
        """Lift a manual lock (the machine stays locked while a plan is over its limit); `also`
        as for `lock_manually`."""
        with writing(self._sessions) as session:
            tell = locks.unlock_manually(session, machine_id=machine_id)
            place = _places(session, [machine_id])[machine_id]
            if also is not None:
                also(session)
        if tell:
            self._send_unlock(machine_id, place, f"unlocked by {by}")


def _places(session: Session, machine_ids: Iterable[str]) -> dict[str, Place]:
    query = select(Machine).where(Machine.id.in_(list(machine_ids)))
    return {m.id: Place(m.site_id, m.device_id) for m in session.scalars(query)}


def _overdue(found: list[PlanStatus]) -> dict[str, list[PlanStatus]]:
    """The machines to keep locked, with the plans over their limit that lock them."""
    overdue: dict[str, list[PlanStatus]] = {}
    for status in found:
        if status.lock_at_limit and status.state is PlanState.LIMIT:
            overdue.setdefault(status.machine_id, []).append(status)
    return overdue


def _lock_reason(plans: list[PlanStatus]) -> str:
    parts = (describe(p.name, p.counter, p.value, p.limit) for p in plans)
    return "maintenance: " + "; ".join(parts)


def _held_reason(row: MachineLock) -> str:
    if row.locked_by_maintenance:
        return f"maintenance: {row.plans}"
    return row.manual_reason or f"locked by {row.manual_by}"


def _message(status: PlanStatus, level: AlertLevel, threshold: float) -> str:
    what = describe(status.name, status.counter, status.value, threshold)
    if level is AlertLevel.WARNING:
        return f"maintenance due soon: {what}"
    if status.lock_at_limit:
        return f"maintenance overdue: {what}; locked for all but maintainers"
    return f"maintenance overdue: {what}"


def _alert_row(alert: Alert, status: PlanStatus) -> MaintenanceAlert:
    return MaintenanceAlert(
        alert_id=alert.alert_id,
        plan_id=status.plan_id,
        cycle=status.cycle,
        level=alert.level,
        value=alert.value,
        threshold=alert.threshold,
        raised_at=alert.raised_at,
        due_at=alert.due_at,
    )


def _point(status: PlanStatus, site: str, now: datetime) -> str:
    return maintenance_point(
        site=site,
        machine_id=status.machine_id,
        plan=status.name,
        counter=status.counter.value,
        value=status.value,
        warning=status.warning,
        limit=status.limit,
        at=now,
        due_at=status.due_at,
    )


def _describe(metrics: Metrics) -> None:
    for name, text in (
        ("maintenance_evaluations_total", "Evaluations of every active maintenance plan."),
        ("maintenance_evaluation_failures_total", "Evaluations that failed (retried)."),
        ("maintenance_alerts_total", "Maintenance alerts raised, by level."),
        ("maintenance_locks_total", "Machines locked because a plan passed its limit."),
        ("maintenance_unlocks_total", "Machines unlocked after maintenance."),
        ("maintenance_commands_resent_total", "Lock or unlock commands sent again."),
    ):
        metrics.describe(name, text)
