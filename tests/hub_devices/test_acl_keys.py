"""The hub's signing key: made once at 0600, loaded afterwards, refused when readable by others."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from contracts.signing import load_public_key
from hub.acl import load_or_create_signing_key, load_signing_key, trusted_key_line
from hub.acl.keys import key_path
from hub.errors import Invalid, NotFound


def test_made_once_then_loaded(tmp_path: Path) -> None:
    keys = load_or_create_signing_key(tmp_path)
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600
    again = load_or_create_signing_key(tmp_path, key_id="ignored-once-made")
    assert (again.key_id, again.public_base64()) == (keys.key_id, keys.public_base64())
    assert keys.key_id.startswith("hub-")
    load_public_key(keys.public_base64())  # 32 raw bytes, as devices expect


def test_concurrent_first_uses_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        publics = set(
            pool.map(lambda _: load_or_create_signing_key(tmp_path).public_base64(), range(8))
        )
    assert len(publics) == 1


def test_missing_open_or_broken_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_signing_key(tmp_path)
    load_or_create_signing_key(tmp_path, key_id="hub-test")
    os.chmod(key_path(tmp_path), 0o644)
    with pytest.raises(Invalid, match="chmod 600"):
        load_signing_key(tmp_path)
    os.chmod(key_path(tmp_path), 0o600)
    key_path(tmp_path).write_text('{"key_id": "hub-test"}')
    with pytest.raises(Invalid):
        load_signing_key(tmp_path)


def test_trusted_key_line_is_edge_toml(tmp_path: Path) -> None:
    keys = load_or_create_signing_key(tmp_path, key_id="hub-2026-test")
    assert trusted_key_line(keys) == f'hub-2026-test = "{keys.public_base64()}"'
