"""The firmware bridge's one exception family."""


class BridgeError(Exception):
    """Root of every error raised by the firmware_bridge package."""


class ConfigError(BridgeError, ValueError):
    """The bridge's configuration names an unknown protocol, a bad URL or impossible limits."""


class LinkError(BridgeError, OSError):
    """The controller's port, HTTP API or broker cannot be reached; the follower retries."""


class FrameError(BridgeError, ValueError):
    """One frame from a controller is unusable (bad CRC, bad length, not JSON): counted, skipped."""


class PortRefused(BridgeError):
    """The bridge refuses to open a port another program owns or that would reset a running job."""
