"""Following a link on its own thread in a test, and waiting for what it reports.

Any `Source` fits (the HTTP printers', Moonraker's...); the server-restart scenario is the
one every HTTP printer link must pass, whatever its protocol.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from firmware_bridge.model import MachineState, Source
from tests.firmware_bridge.recording import RecordingSink


class Server(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll `condition` until true; fail, naming `what` if given, after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}" if what else "condition not met before the deadline"
            )
        time.sleep(0.01)


@contextmanager
def following(link: Source) -> Iterator[RecordingSink]:
    sink = RecordingSink()
    stop = threading.Event()
    thread = threading.Thread(target=link.run, args=(sink, stop), daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        stop.set()
        thread.join(5)
        assert not thread.is_alive(), "the link did not return after stop"


def state_is(sink: RecordingSink, state: MachineState) -> Callable[[], bool]:
    return lambda: (view := sink.latest()) is not None and view.state is state


def stop_then_restart(server: Server, sink: RecordingSink) -> None:
    """The server goes away: said offline once however often the link retries; back once
    the server is, with views again."""
    wait_for(state_is(sink, MachineState.IDLE))
    server.stop()
    wait_for(lambda: len(sink.offlines) == 1)
    assert "unreachable" in sink.offlines[0][1]
    down = sink.offlines[0][0]
    time.sleep(0.3)  # retries fail meanwhile, without repeating the same reason
    assert len(sink.offlines) == 1
    server.start()
    wait_for(lambda: any(at > down + 0.3 for at, _ in sink.views))
