"""The hub's Ed25519 key for signing access lists: made once, kept 0600 in the data folder.

Devices trust its public half (`access.trusted_keys` in the edge configuration); losing the
private half means reinstalling that setting on every device, so it is never regenerated silently.
"""

from __future__ import annotations

import json
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path

from contracts.errors import InvalidPayload
from contracts.signing import KeyPair
from hub.devices.files import create_exclusively
from hub.errors import Invalid, NotFound

KEY_FILE = "acl-signing-key.json"


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create_signing_key(data_dir: Path, *, key_id: str | None = None) -> KeyPair:
    """The hub's key pair, generated on first use; concurrent first uses agree on one key."""
    path = key_path(data_dir)
    if not path.exists():
        fresh = KeyPair.generate(key_id or _new_key_id())
        body = {"key_id": fresh.key_id, "private": fresh.private_base64()}
        create_exclusively(path, json.dumps(body).encode() + b"\n", mode=0o600)
    return load_signing_key(data_dir)


def load_signing_key(data_dir: Path) -> KeyPair:
    path = key_path(data_dir)
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no hub signing key at {path}") from None
    # Anyone who can read this key can sign an access list that opens every machine.
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise Invalid(f"{path} is readable by others (mode {mode & 0o777:o}): chmod 600 it")
    try:
        body = json.loads(raw)
        return KeyPair.from_base64(str(body["key_id"]), str(body["private"]))
    except (ValueError, KeyError, TypeError, InvalidPayload) as exc:
        raise Invalid(f"{path} is not a hub signing key: {exc}") from None


def trusted_key_line(keys: KeyPair) -> str:
    """The line to add under `[access.trusted_keys]` in each edge's configuration."""
    return f'{keys.key_id} = "{keys.public_base64()}"'


def _new_key_id() -> str:
    # The year tells an operator which key is older during a rotation; the suffix keeps two
    # sites' keys apart when a device is moved between them.
    return f"hub-{datetime.now(UTC).year}-{secrets.token_hex(4)}"
