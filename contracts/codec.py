"""Bytes on the wire to models and back; every decode failure is an InvalidPayload."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from contracts.errors import InvalidPayload
from contracts.models import AccessList, Ack, Command, Event, SignedEnvelope, Status, Telemetry

M = TypeVar("M", bound=BaseModel)

MAX_PAYLOAD = 64 * 1024
# A site with a few thousand badges still fits; above that the broker limit matters more.
MAX_SIGNED_PAYLOAD = 4 * 1024 * 1024


def encode(model: BaseModel) -> bytes:
    """Serialise a payload model to its wire form (UTF-8 JSON, schema field included)."""
    return model.model_dump_json(by_alias=True).encode()


def decode(model: type[M], data: bytes, limit: int = MAX_PAYLOAD) -> M:
    """Parse and validate bytes as `model`; raise InvalidPayload with a readable reason."""
    if len(data) > limit:
        raise InvalidPayload(f"{model.__name__} payload of {len(data)} bytes exceeds {limit}")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidPayload(f"invalid {model.__name__}: {_summary(exc)}") from exc


def _summary(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    shown = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in errors[:3])
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return shown + more


def decode_event(data: bytes) -> Event:
    return decode(Event, data)


def decode_ack(data: bytes) -> Ack:
    return decode(Ack, data)


def decode_command(data: bytes) -> Command:
    return decode(Command, data)


def decode_status(data: bytes) -> Status:
    return decode(Status, data)


def decode_telemetry(data: bytes) -> Telemetry:
    return decode(Telemetry, data)


def decode_envelope(data: bytes) -> SignedEnvelope:
    return decode(SignedEnvelope, data, MAX_SIGNED_PAYLOAD)


def decode_access_list(data: bytes) -> AccessList:
    return decode(AccessList, data, MAX_SIGNED_PAYLOAD)
