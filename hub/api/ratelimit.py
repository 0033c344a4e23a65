"""Failed logins per username in a sliding window, to slow down password guessing.

Kept in memory: a restart forgets the count, which costs a guesser at most one more window.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_SECONDS = 60.0
# Bounds the memory a spray over many usernames can take; the oldest entries go first.
MAX_USERNAMES = 10_000


class FailedLogins:
    """Counts failures per username; `retry_after` says how long a locked name must wait."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        limit: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, username: str) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        now = self._clock()
        with self._lock:
            times = self._recent(username, now)
            if len(times) < self._limit:
                return 0
            return max(1, math.ceil(times[0] + self._window - now))

    def fail(self, username: str) -> None:
        now = self._clock()
        with self._lock:
            times = self._recent(username, now)
            times.append(now)
            self._failures[username] = times
            if len(self._failures) > MAX_USERNAMES:
                del self._failures[next(iter(self._failures))]

    def succeed(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)

    def _recent(self, username: str, now: float) -> deque[float]:
        times = self._failures.pop(username, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        if times:
            self._failures[username] = times  # re-insert: most recently used last
        return times
