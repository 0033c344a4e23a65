"""Whole jobs through the PrusaLink simulator and the real link over loopback HTTP + Digest."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import ConfigError
from firmware_bridge.model import JobOutcome, MachineState
from firmware_bridge.prusalink.link import PrusaLinkLink
from firmware_bridge.prusalink.parse import Unknown, parse_status
from firmware_bridge.prusalink.sim import PrusaLinkSimulator, serve
from tests.firmware_bridge.links import following, state_is, stop_then_restart, wait_for


def link_to(sim: PrusaLinkSimulator, **options: float) -> PrusaLinkLink:
    settings = {"poll_s": 0.05, "backoff_s": 0.05, "max_backoff_s": 0.2} | options
    return PrusaLinkLink(sim.url, "maker", sim.password, **settings)


def challenges(sim: PrusaLinkSimulator) -> int:
    with sim.lock:
        return sum(status == 401 for _, status in sim.requests)


def test_jobs_completed_cancelled_and_failed() -> None:
    with PrusaLinkSimulator(hold_s=0.3) as sim, following(link_to(sim)) as sink:
        wait_for(state_is(sink, MachineState.IDLE))
        sim.start_print("TabletStand3.bgcode", 1.0)
        wait_for(lambda: any(view.busy for _, view in sink.views))
        time.sleep(0.2)  # printing
        sim.pause()
        wait_for(state_is(sink, MachineState.PAUSED))
        time.sleep(0.3)  # paused: not billed
        sim.resume()
        time.sleep(0.2)
        sim.attention()  # filament runout: the print halts until someone answers
        wait_for(lambda: (view := sink.latest()) is not None and not view.busy)
        halted = sink.latest()
        assert halted is not None and halted.state is MachineState.RUNNING
        assert halted.job is not None and halted.job.name == "TabletStand3.bgcode"
        time.sleep(0.3)
        sim.resume()
        wait_for(lambda: sim.jobs[0].end is not None)
        wait_for(lambda: len(sink.jobs()) == 1 and sink.jobs()[0][2] is not None)

        sim.start_print("benchy.bgcode", 10.0)
        time.sleep(0.3)
        sim.stop_print()
        wait_for(lambda: len(sink.jobs()) == 2 and sink.jobs()[1][2] is not None)

        sim.start_print("vase.bgcode", 10.0)
        time.sleep(0.3)
        sim.error("Thermal runaway")
        wait_for(state_is(sink, MachineState.ALARM))
        alarm = sink.latest()
        assert alarm is not None
        assert (alarm.alarm, alarm.alarm_message, alarm.outcome) == (
            "prusalink_error",
            "Thermal runaway",
            JobOutcome.ERROR,
        )

    seen = sink.jobs()
    assert [(job.job_id, job.name, outcome) for job, _, _, outcome in seen] == [
        ("100", "TabletStand3.bgcode", JobOutcome.COMPLETED),
        ("101", "benchy.bgcode", JobOutcome.CANCELLED),
        ("102", "vase.bgcode", JobOutcome.ERROR),
    ]
    for (_, start, end, _), real in zip(seen, sim.jobs, strict=True):
        assert end is not None and real.end is not None
        assert abs(start - real.start) < 0.3
        assert abs(end - real.end) < 0.3
    assert abs(sink.busy_seconds() - sim.busy_seconds()) < 1.0
    assert abs(sink.busy_seconds() - 1.6) < 0.3  # 1.0 s printed + 0.3 s + 0.3 s
    paused = [view for _, view in sink.views if view.state is MachineState.PAUSED]
    assert paused and not any(view.busy for view in paused)
    assert sink.unknowns == [] and sink.offlines == []
    # One challenge, answered ahead of time for every request after it.
    assert challenges(sim) == 1


def test_a_wrong_password_is_reported_and_retried_slowly() -> None:
    with PrusaLinkSimulator() as sim:
        link = PrusaLinkLink(sim.url, "maker", sim.password + "x", poll_s=0.05, auth_retry_s=0.5)
        with following(link) as sink:
            wait_for(lambda: len(sink.offlines) == 1)
            assert "refused user 'maker'" in sink.offlines[0][1]
            assert "wrong password" in sink.offlines[0][1]
            time.sleep(0.7)  # within this, one slow retry at most
        assert sink.views == []
        assert len(sink.offlines) == 1  # the same reason is said once
        assert challenges(sim) <= 4  # two per attempt, two attempts


def test_stale_nonces_are_renewed_without_a_refusal() -> None:
    with PrusaLinkSimulator(nonce_ttl_s=0.1) as sim, following(link_to(sim)) as sink:
        wait_for(lambda: challenges(sim) >= 3)
        assert sink.offlines == []
        before = len(sink.views)
        wait_for(lambda: len(sink.views) > before + 5)


def test_server_stopped_is_offline_and_views_return_after_restart() -> None:
    with PrusaLinkSimulator() as sim, following(link_to(sim)) as sink:
        stop_then_restart(sim, sink)  # a rebooted printer: it has forgotten its nonces too
    assert len(sink.offlines) == 1
    assert challenges(sim) == 2


def test_a_bad_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError):
        PrusaLinkLink("192.168.1.20")


bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(
        [
            b'{"printer": {}}',
            b'{"printer": {"state": 5}}',
            b'{"printer": {"state": "PRINTING"}, "job": {"id": "7"}}',
            b'{"printer": {"state": "IDLE"}}',
            b"[" * 5000,
            b"{" + b" " * 300_000 + b"}",
        ]
    ),
)


def test_malformed_answers_are_counted_and_the_link_carries_on() -> None:
    with PrusaLinkSimulator() as sim, following(link_to(sim, poll_s=0.01)) as sink:
        wait_for(lambda: len(sink.views) > 0)
        marks = iter(range(1_000_000))

        @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(st.tuples(bodies, st.sampled_from([200, 200, 404, 500, 503])), max_size=4))
        def inject(answers: list[tuple[bytes, int]]) -> None:
            before = len(sink.unknowns)
            expected = sum(
                code != 200 or isinstance(parse_status(body), Unknown) for body, code in answers
            )
            mark = f"end-of-batch-{next(marks)}"
            for body, code in answers:
                sim.inject(body, status=code)
            sim.inject(mark.encode())  # not JSON: counted as unknown, after the others
            wait_for(lambda: any(text.startswith(mark) for text in sink.unknowns))
            assert len(sink.unknowns) - before == expected + 1

        inject()
        assert sink.offlines == []


def test_the_simulator_speaks_digest_as_the_standard_library_does() -> None:
    """An independent Digest client (urllib's) gets in too: the simulator is not tuned to ours."""
    with PrusaLinkSimulator() as sim:
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, sim.url, "maker", sim.password)
        opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))
        with opener.open(sim.url + "/api/v1/info", timeout=5) as answer:
            assert json.loads(answer.read())["hostname"] == "prusa-sim"
        with opener.open(sim.url + "/api/v1/job", timeout=5) as answer:
            assert answer.status == 204
    assert [status for _, status in sim.requests] == [401, 200, 401, 204]


def test_served_standalone_it_prints_by_itself() -> None:
    sim = serve(every_s=0.3, duration_s=0.15)
    try:
        with following(PrusaLinkLink(sim.url, password=sim.password, poll_s=0.02)) as sink:
            wait_for(lambda: len([job for job in sink.jobs() if job[3] is not None]) >= 2)
    finally:
        sim.stop()
    assert [job.name for job, *_ in sink.jobs()[:2]] == [
        "autoplay_001.bgcode",
        "autoplay_002.bgcode",
    ]
    assert all(outcome is JobOutcome.COMPLETED for *_, outcome in sink.jobs()[:2])
