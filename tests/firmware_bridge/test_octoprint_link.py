"""Whole jobs through the OctoPrint simulator and the real link over loopback HTTP."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import ConfigError
from firmware_bridge.model import JobOutcome, MachineState
from firmware_bridge.octoprint.link import OctoPrintLink
from firmware_bridge.octoprint.parse import Unknown, parse_job, parse_printer
from firmware_bridge.octoprint.sim import OctoPrintSimulator, serve
from tests.firmware_bridge.links import following, state_is, stop_then_restart, wait_for
from tests.firmware_bridge.recording import RecordingSink


def link_to(sim: OctoPrintSimulator, **options: float) -> OctoPrintLink:
    settings = {"poll_s": 0.03, "backoff_s": 0.05, "max_backoff_s": 0.2} | options
    return OctoPrintLink(sim.url, sim.api_key, **settings)


def ended(sink: RecordingSink, count: int) -> Callable[[], bool]:
    return lambda: len(sink.jobs()) == count and sink.jobs()[-1][2] is not None


def test_jobs_completed_cancelled_and_failed() -> None:
    with OctoPrintSimulator() as sim, following(link_to(sim)) as sink:
        wait_for(state_is(sink, MachineState.IDLE))
        sim.start_print("bracket.gcode", 1.0)
        wait_for(lambda: any(view.busy for _, view in sink.views))
        time.sleep(0.3)  # printing
        sim.pause()
        wait_for(lambda: sim.state == "Paused")
        wait_for(state_is(sink, MachineState.PAUSED))
        time.sleep(0.3)  # paused: not billed
        sim.resume()
        wait_for(lambda: sim.jobs[0].end is not None)
        wait_for(ended(sink, 1))

        sim.start_print("benchy.gcode", 10.0)
        time.sleep(0.4)
        sim.cancel()
        wait_for(ended(sink, 2))

        sim.start_print("vase.gcode", 10.0)
        time.sleep(0.4)
        sim.error("Thermal Runaway")
        wait_for(state_is(sink, MachineState.ALARM))
        alarm = sink.latest()
        assert alarm is not None
        assert (alarm.alarm, alarm.alarm_message, alarm.outcome, alarm.busy) == (
            "octoprint_error",
            "Thermal Runaway",
            JobOutcome.ERROR,
            False,
        )

    seen = sink.jobs()
    assert [(job.name, outcome) for job, _, _, outcome in seen] == [
        ("bracket.gcode", JobOutcome.COMPLETED),
        ("benchy.gcode", JobOutcome.CANCELLED),
        ("vase.gcode", JobOutcome.ERROR),
    ]
    assert len({job.job_id for job, *_ in seen}) == 3
    for (_, start, end, _), real in zip(seen, sim.jobs, strict=True):
        assert end is not None and real.end is not None
        assert abs(start - real.start) < 0.3
        assert abs(end - real.end) < 0.3
    assert abs(sink.busy_seconds() - sim.busy_seconds()) < 1.0
    assert abs(sink.busy_seconds() - 1.8) < 0.3  # 1.0 s printed + 0.4 s + 0.4 s
    paused = [view for _, view in sink.views if view.state is MachineState.PAUSED]
    assert paused and not any(view.busy for view in paused)
    temperatures = [view.temperatures.get("nozzle", 0.0) for _, view in sink.views]
    assert max(temperatures) > 30.0
    assert sink.unknowns == [] and sink.offlines == []


def test_a_printer_disconnected_from_octoprint_is_offline_not_idle() -> None:
    with OctoPrintSimulator() as sim, following(link_to(sim)) as sink:
        sim.start_print("bracket.gcode", 10.0)
        wait_for(lambda: any(view.busy for _, view in sink.views))
        sim.disconnect_printer()  # /api/printer now answers 409
        wait_for(state_is(sink, MachineState.OFFLINE))
        gone = sink.latest()
        assert gone is not None and (gone.busy, gone.job, gone.outcome) == (
            False,
            None,
            JobOutcome.INTERRUPTED,
        )
        sim.reconnect()
        wait_for(state_is(sink, MachineState.IDLE))
    assert sink.offlines == []  # OctoPrint itself stayed reachable
    assert [outcome for *_, outcome in sink.jobs()] == [JobOutcome.INTERRUPTED]


def test_a_wrong_key_is_reported_offline_once() -> None:
    with OctoPrintSimulator() as sim:
        link = OctoPrintLink(sim.url, "WRONG", 0.03, backoff_s=0.05, max_backoff_s=0.2)
        with following(link) as sink:
            wait_for(lambda: len(sink.offlines) == 1)
            wait_for(lambda: sum(status == 403 for _, status in sim.requests) >= 3)
        assert "refused the API key" in sink.offlines[0][1]
        assert "HTTP 403" in sink.offlines[0][1]
    assert sink.views == []
    assert len(sink.offlines) == 1  # the same reason is said once
    # Backoff: 50, 100, 200, 200 ms... not one request per poll period.
    assert len(sim.requests) < 20


def test_server_stopped_is_offline_and_views_return_after_restart() -> None:
    with OctoPrintSimulator() as sim, following(link_to(sim)) as sink:
        stop_then_restart(sim, sink)
    assert len(sink.offlines) == 1


def test_views_arrive_at_every_poll_even_without_change() -> None:
    with OctoPrintSimulator() as sim, following(link_to(sim, poll_s=0.05)) as sink:
        wait_for(lambda: len(sink.views) >= 10)
    stamps = [at for at, _ in sink.views]
    assert max(b - a for a, b in itertools.pairwise(stamps)) < 0.5


def test_a_bad_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError):
        OctoPrintLink("octopi.local", "KEY")


bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(
        [
            b'{"state": null}',
            b'{"state": {"text": 5}}',
            b'{"state": "Printing", "progress": {"completion": "x"}}',
            b'{"state": {"text": "Printing", "flags": []}}',
            b"[" * 5000,
            b"{" + b" " * 300_000 + b"}",
        ]
    ),
)
answers = st.tuples(bodies, st.sampled_from([200, 200, 404, 409, 500, 503]))


def test_malformed_answers_are_counted_and_the_link_carries_on() -> None:
    with OctoPrintSimulator() as sim, following(link_to(sim, poll_s=0.01)) as sink:
        wait_for(lambda: len(sink.views) > 0)
        marks = iter(range(1_000_000))

        @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(st.tuples(answers, answers), max_size=4))
        def inject(steps: list[tuple[tuple[bytes, int], tuple[bytes, int]]]) -> None:
            before = len(sink.unknowns)
            expected = sum(
                isinstance(parse_job(job_code, job_body), Unknown)
                + isinstance(parse_printer(printer_code, printer_body), Unknown)
                for (job_body, job_code), (printer_body, printer_code) in steps
            )
            mark = f"end-of-batch-{next(marks)}"
            # One answer for each endpoint per poll: both lists are used up together.
            for (job_body, job_code), (printer_body, printer_code) in steps:
                sim.inject(job_body, path="/api/job", status=job_code)
                sim.inject(printer_body, path="/api/printer", status=printer_code)
            sim.inject(mark.encode(), path="/api/job")  # not JSON: unknown, after the others
            sim.inject(mark.encode(), path="/api/printer")
            wait_for(lambda: sum(mark in text for text in sink.unknowns) == 2)
            assert len(sink.unknowns) - before == expected + 2

        inject()
        assert sink.offlines == []
        wait_for(state_is(sink, MachineState.IDLE))  # back to the real documents


def test_served_standalone_it_prints_by_itself() -> None:
    sim = serve(every_s=0.4, duration_s=0.15)
    try:
        with following(OctoPrintLink(sim.url, sim.api_key, 0.02)) as sink:
            wait_for(lambda: len([job for job in sink.jobs() if job[3] is not None]) >= 2)
    finally:
        sim.stop()
    assert [job.name for job, *_ in sink.jobs()[:2]] == ["autoplay_001.gcode", "autoplay_002.gcode"]
    assert all(outcome is JobOutcome.COMPLETED for *_, outcome in sink.jobs()[:2])
