"""The hardware ports the agent depends on; real and simulated adapters both satisfy them."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class BadgeReader(Protocol):
    """Reports each presentation of a badge once, as upper-case hex of its whole UID."""

    def read(self, timeout: float) -> str | None:
        """Wait up to `timeout` seconds for a badge; None if none came.

        A card left in the field is not reported again until it has left it. Raises
        `edge.errors.ReaderError` when the reader fails; the caller may call again to retry.
        """
        ...

    def close(self) -> None: ...


class PowerSwitch(Protocol):
    """The relay or contactor coil that lets the machine run. Off when constructed."""

    @property
    def is_on(self) -> bool: ...

    def on(self) -> None: ...

    def off(self) -> None: ...

    def close(self) -> None: ...


class Signal(StrEnum):
    """What the operator sees or hears at the machine."""

    READY = "ready"
    GRANTED = "granted"
    IN_SESSION = "in_session"
    DENIED = "denied"
    ENDED = "ended"
    DRAINING = "draining"
    LOCKED = "locked"


class Indicator(Protocol):
    def show(self, signal: Signal) -> None: ...

    def close(self) -> None: ...
