"""The agent's memory and CPU over 60 s idle with one open session, as systemd would run it.

The agent runs as its own process (`python -m edge run`) on the simulated reader and mock
pins, connected to a real broker with an acking hub. Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from contracts.models import EventType
from contracts.signing import KeyPair
from edge.hw.simreader import send_badge
from machinerie.ackhub import AckingHub, wait_until
from machinerie.control import HubControl, access_list
from machinerie.sandbox import ALICE, DEVICE, SITE, cast_entries, write_agent_toml
from machinerie.servers import Mosquitto


def measure(process: psutil.Process, seconds: float) -> tuple[float, float]:
    """Peak RSS in MB and mean CPU percent over `seconds`."""
    start_cpu = sum(process.cpu_times()[:2])
    start, peak = time.monotonic(), 0.0
    while time.monotonic() - start < seconds:
        peak = max(peak, process.memory_info().rss / 2**20)
        time.sleep(0.5)
    cpu = (sum(process.cpu_times()[:2]) - start_cpu) / (time.monotonic() - start) * 100
    return peak, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    keys = KeyPair.generate("hub-bench")
    with Mosquitto() as broker, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_agent_toml(folder, broker.port, keys)
        hub = AckingHub(broker.port).start()
        control = HubControl(broker.port, keys)
        control.publish_access_list(DEVICE, access_list(SITE, DEVICE, cast_entries(), version=1))
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config), "--log-level", "warning"]
        )
        try:
            if not wait_until((folder / "reader.sock").exists, 20):
                raise SystemExit("agent did not start")
            time.sleep(1)
            send_badge(folder / "reader.sock", ALICE.uid)
            if not wait_until(
                lambda: any(e.type is EventType.SESSION_STARTED for e in hub.events), 10
            ):
                raise SystemExit("no session started")
            time.sleep(2)  # let start-up work settle before measuring idle
            print(f"measuring {args.seconds:.0f} s idle with one open session", file=sys.stderr)
            rss, cpu = measure(psutil.Process(agent.pid), args.seconds)
        finally:
            agent.terminate()
            agent.wait(15)
            control.close()
            hub.stop()
    print(
        json.dumps(
            {
                "rss_mb": round(rss, 1),
                "cpu_percent": round(cpu, 2),
                "seconds": args.seconds,
                "target_rss_mb": 60,
                "target_cpu_percent": 1,
            }
        )
    )


if __name__ == "__main__":
    main()
