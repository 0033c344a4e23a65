"""Ed25519 signing of access lists: the hub signs, devices verify with raw 32-byte public keys."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from contracts.codec import decode_access_list, decode_envelope, encode
from contracts.errors import BadSignature, InvalidPayload
from contracts.models import AccessList, SignedEnvelope


@dataclass(frozen=True)
class KeyPair:
    key_id: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, key_id: str) -> KeyPair:
        return cls(key_id, Ed25519PrivateKey.generate())

    @classmethod
    def from_base64(cls, key_id: str, private_b64: str) -> KeyPair:
        raw = _b64decode(private_b64, "private key")
        if len(raw) != 32:
            raise InvalidPayload("an Ed25519 private key is 32 bytes")
        return cls(key_id, Ed25519PrivateKey.from_private_bytes(raw))

    def private_base64(self) -> str:
        return base64.b64encode(self.private.private_bytes_raw()).decode()

    def public_base64(self) -> str:
        return base64.b64encode(self.private.public_key().public_bytes_raw()).decode()


def load_public_key(public_b64: str) -> Ed25519PublicKey:
    raw = _b64decode(public_b64, "public key")
    if len(raw) != 32:
        raise InvalidPayload("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(payload: bytes, keys: KeyPair) -> SignedEnvelope:
    signature = keys.private.sign(payload)
    try:
        return SignedEnvelope(
            key_id=keys.key_id,
            payload=base64.b64encode(payload).decode(),
            signature=base64.b64encode(signature).decode(),
        )
    except ValidationError as exc:
        # A list the model accepts can still be too big to ship, or the key id unusable:
        # say so in the contract's own terms rather than leak a pydantic error.
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"]))
        raise InvalidPayload(f"cannot sign {len(payload)} bytes: {where}: {first['msg']}") from None


def sign_access_list(access_list: AccessList, keys: KeyPair) -> bytes:
    """The retained message the hub publishes for one machine."""
    return encode(sign(encode(access_list), keys))


def verify(envelope: SignedEnvelope, trusted: Mapping[str, Ed25519PublicKey]) -> bytes:
    """Return the signed payload bytes, or raise BadSignature."""
    key = trusted.get(envelope.key_id)
    if key is None:
        raise BadSignature(f"signed with unknown key {envelope.key_id!r}")
    payload = _b64decode(envelope.payload, "payload")
    signature = _b64decode(envelope.signature, "signature")
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        raise BadSignature(f"signature does not verify with key {envelope.key_id!r}") from None
    return payload


def open_access_list(data: bytes, trusted: Mapping[str, Ed25519PublicKey]) -> AccessList:
    """Decode, verify and validate a retained access-list message."""
    return decode_access_list(verify(decode_envelope(data), trusted))


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPayload(f"{what} is not valid base64") from None
