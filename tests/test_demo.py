"""The README's first command: the demo runs its whole scenario and the hub got every event."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from machinerie.demo import run_demo
from machinerie.servers import Mosquitto


def test_demo_scenario_runs_to_the_end(tmp_path: Path, mosquitto: Mosquitto) -> None:
    console = Console(record=True, width=120)
    assert run_demo(console, mosquitto.port, tmp_path, speed=10, interactive=False, duration=0)
    text = console.export_text()
    for expected in (
        "session_started    Alice Lambert",
        "reason=unknown_badge",
        "end_reason=takeover",
        "reason=expired",
        "reason=not_qualified",
        "reason=outside_hours",
        "reason=locked_for_maintenance",
        "end_reason=forced_stop",
        "end_reason=idle_timeout",
        "left in the agent's outbox: 0",
    ):
        assert expected in text, f"{expected!r} missing from the demo's output"
