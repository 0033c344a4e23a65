"""Access lists from the hub to the machines: the hub's signing key and the publisher.

Each machine's list goes to its edge device retained, QoS 1, signed with the hub's Ed25519
key; see docs/contract.md, "Access lists" and "The signed envelope".
"""

from hub.acl.keys import load_or_create_signing_key, load_signing_key, trusted_key_line
from hub.acl.publisher import AccessListPublisher, build_access_list

__all__ = [
    "AccessListPublisher",
    "build_access_list",
    "load_or_create_signing_key",
    "load_signing_key",
    "trusted_key_line",
]
