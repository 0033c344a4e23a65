"""Signed access lists: only the hub's key opens them, and every forgery fails the same way.

Malformed envelopes raise InvalidPayload; well-formed envelopes that do not verify raise
BadSignature. Both are ContractErrors, so a device can treat them alike and keep its old list.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from contracts.cli import app
from contracts.codec import decode_envelope, encode
from contracts.errors import BadSignature, ContractError, InvalidPayload
from contracts.models import AccessList
from contracts.schema import EXAMPLE_KEY, example_access_list, example_signed
from contracts.signing import (
    KeyPair,
    load_public_key,
    open_access_list,
    sign,
    sign_access_list,
    verify,
)

HUB = KeyPair.generate("hub-2026")
TRUSTED = {HUB.key_id: load_public_key(HUB.public_base64())}


def signed(acl: AccessList | None = None) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(sign_access_list(acl or example_access_list(), HUB))
    return message


def open_(message: dict[str, Any], trusted: dict[str, Ed25519PublicKey] = TRUSTED) -> AccessList:
    return open_access_list(json.dumps(message).encode(), trusted)


def test_a_signed_access_list_opens_with_the_right_key() -> None:
    acl = example_access_list()
    assert open_access_list(sign_access_list(acl, HUB), TRUSTED) == acl


def test_the_signature_covers_the_exact_payload_bytes() -> None:
    # A device verifies the bytes it decoded from base64, then parses them: no canonical JSON.
    message = signed()
    payload = base64.b64decode(message["payload"])
    assert payload == encode(example_access_list())
    signature = base64.b64decode(message["signature"])
    assert len(signature) == 64
    TRUSTED[HUB.key_id].verify(signature, payload)


def test_one_of_several_trusted_keys_is_picked_by_key_id() -> None:
    # Key rotation: devices trust the old and the new key while the hub switches.
    new = KeyPair.generate("hub-2027")
    trusted = {**TRUSTED, new.key_id: load_public_key(new.public_base64())}
    acl = example_access_list()
    assert open_access_list(sign_access_list(acl, new), trusted) == acl
    assert open_access_list(sign_access_list(acl, HUB), trusted) == acl


def test_a_tampered_payload_fails() -> None:
    message = signed()
    forged = json.loads(base64.b64decode(message["payload"]))
    forged["entries"][0]["role"] = "maintainer"
    message["payload"] = base64.b64encode(json.dumps(forged).encode()).decode()
    with pytest.raises(BadSignature, match="does not verify"):
        open_(message)


def test_a_single_flipped_bit_in_the_payload_fails() -> None:
    message = signed()
    payload = bytearray(base64.b64decode(message["payload"]))
    payload[len(payload) // 2] ^= 0x01
    message["payload"] = base64.b64encode(bytes(payload)).decode()
    with pytest.raises(BadSignature):
        open_(message)


def test_a_signature_from_another_key_with_the_right_id_fails() -> None:
    impostor = KeyPair.generate(HUB.key_id)
    with pytest.raises(BadSignature, match="does not verify"):
        open_access_list(sign_access_list(example_access_list(), impostor), TRUSTED)


def test_an_unknown_key_id_fails() -> None:
    message = signed() | {"key_id": "hub-1999"}
    with pytest.raises(BadSignature, match="unknown key 'hub-1999'"):
        open_(message)


def test_a_changed_signature_of_the_right_length_fails() -> None:
    message = signed()
    signature = bytearray(base64.b64decode(message["signature"]))
    signature[0] ^= 0x80
    message["signature"] = base64.b64encode(bytes(signature)).decode()
    with pytest.raises(BadSignature):
        open_(message)


@pytest.mark.parametrize("keep", [0, 1, 32, 63])
def test_a_truncated_signature_fails(keep: int) -> None:
    # Truncated, the signature is no longer the 88-character base64 of 64 bytes: the envelope
    # itself is malformed, before any key is tried.
    message = signed()
    short = base64.b64decode(message["signature"])[:keep]
    message["signature"] = base64.b64encode(short).decode()
    with pytest.raises(InvalidPayload, match="signature"):
        open_(message)


def test_a_truncated_signature_that_slips_past_the_envelope_still_fails() -> None:
    # `verify` on its own (e.g. for an envelope built in Python) still refuses a short signature.
    envelope = sign(b"payload", HUB)
    short = envelope.model_copy(update={"signature": base64.b64encode(b"\0" * 63).decode()})
    with pytest.raises(BadSignature):
        verify(short, TRUSTED)


@pytest.mark.parametrize("field", ["payload", "signature"])
@pytest.mark.parametrize("garbage", ["not base64!", "QUJDRA", "QUJD RA==", "QUJ", "ÄÖÜ="])
def test_bad_base64_is_an_invalid_payload(field: str, garbage: str) -> None:
    message = signed() | {field: garbage}
    with pytest.raises(InvalidPayload):
        open_(message)


def test_a_valid_signature_over_an_invalid_access_list_is_an_invalid_payload() -> None:
    # The hub's key signs whatever it is given; the device still validates what it opens.
    envelope = sign(b'{"schema": "machinerie.acl/1"}', HUB)
    with pytest.raises(InvalidPayload, match="invalid AccessList"):
        open_access_list(encode(envelope), TRUSTED)


def test_an_envelope_with_extra_fields_is_rejected() -> None:
    with pytest.raises(InvalidPayload, match="Extra inputs"):
        open_(signed() | {"alg": "none"})


def test_the_documented_example_verifies_with_the_documented_key() -> None:
    # docs/contract.md gives this key pair as a test vector for device authors.
    trusted = {EXAMPLE_KEY.key_id: load_public_key(EXAMPLE_KEY.public_base64())}
    assert open_access_list(encode(example_signed()), trusted) == example_access_list()
    assert EXAMPLE_KEY.public_base64() == "hgCcQA5BWsSqTaRMlhzrVUWyjxqPcC/ZmUSblzuCRq0="


def test_key_pairs_survive_base64() -> None:
    again = KeyPair.from_base64(HUB.key_id, HUB.private_base64())
    assert again.public_base64() == HUB.public_base64()
    assert len(base64.b64decode(HUB.public_base64())) == 32


@pytest.mark.parametrize("value", ["", "QUJD", "!!!", base64.b64encode(b"x" * 33).decode()])
def test_bad_keys_are_invalid_payloads(value: str) -> None:
    with pytest.raises(InvalidPayload):
        load_public_key(value)
    with pytest.raises(InvalidPayload):
        KeyPair.from_base64("k", value)


@given(st.binary(max_size=2048))
@settings(max_examples=200)
def test_random_messages_never_open(data: bytes) -> None:
    with pytest.raises(ContractError):
        open_access_list(data, TRUSTED)


@given(st.binary(max_size=512))
def test_only_the_signed_bytes_verify(payload: bytes) -> None:
    envelope = sign(payload, HUB)
    assert verify(decode_envelope(encode(envelope)), TRUSTED) == payload
    other = envelope.model_copy(update={"payload": base64.b64encode(payload + b"\0").decode()})
    with pytest.raises(BadSignature):
        verify(other, TRUSTED)


# ---------------------------------------------------------------- the keygen command


def test_keygen_prints_a_usable_key_pair() -> None:
    result = CliRunner().invoke(app, ["keygen", "--key-id", "hub-2026"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["key_id"] == "hub-2026"
    keys = KeyPair.from_base64(lines["key_id"], lines["private"])
    assert keys.public_base64() == lines["public"]
    trusted = {"hub-2026": load_public_key(lines["public"])}
    assert open_access_list(sign_access_list(example_access_list(), keys), trusted).version == 17


def test_keygen_makes_a_new_key_every_time() -> None:
    runs = [CliRunner().invoke(app, ["keygen", "--key-id", "k"]).stdout for _ in range(2)]
    assert runs[0] != runs[1]


@pytest.mark.parametrize("key_id", ["", "with space", "x" * 65, "ünï"])
def test_keygen_refuses_key_ids_the_envelope_would_reject(key_id: str) -> None:
    result = CliRunner().invoke(app, ["keygen", "--key-id", key_id])
    assert result.exit_code == 2
    assert "--key-id" in result.output


def test_a_list_too_big_to_ship_is_refused_when_signing() -> None:
    # The hub learns at signing time, not from devices silently refusing the message.
    with pytest.raises(InvalidPayload, match="cannot sign 3000001 bytes: payload"):
        sign(b"x" * 3_000_001, HUB)
    with pytest.raises(InvalidPayload, match="key_id"):
        sign(b"{}", KeyPair.generate("bad key id"))
