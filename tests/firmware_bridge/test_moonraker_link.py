"""Whole jobs through the Moonraker simulator and the real link over a loopback websocket."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from firmware_bridge.errors import ConfigError
from firmware_bridge.model import JobOutcome, MachineState
from firmware_bridge.moonraker.link import MoonrakerLink, websocket_url
from firmware_bridge.moonraker.parse import (
    HistoryList,
    ServerInfo,
    StatusSnapshot,
    Unknown,
    parse_frame,
)
from firmware_bridge.moonraker.sim import MoonrakerSimulator, serve
from tests.firmware_bridge.links import following, wait_for
from tests.firmware_bridge.recording import RecordingSink


def state_is(sink: RecordingSink, state: MachineState) -> Callable[[], bool]:
    return lambda: (view := sink.latest()) is not None and view.state is state


def quick_sim() -> MoonrakerSimulator:
    return MoonrakerSimulator(restart_step_s=0.1)  # Klipper's restart in 0.2 s, not 0.6 s


def subscribed(sim: MoonrakerSimulator) -> Callable[[], bool]:
    return lambda: sim.subscribed_clients() == 1


def test_a_print_with_a_pause_then_a_cancelled_one() -> None:
    with (
        quick_sim() as sim,
        following(MoonrakerLink(sim.url, report_s=0.5)) as sink,
    ):
        wait_for(subscribed(sim))
        sim.start_print("calicat.gcode", 1.0)
        wait_for(lambda: any(view.busy for _, view in sink.views))
        time.sleep(0.3)  # printing
        sim.pause()
        wait_for(state_is(sink, MachineState.PAUSED))
        time.sleep(0.3)  # paused: not billed
        sim.resume()
        wait_for(lambda: len(sim.jobs) == 1 and sim.jobs[0].end is not None)
        sim.start_print("benchy.gcode", 10.0)
        time.sleep(0.4)
        sim.cancel()
        wait_for(lambda: len(sink.jobs()) == 2 and sink.jobs()[-1][2] is not None)

    truth = sim.jobs
    seen = sink.jobs()
    assert [(job.job_id, job.name) for job, *_ in seen] == [
        ("000001", "calicat.gcode"),
        ("000002", "benchy.gcode"),
    ]
    assert [outcome for *_, outcome in seen] == [JobOutcome.COMPLETED, JobOutcome.CANCELLED]
    assert [job.outcome for job in truth] == [JobOutcome.COMPLETED, JobOutcome.CANCELLED]
    for (_, start, end, _), real in zip(seen, truth, strict=True):
        assert end is not None and real.end is not None
        assert abs(start - real.start) < 0.5
        assert abs(end - real.end) < 0.5
    assert abs(sink.busy_seconds() - sim.busy_seconds()) < 1.0
    assert abs(sink.busy_seconds() - 1.4) < 0.3  # 1.0 s printed + 0.4 s before the cancel
    paused = [view for _, view in sink.views if view.state is MachineState.PAUSED]
    assert paused and not any(view.busy for view in paused)
    assert sim.history_statuses() == ["completed", "cancelled"]
    assert sink.unknowns == []


def test_emergency_stop_restart_and_a_macro() -> None:
    with (
        quick_sim() as sim,
        following(MoonrakerLink(sim.url, report_s=0.5)) as sink,
    ):
        wait_for(subscribed(sim))
        sim.start_print("first.gcode", 10.0)
        wait_for(lambda: any(view.busy for _, view in sink.views))
        sim.emergency_stop()
        wait_for(lambda: (view := sink.latest()) is not None and view.alarm_message != "")
        alarm = sink.latest()
        assert alarm is not None
        assert (alarm.state, alarm.alarm, alarm.job, alarm.outcome) == (
            MachineState.ALARM,
            "klippy_shutdown",
            None,
            JobOutcome.ERROR,
        )
        assert alarm.alarm_message == "Shutdown due to webhooks request"

        sim.firmware_restart()
        wait_for(lambda: sim.subscribed_clients() == 0)  # Klipper's restart dropped it
        wait_for(subscribed(sim))  # and the link asked again after notify_klippy_ready
        wait_for(state_is(sink, MachineState.IDLE))

        sim.start_print("second.gcode", 0.5)
        wait_for(lambda: len(sink.jobs()) == 2 and sink.jobs()[-1][2] is not None)

        sim.run_macro(0.5)
        wait_for(state_is(sink, MachineState.RUNNING))
        macro = sink.latest()
        assert macro is not None and (macro.busy, macro.job) == (False, None)
        wait_for(state_is(sink, MachineState.IDLE))

    seen = sink.jobs()
    assert [(job.name, outcome) for job, _, _, outcome in seen] == [
        ("first.gcode", JobOutcome.ERROR),
        ("second.gcode", JobOutcome.COMPLETED),
    ]
    assert abs(sink.busy_seconds() - sim.busy_seconds()) < 1.0
    offline = [view for _, view in sink.views if view.state is MachineState.OFFLINE]
    assert offline, "Klippy's restart is reported as the controller being away"
    assert sim.history_statuses() == ["klippy_shutdown", "completed"]


def test_a_client_that_does_not_subscribe_again_hears_nothing_after_a_restart() -> None:
    """The simulator behaves as Moonraker does, which is why the link re-subscribes."""
    with (
        quick_sim() as sim,
        connect(websocket_url(sim.url), proxy=None) as ws,
    ):
        request = {"objects": {"print_stats": None}}
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "printer.objects.subscribe",
                            "params": request, "id": 1}))  # fmt: skip
        assert isinstance(parse_frame(ws.recv(2)), StatusSnapshot)
        sim.firmware_restart()
        methods: list[str] = []
        deadline = time.monotonic() + 2
        while "notify_klippy_ready" not in methods and time.monotonic() < deadline:
            methods.append(json.loads(ws.recv(2)).get("method"))
        sim.start_print("unseen.gcode", 0.2)
        wait_for(lambda: sim.jobs[-1].end is not None)
        with pytest.raises(TimeoutError):
            while True:
                frame = json.loads(ws.recv(0.3))
                assert frame.get("method") != "notify_status_update"


def test_link_loss_is_reported_and_views_come_back() -> None:
    link = MoonrakerLink("http://127.0.0.1:1", report_s=0.5)  # nothing listens there
    assert link.ws_url == "ws://127.0.0.1:1/websocket"
    with (
        quick_sim() as sim,
        following(MoonrakerLink(sim.url, report_s=0.2, backoff_s=0.1, max_backoff_s=0.2)) as sink,
    ):
        wait_for(subscribed(sim))
        wait_for(lambda: len(sink.views) > 0)
        sim.stop()
        wait_for(lambda: len(sink.offlines) >= 1)
        assert "moonraker" in sink.offlines[0][1]
        down = sink.offlines[0][0]
        time.sleep(0.3)  # a while with nothing listening: retries fail, said once more at most
        sim.start()
        wait_for(lambda: any(at > down + 0.3 for at, _ in sink.views))
        assert len(sink.offlines) <= 2
    with following(link) as refused:
        wait_for(lambda: len(refused.offlines) == 1)
        assert "unreachable" in refused.offlines[0][1]
        assert refused.views == []


def test_the_api_key_goes_in_the_header() -> None:
    with MoonrakerSimulator(api_key="s3cret") as sim:
        with following(MoonrakerLink(sim.url, api_key="wrong", report_s=0.2)) as sink:
            wait_for(lambda: len(sink.offlines) == 1)
            assert "HTTP 401" in sink.offlines[0][1]
            assert "API key" in sink.offlines[0][1]
            assert sink.views == []
        with following(MoonrakerLink(sim.url, api_key="s3cret", report_s=0.2)) as sink:
            wait_for(state_is(sink, MachineState.IDLE))


def test_the_http_endpoints_answer_as_moonraker_does() -> None:
    with quick_sim() as sim:
        sim.start_print("cube.gcode", 0.1)
        wait_for(lambda: sim.jobs[0].end is not None)

        def get(path: str) -> bytes:
            with urllib.request.urlopen(sim.url + path, timeout=5) as answer:  # noqa: S310 (our URL)
                assert answer.headers["Content-Type"] == "application/json"
                return bytes(answer.read())

        info = parse_frame(get("/server/info"))
        assert info == ServerInfo("ready", True)
        status = parse_frame(get("/printer/objects/query?print_stats&extruder=target,temperature"))
        assert isinstance(status, StatusSnapshot)
        assert status.status["print_stats"]["state"] == "complete"
        assert set(status.status["extruder"]) == {"target", "temperature"}
        history = parse_frame(get("/server/history/list?limit=1&order=desc"))
        assert isinstance(history, HistoryList)
        assert [(job.job_id, job.status) for job in history.jobs] == [("000001", "completed")]


def test_a_bad_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError):
        MoonrakerLink("printer.local:7125")


junk_frames = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    st.sampled_from(
        [
            '{"jsonrpc": "2.0", "method": "notify_status_update", "params": "x"}',
            '{"jsonrpc": "2.0", "method": "notify_status_update", "params": [{"print_stats": 1}]}',
            '{"jsonrpc": "2.0", "method": "notify_history_changed", "params": [{"job": {}}]}',
            '{"jsonrpc": "2.0", "result": {"status": []}, "id": 3}',
            '{"jsonrpc": "2.0", "result": {"jobs": [1]}, "id": 2}',
            '{"jsonrpc": "2.0", "method": "notify_proc_stat_update", "params": [{}]}',
            '{"jsonrpc": "2.0", "method": "notify_status_update", "params": [{"print_stats": '
            '{"state": "printing", "filename": "fuzz.gcode"}}, 1.0]}',
            '{"jsonrpc": "2.0", "method": "notify_klippy_shutdown"}',
            '{"jsonrpc": "2.0", "method": "notify_klippy_ready"}',
            '{"jsonrpc": "2.0", "error": {"code": 503}, "id": 3}',
            "[" * 5000,
        ]
    ),
)


def test_malformed_frames_are_counted_and_the_link_carries_on() -> None:
    with (
        quick_sim() as sim,
        following(MoonrakerLink(sim.url, report_s=0.2)) as sink,
    ):
        wait_for(subscribed(sim))
        marks = iter(range(1_000_000))

        @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(junk_frames, max_size=6))
        def inject(frames: list[str | bytes]) -> None:
            before = len(sink.unknowns)
            expected = sum(isinstance(parse_frame(frame), Unknown) for frame in frames)
            mark = f"end-of-batch-{next(marks)}"
            for frame in frames:
                sim.inject(frame)
            sim.inject(mark)  # not JSON: counted as unknown, last, on the same connection
            wait_for(lambda: mark in sink.unknowns)
            assert len(sink.unknowns) - before == expected + 1

        inject()
        assert not sink.offlines  # no frame cost the connection


def test_served_standalone_it_prints_by_itself() -> None:
    sim = serve(autoplay_every_s=0.3, job_s=0.15)
    try:
        with following(MoonrakerLink(sim.url, report_s=0.5)) as sink:
            wait_for(lambda: len([job for job in sink.jobs() if job[3] is not None]) >= 2)
    finally:
        sim.stop()
    assert [job.name for job, *_ in sink.jobs()[:2]] == ["autoplay_001.gcode", "autoplay_002.gcode"]
    assert all(outcome is JobOutcome.COMPLETED for *_, outcome in sink.jobs()[:2])
