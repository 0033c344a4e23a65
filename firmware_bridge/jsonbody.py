"""JSON bodies of HTTP answers as the pure parsers read them: bounded, never raising.

A body too large, not UTF-8 or not JSON reads as None; `excerpt` keeps the start of an
unusable one for the log; `number` admits only finite JSON numbers.
"""

from __future__ import annotations

import json
import math

EXCERPT = 200


def document(body: bytes | str, max_body: int) -> object:
    """The JSON value of `body`, or None when it is over `max_body` or not JSON."""
    if len(body) > max_body:
        return None
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def excerpt(body: bytes | str) -> str:
    text = body[:EXCERPT]
    return text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text


def number(value: object) -> float | None:
    """A finite JSON number as a float; None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None
