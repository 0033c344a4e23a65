"""Bytes from a serial port into text lines, whatever the controller sends.

Controllers end lines with `\\n` or `\\r\\n` (GRBL), send garbage bytes at reset (`\\x80`) and
may never end a line at all; a framer keeps at most `max_line` bytes of an unfinished line
and counts what it had to cut, so a noisy port costs bounded memory.
"""

from __future__ import annotations

MAX_LINE = 1024


class LineFramer:
    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max = max_line
        self._partial = bytearray()
        self._skipping = False  # inside an overlong line: drop until its end
        self.overlong = 0

    def feed(self, data: bytes) -> list[str]:
        """The complete lines in `data` and what came before it, without their ends."""
        lines: list[str] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(data[start:])
                return lines
            self._keep(data[start:end])
            if not self._skipping:
                lines.append(decode(bytes(self._partial)))
            self._partial.clear()
            self._skipping = False
            start = end + 1

    def _keep(self, chunk: bytes) -> None:
        if self._skipping:
            return
        if len(self._partial) + len(chunk) > self._max:
            self.overlong += 1
            self._partial.clear()
            self._skipping = True
            return
        self._partial += chunk


def decode(raw: bytes) -> str:
    """One line as text: undecodable bytes become U+FFFD, the trailing `\\r` goes."""
    return raw.decode("utf-8", errors="replace").rstrip("\r")
