"""What the agent makes of the firmware bridge: job events, the interlock, machine time.

The bridge counts busy seconds and energy since it started; a session's share is the
difference between its end and its start, and a job is attributed to the session holding the
machine when it started.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from contracts.models import (
    EventType,
    JobEnded,
    JobStarted,
    SessionEnded,
    SessionStarted,
    Telemetry,
)
from edge.clock import Clock
from edge.parts import BridgePort
from edge.recorder import Identity
from edge.session import JobState, Record
from firmware_bridge.tracker import Interlock, JobBegan, JobFinished

JOB_STATES = {
    Interlock.CLEAR: JobState.IDLE,
    Interlock.HOLD: JobState.RUNNING,
    Interlock.UNKNOWN: JobState.UNKNOWN,
}


class MachineBook:
    def __init__(self, bridge: BridgePort) -> None:
        self._bridge = bridge
        self._marks: dict[UUID, tuple[float, float | None]] = {}
        self._job_sessions: dict[str, UUID | None] = {}

    def annotate(self, record: Record) -> Record:
        """Remember totals when a session starts; give its end the machine time in between."""
        data = record.data
        if isinstance(data, SessionStarted):
            self._marks[data.session_id] = self._totals()
        elif isinstance(data, SessionEnded) and data.session_id in self._marks:
            busy0, energy0 = self._marks.pop(data.session_id)
            busy, energy = self._totals()
            used = None if energy is None or energy0 is None else round(energy - energy0, 3)
            ended = data.model_copy(update={"busy_s": round(busy - busy0, 3), "energy_wh": used})
            return replace(record, data=ended)
        return record

    def job_started(self, began: JobBegan, session_id: UUID | None) -> Record:
        job = began.job
        self._job_sessions[job.job_id] = session_id
        started = JobStarted(
            job_id=job.job_id[:100],
            name=job.name[:200],
            started_at=began.at.at,
            session_id=session_id,
        )
        return Record(EventType.JOB_STARTED, started)

    def job_ended(self, finished: JobFinished) -> Record:
        job = finished.job
        ended = JobEnded(
            job_id=job.job_id[:100],
            name=job.name[:200],
            started_at=finished.started.at,
            ended_at=finished.ended.at,
            outcome=finished.outcome.value,
            busy_s=max(0.0, finished.busy_s),
            energy_wh=None if finished.energy_wh is None else max(0.0, finished.energy_wh),
            session_id=self._job_sessions.pop(job.job_id, None),
        )
        return Record(EventType.JOB_ENDED, ended)

    def telemetry(self, identity: Identity, clock: Clock) -> Telemetry:
        snapshot = self._bridge.snapshot()
        return Telemetry(
            site=identity.site,
            device_id=identity.device_id,
            machine_id=identity.machine_id,
            time=clock.now(),
            state=snapshot.state,
            metrics=dict(list(snapshot.metrics.items())[:64]),
        )

    def _totals(self) -> tuple[float, float | None]:
        snapshot = self._bridge.snapshot()
        return snapshot.busy_s, snapshot.energy_wh
