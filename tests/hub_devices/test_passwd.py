"""Our password hashes against the installed `mosquitto_passwd` (Mosquitto 2.0)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.devices.passwd import (
    ITERATIONS,
    hash_password,
    new_password,
    parse_line,
    password_line,
    verify_password,
)
from hub.errors import Invalid


@pytest.fixture
def mosquitto_passwd() -> str:
    # Debian's mosquitto package ships it; ./run installs that package.
    found = shutil.which("mosquitto_passwd")
    assert found is not None, "mosquitto_passwd is missing: install the Debian package mosquitto"
    return found


def test_reproduces_mosquitto_passwd_exactly(tmp_path: Path, mosquitto_passwd: str) -> None:
    path = tmp_path / "passwd"
    path.touch()
    subprocess.run([mosquitto_passwd, "-b", str(path), "laser-1", "s3cret-é"], check=True)
    username, encoded = parse_line(path.read_text())
    _, hash_id, iterations, salt, _ = encoded.split("$")
    assert (username, hash_id, int(iterations)) == ("laser-1", "7", ITERATIONS)
    assert len(base64.b64decode(salt)) == 12
    again = hash_password("s3cret-é", salt=base64.b64decode(salt), iterations=int(iterations))
    assert again == encoded
    assert verify_password("s3cret-é", encoded)
    assert not verify_password("s3cret-e", encoded)


def test_our_hash_has_mosquittos_shape() -> None:
    password = new_password()
    encoded = hash_password(password)
    assert encoded.startswith(f"$7${ITERATIONS}$")
    assert verify_password(password, encoded)
    assert hash_password(password) != encoded, "a fresh salt every time"
    assert parse_line(password_line("laser-1", encoded)) == ("laser-1", encoded)


def test_passwords_are_long_and_paste_safe() -> None:
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= 32 and p.replace("-", "").replace("_", "").isalnum() for p in passwords)


@pytest.mark.parametrize("encoded", ["plain", "$6$abc$def", "$7$101$!!$AAAA", "$7$x$AAAA$AAAA"])
def test_rejects_other_hash_formats(encoded: str) -> None:
    with pytest.raises(Invalid):
        verify_password("x", encoded)


def test_rejects_usernames_that_break_the_file() -> None:
    with pytest.raises(Invalid):
        password_line("a:b", hash_password("x"))
