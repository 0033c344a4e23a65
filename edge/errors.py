"""The edge agent's one exception family."""


class EdgeError(Exception):
    """Root of every error raised by the edge package."""


class ConfigError(EdgeError, ValueError):
    """The agent's TOML configuration is missing, unreadable or invalid."""


class ReaderError(EdgeError, OSError):
    """A badge reader failed (unplugged, not answering, corrupt frame); the agent retries."""


class OutboxError(EdgeError):
    """The outbox cannot store or read an event."""


class OutboxFull(OutboxError):
    """A non-billable event refused because the outbox reached its bound."""


class IllegalTransition(EdgeError, RuntimeError):
    """The session state machine got an event its transition table does not allow."""
