"""Counters the hub exposes at /metrics in Prometheus's text format."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable


class Metrics:
    """Thread-safe named counters, each with optional labels."""

    def __init__(self, prefix: str = "machinerie") -> None:
        self._prefix = prefix
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self._help: dict[str, str] = {}
        # Read when rendered: a level (buffered lines, backlog), not a count of happenings.
        self._gauges: dict[str, Callable[[], float]] = {}

    def describe(self, name: str, help_text: str) -> None:
        self._help[name] = help_text

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counts[key] += amount

    def gauge(self, name: str, read: Callable[[], float], help_text: str) -> None:
        """A value read at each scrape, such as the telemetry writer's buffered lines."""
        with self._lock:
            self._gauges[name] = read
            self._help[name] = help_text

    def value(self, name: str, **labels: str) -> int:
        with self._lock:
            return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self) -> str:
        """The Prometheus text exposition (version 0.0.4)."""
        with self._lock:
            items = sorted(self._counts.items())
            gauges = dict(self._gauges)
        lines: list[str] = []
        for name, read in sorted(gauges.items()):
            full = f"{self._prefix}_{name}"
            lines += [f"# HELP {full} {self._help[name]}", f"# TYPE {full} gauge"]
            lines.append(f"{full} {read()}")
        for name in sorted({n for (n, _), _ in items} | set(self._help) - set(gauges)):
            full = f"{self._prefix}_{name}"
            lines += [f"# HELP {full} {self._help.get(name, name)}", f"# TYPE {full} counter"]
            lines += [
                f"{full}{_labels(labels)} {count}" for (n, labels), count in items if n == name
            ]
        return "\n".join(lines) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    escaped = (
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels
    )
    return "{" + ",".join(escaped) + "}"
