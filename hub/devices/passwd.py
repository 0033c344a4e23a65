"""Mosquitto 2.0 password hashes, written without the `mosquitto_passwd` binary.

A line is `username:$7$<iterations>$<base64 salt>$<base64 hash>`: PBKDF2-HMAC-SHA512 over a
12-byte salt, 101 iterations by default, exactly what `mosquitto_passwd -b` writes in 2.0.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from hub.errors import Invalid

HASH_ID = "7"  # Mosquitto's id for PBKDF2-HMAC-SHA512 (6 is the older salted SHA-512)
ITERATIONS = 101  # mosquitto_passwd's default in 2.0; our passwords are random, not guessable
SALT_BYTES = 12
PASSWORD_BYTES = 24  # 192 random bits, 32 URL-safe characters: easy to paste, no quoting


def new_password() -> str:
    """A fresh random broker password, shown once to the installer."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The `$7$...` field Mosquitto expects after `username:`."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"${HASH_ID}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True if `password` matches a `$7$` hash (ours or mosquitto_passwd's)."""
    iterations, salt, expected = _parse_hash(encoded)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return hmac.compare_digest(digest, expected)


def password_line(username: str, encoded: str) -> str:
    if ":" in username or "\n" in username:
        raise Invalid(f"{username!r} cannot be a Mosquitto username")
    _parse_hash(encoded)
    return f"{username}:{encoded}"


def parse_line(line: str) -> tuple[str, str]:
    """Split a password-file line into username and hash."""
    username, sep, encoded = line.strip().partition(":")
    if not sep or not username:
        raise Invalid(f"not a password-file line: {line!r}")
    _parse_hash(encoded)
    return username, encoded


def _parse_hash(encoded: str) -> tuple[int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != HASH_ID or not parts[2].isdigit():
        raise Invalid(f"not a Mosquitto $7$ (PBKDF2-SHA512) hash: {encoded[:12]!r}...")
    try:
        salt = base64.b64decode(parts[3], validate=True)
        digest = base64.b64decode(parts[4], validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("a Mosquitto hash holds invalid base64") from None
    return int(parts[2]), salt, digest


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
