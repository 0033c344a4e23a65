"""The Marlin link's flow control, and the link on a real pty: loss, reconnection, noise."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.marlin.link import CommandFlow, MarlinLink
from firmware_bridge.marlin.parse import frame
from firmware_bridge.marlin.sim import MarlinSimulator
from firmware_bridge.simport import PtyServer
from tests.firmware_bridge.test_marlin_jobs import FAST, following, printer, until

# -- flow control, no port ------------------------------------------------------------------


def test_hello_twice_then_one_command_per_ok() -> None:
    flow = CommandFlow()
    assert flow.hello(0.0) == [b"N0 M110 N0*125\n"] * 2
    flow.queue("M115")
    flow.queue("M105")
    flow.queue("M105")  # already waiting: not twice
    assert flow.ready(0.0) == []  # the hello's ok first
    flow.on_ok(0.1)
    assert flow.ready(0.1) == [b"N1 M115*39\n"]
    assert flow.ready(0.1) == []
    flow.on_ok(0.2)
    assert flow.ready(0.2) == [frame(2, "M105")]
    flow.on_ok(0.3)
    assert flow.ready(0.3) == []


def test_a_refused_line_is_sent_again_after_its_ok() -> None:
    flow = CommandFlow()
    flow.hello(0.0)
    flow.on_ok(0.0)
    flow.queue("M105")
    first = flow.ready(0.0)
    # Marlin: `Error:checksum mismatch, Last Line: 0`, `Resend: 1`, `ok`.
    assert flow.on_resend(1, 0.1)
    assert flow.ready(0.1) == []  # the window is still taken by the refused line
    flow.on_ok(0.1)
    assert flow.ready(0.1) == first


def test_a_resend_goes_back_to_the_requested_line() -> None:
    flow = CommandFlow(window=3)
    flow.hello(0.0)
    flow.on_ok(0.0)
    for command in ("M105", "M27", "M31"):
        flow.queue(command)
    assert len(flow.ready(0.0)) == 3
    assert flow.on_resend(2, 0.1)  # lines 2 and 3 must follow again, in order
    assert flow.on_resend(2, 0.1)  # line 3's copy of the same request: served already
    flow.on_ok(0.1)
    flow.on_ok(0.1)
    flow.on_ok(0.1)
    assert flow.ready(0.1) == [frame(2, "M27"), frame(3, "M31")]


def test_a_resend_loop_is_given_up() -> None:
    flow = CommandFlow(max_resends=3)
    flow.hello(0.0)
    flow.on_ok(0.0)
    flow.queue("M117 endless")
    flow.ready(0.0)
    for _ in range(3):
        assert flow.on_resend(1, 0.1)
        flow.on_ok(0.1)
        flow.ready(0.1)
    assert not flow.on_resend(1, 0.2)  # OctoPrint/OctoPrint#1468: stop, renumber instead


def test_a_line_never_sent_cannot_be_resent() -> None:
    flow = CommandFlow()
    flow.hello(0.0)
    assert not flow.on_resend(99, 0.0)


def test_ok_timeout_and_busy_keepalive() -> None:
    flow = CommandFlow(ok_timeout_s=2.0)
    flow.hello(0.0)
    flow.on_ok(0.0)
    flow.queue("M109 S200")
    flow.ready(0.0)
    assert not flow.timed_out(1.9)
    flow.on_busy(1.9)  # `echo:busy: processing` while heating
    assert not flow.timed_out(3.8)
    assert flow.timed_out(4.0)
    flow.on_timeout(4.0)
    assert flow.inflight == 0 and flow.timeouts_in_row == 1
    flow.queue("M105")
    assert flow.ready(4.0) == [frame(2, "M105")]
    flow.on_ok(4.1)
    assert flow.timeouts_in_row == 0


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("ok")),
            st.tuples(st.just("busy")),
            st.tuples(st.just("resend"), st.integers(min_value=-2, max_value=40)),
            st.tuples(st.just("queue"), st.sampled_from(["M105", "M27", "M115"])),
            st.tuples(st.just("tick"), st.floats(min_value=0, max_value=10)),
            st.tuples(st.just("hello")),
        ),
        max_size=80,
    )
)
def test_any_order_of_replies_keeps_the_flow_sane(events: list[tuple[object, ...]]) -> None:
    # Out-of-order, duplicated and missing oks and resend requests never break the window.
    flow = CommandFlow(window=2, ok_timeout_s=1.0)
    now = 0.0
    for event in events:
        kind = event[0]
        if kind == "ok":
            flow.on_ok(now)
        elif kind == "busy":
            flow.on_busy(now)
        elif kind == "resend":
            n = event[1]
            assert isinstance(n, int)
            if not flow.on_resend(n, now):
                flow.hello(now)
        elif kind == "queue":
            flow.queue(str(event[1]))
        elif kind == "tick":
            assert isinstance(event[1], float)
            now += event[1]
            if flow.timed_out(now):
                flow.on_timeout(now)
        else:
            flow.hello(now)
        for line in flow.ready(now):
            assert line.startswith(b"N") and b"*" in line and line.endswith(b"\n")
        assert 0 <= flow.inflight <= 2


# -- the link on a pty ----------------------------------------------------------------------


def test_losing_the_port_is_reported_once_and_stop_is_prompt() -> None:
    sim = MarlinSimulator()
    with printer(sim) as (server, link, sink):
        server.stop()  # the USB cable is pulled
        until(lambda: bool(sink.offlines), timeout=3.0, what="offline")
        time.sleep(0.6)  # retries keep failing: still one report
        assert len(sink.offlines) == 1
        assert server.path in sink.offlines[0][1]
        assert link.stats.connections == 1


def test_an_absent_port_is_offline_with_bounded_retries(tmp_path: Path) -> None:
    missing = str(tmp_path / "ttyACM9")
    with (
        PtyServer(MarlinSimulator()) as server,
        following(server, path=missing, backoff_s=(0.05, 0.1)) as (link, sink),
    ):
        until(lambda: bool(sink.offlines), timeout=2.0, what="offline")
        time.sleep(0.5)
        assert len(sink.offlines) == 1 and missing in sink.offlines[0][1]
        assert link.stats.connections == 0
        assert sink.views == []


def test_the_link_reconnects_when_the_port_comes_back(tmp_path: Path) -> None:
    # A udev symlink (`/dev/printer`) that points at a new tty after the board re-enumerates.
    alias = tmp_path / "printer"
    first_sim, second_sim = MarlinSimulator(), MarlinSimulator()
    first = PtyServer(first_sim).start()
    second: PtyServer | None = None
    try:
        alias.symlink_to(first.path)
        with following(first, path=str(alias), backoff_s=(0.05, 0.2)) as (link, sink):
            until(lambda: sink.latest() is not None, what="first view")
            first.stop()
            until(lambda: bool(sink.offlines), what="offline")
            second = PtyServer(second_sim).start()
            alias.unlink()
            alias.symlink_to(second.path)
            views_before = len(sink.views)
            until(lambda: len(sink.views) > views_before + 1, what="views again")
            until(lambda: link.stats.connections == 2, what="second connection")
            with second.lock:
                job = second_sim.start_sd_print("after.gcode", 0.5)
            until(lambda: len(sink.jobs()) == 1 and sink.jobs()[0][2] is not None)
            assert sink.jobs()[0][0].name == job.name
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_resend_loop_makes_the_link_renumber() -> None:
    # Every numbered line refused (a cable that garbles everything): the link gives up on
    # the line after a few requests and says hello again, instead of looping forever.
    sim = MarlinSimulator(resend_ratio=1.0)
    with PtyServer(sim) as server, following(server, max_resends=2) as (link, _sink):
        until(lambda: link.stats.resend_loops >= 2, timeout=3.0, what="resend loops")
        assert link.stats.hellos >= 3


marker = itertools.count()

REPLIES = [
    b"ok\n",
    b"ok N999 P0 B0\n",
    b"Resend: 999\n",
    b"rs N0\n",
    b"Resend: 1\n",
    b"wait\n",
    b"echo:busy: processing\n",
    b"start\n",
    b"Error:checksum mismatch, Last Line: 3\n",
    b"Error:Printer halted. kill() called!\n",
    b"SD printing byte 5/100\n",
    b"Done printing file\n",
    b"T:21.0 /0.0 B:21.0 /0.0 @:0 B@:0ok N7 P1 B3\n",
    b"N3 M105*21\n",  # a host line echoed back by a confused adapter
]
blob = st.one_of(
    st.binary(max_size=120),
    st.sampled_from(REPLIES),
    st.sampled_from(REPLIES).map(lambda line: line[: len(line) // 2]),  # truncated
    st.binary(min_size=1100, max_size=1300).map(lambda b: b.replace(b"\n", b"x")),  # overlong
)


def test_the_link_survives_noise_and_counts_what_it_cannot_read() -> None:
    sim = MarlinSimulator(seed=5)
    with printer(sim, ok_timeout_s=0.5) as (server, link, sink):

        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(st.lists(blob, max_size=6))
        def noise(blobs: list[bytes]) -> None:
            name = f"noise-marker-{next(marker)}"
            with server.lock:
                for raw in blobs:
                    sim.inject(raw)
                sim.inject(f"\n{name}\n".encode())
            until(lambda: name in sink.unknowns, timeout=3.0, what=name)

        noise()
        assert link.stats.unknown == len(sink.unknowns)
        assert not sink.offlines
        # The link still follows the printer after all that.
        with server.lock:
            # Long enough that a view reports it even when the machine is busy: a job that starts
            # and ends between two views is seen only by its end.
            job = sim.start_sd_print("after-noise.gcode", 2.0)
        until(lambda: any(v.job is not None and v.job.name == job.name for _, v in sink.views))


def test_the_link_name_and_defaults() -> None:
    link = MarlinLink("/dev/ttyACM0")
    assert link.name == "marlin"
    assert (link.baudrate, link.poll_s, link.autoreport_s) == (115200, 2.0, 2)
    assert link.silence_s >= 1.5 * max(link.poll_s, link.autoreport_s)
    assert os.path.basename(link.url) == "ttyACM0"
    assert FAST["poll_s"] < link.poll_s
