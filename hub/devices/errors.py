"""The one error of device accounts and access lists that the hub family lacks.

Everything else raises `hub.errors` (NotFound, Conflict, Invalid); a broker that refuses the hub
or does not confirm a publication is neither, so it gets its own subclass of HubError.
"""

from __future__ import annotations

from hub.errors import HubError


class BrokerError(HubError):
    """The broker refused the hub's login or did not confirm a publication in time."""
