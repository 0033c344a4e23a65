"""The contract's one exception family."""


class ContractError(Exception):
    """Root of every error raised by the contracts package."""


class InvalidTopic(ContractError, ValueError):
    """A topic that does not follow `<prefix>/v1/<site>/<device>/<kind>`."""


class InvalidPayload(ContractError, ValueError):
    """A payload that is not JSON, too large, or does not match its schema."""


class BadSignature(ContractError):
    """A signed envelope whose signature does not verify against any trusted key."""
