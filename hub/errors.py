"""The hub's one exception family, translated to HTTP at a single boundary.

Each error also inherits the matching builtin, so callers that only know Python's own
`LookupError` or `ValueError` still catch them.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class NotFound(HubError, LookupError):
    """The thing asked for does not exist."""


class Conflict(HubError):
    """The change clashes with what is stored (a duplicate, a state that forbids it)."""


class StoreUnavailable(HubError):
    """The database cannot be reached or refused a write; the caller keeps its data and retries."""


class Invalid(HubError, ValueError):
    """The input is malformed: a bad VAT number, a naive datetime, an unknown time zone."""
