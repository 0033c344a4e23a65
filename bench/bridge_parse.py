"""Firmware bridge: lines parsed per second on one core, and the memory of a bridge process.

Parsing: real status lines of GRBL (status reports with and without Ov/A/WCO, ok, grblHAL
fields) and Marlin (temperature autoreports, SD progress, ok with ADVANCED_OK, busy) parsed
in a loop, best of `--rounds`; then the same lines through framing, parser and state machine.

Memory: `python -m firmware_bridge follow` as its own process, following a simulated GRBL mill
on a pty served by this process, for `--seconds`; peak RSS. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from firmware_bridge.framing import LineFramer
from firmware_bridge.grbl.machine import GrblMachine
from firmware_bridge.grbl.parse import parse_line
from firmware_bridge.grbl.sim import GrblSimulator
from firmware_bridge.marlin.machine import MarlinMachine
from firmware_bridge.marlin.parse import parse
from firmware_bridge.simport import PtyServer

# Lines as controllers send them (gnea/grbl interface.md, grblHAL, Marlin and Prusa logs).
GRBL_LINES = [
    "<Idle|MPos:0.000,0.000,0.000|FS:0,0|WCO:0.000,0.000,0.000>",
    "<Run|MPos:23.036,1.620,0.000|FS:500,12000|Ov:100,100,100|A:SF>",
    "<Run|MPos:23.412,1.620,0.000|FS:500,12000>",
    "<Run|MPos:24.010,1.977,0.000|FS:500,12000|Pn:XZ>",
    "<Hold:0|MPos:24.211,2.001,0.000|FS:0,12000|Ov:100,100,100|A:S>",
    "<Run|MPos:30.000,5.000,-1.000|Bf:15,128|FS:800,9000|Ln:99999>",
    "<Run|MPos:1.000,2.000,3.000|FS:1000,8000|SD:42.5,/plateau.nc|H:1>",
    "ok",
]
MARLIN_LINES = [
    "T:210.04 /210.00 B:52.00 /52.00 @:85 B@:31",
    "ok T:23.0/220.0 T0:23.0/220.0 T1:50.2/210.0 T2:39.4/220.0 B:60.0",
    "SD printing byte 123456/987654",
    "ok N123 P15 B3",
    "ok",
    "echo:busy: processing",
    "T:240.4 /240.0 B:83.8 /85.0 T0:240.4 /240.0 @:24 B@:63 P:0.0 A:38.9",
    "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20",
]


def rate(work: Callable[[], int], rounds: int) -> float:
    """Best items per second of `rounds` runs of `work` (which returns how many it did)."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        done = work()
        best = max(best, done / (time.perf_counter() - start))
    return best


def parse_all(parser: Callable[[str], object], lines: Sequence[str], n: int) -> Callable[[], int]:
    corpus = list(lines) * (n // len(lines))

    def work() -> int:
        for line in corpus:
            parser(line)
        return len(corpus)

    return work


def pipeline_grbl(n: int) -> Callable[[], int]:
    data = ("\r\n".join(GRBL_LINES) + "\r\n").encode() * (n // len(GRBL_LINES))

    def work() -> int:
        framer, machine, count = LineFramer(), GrblMachine(laser=False), 0
        for start in range(0, len(data), 4096):
            for line in framer.feed(data[start : start + 4096]):
                machine.feed(parse_line(line), float(count))
                count += 1
        return count

    return work


def pipeline_marlin(n: int) -> Callable[[], int]:
    data = ("\n".join(MARLIN_LINES) + "\n").encode() * (n // len(MARLIN_LINES))

    def work() -> int:
        framer, machine, count = LineFramer(), MarlinMachine(), 0
        for start in range(0, len(data), 4096):
            for line in framer.feed(data[start : start + 4096]):
                for message in parse(line):
                    machine.feed(message)
                count += 1
        return count

    return work


def follower_rss(seconds: float) -> float:
    """Peak RSS in MB of a bridge process following one simulated mill on a pty."""
    simulator = GrblSimulator(laser=False)
    simulator.autoplay(2.0, 5.0)
    with PtyServer(simulator) as server, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bridge.toml"
        config.write_text(
            f'[bridge]\n[bridge.controller]\nkind = "grbl"\nport = "{server.path}"\n',
            encoding="utf-8",
        )
        command = [sys.executable, "-m", "firmware_bridge", "follow", "--config", str(config)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            watched, peak = psutil.Process(process.pid), 0.0
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and process.poll() is None:
                peak = max(peak, watched.memory_info().rss / 2**20)
                time.sleep(0.25)
            if process.poll() is not None:
                raise SystemExit(f"the bridge process died: {process.returncode}")
        finally:
            process.terminate()
            process.wait(10)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    result = {
        "grbl_lines_per_s": round(rate(parse_all(parse_line, GRBL_LINES, args.lines), args.rounds)),
        "marlin_lines_per_s": round(rate(parse_all(parse, MARLIN_LINES, args.lines), args.rounds)),
        "grbl_pipeline_lines_per_s": round(rate(pipeline_grbl(args.lines), args.rounds)),
        "marlin_pipeline_lines_per_s": round(rate(pipeline_marlin(args.lines), args.rounds)),
        "rss_mb": round(follower_rss(args.seconds), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
