"""The broker ACL, rendered from the topic contract rather than typed out again.

The rules are built from `contracts.topics` (who writes which kind); a test holds them equal to
the shipped `deploy/mosquitto/machinerie.acl`, so the two cannot drift apart silently.
"""

from __future__ import annotations

from contracts.topics import DEFAULT_PREFIX, DEVICE_WRITES, HUB_WRITES, VERSION, Kind

HUB_USERNAME = "hub"

HEADER = """\
# machinerie.acl, written by the hub (`machinerie device ...`): edits here are overwritten.
# Who may read and write what: docs/contract.md, "Broker ACL".
"""


def acl_rules(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The rule lines, in the shipped file's order."""
    tree = f"{prefix}/{VERSION}"
    return [
        f"user {HUB_USERNAME}",
        f"topic readwrite {tree}/#",
        *_patterns("write", DEVICE_WRITES, tree),
        *_patterns("read", HUB_WRITES, tree),
    ]


def render_acl(prefix: str = DEFAULT_PREFIX) -> str:
    rules = acl_rules(prefix)
    hub, devices = rules[:2], rules[2:]
    return (
        HEADER
        + "\n# The hub (all its replicas) reads and writes the whole tree.\n"
        + "\n".join(hub)
        + "\n\n# Every device: its own branch only. %u is the username, which is the device id.\n"
        + "\n".join(devices)
        + "\n"
    )


def _patterns(access: str, kinds: frozenset[Kind], tree: str) -> list[str]:
    # `pattern` lines apply to every user wherever they stand; the site level is `+` because
    # the username (device id) is already unique on the broker.
    return [f"pattern {access} {tree}/+/%u/{kind.value}" for kind in sorted(kinds)]
