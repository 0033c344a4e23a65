"""Validation and canonical forms of the identifiers the registry stores.

Belgian enterprise and VAT numbers are checked with python-stdnum (the enterprise number is the
old VAT number, so `stdnum.be.vat` checks both); badge UIDs, ids and e-mails with patterns.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stdnum.be import vat as be_vat
from stdnum.exceptions import ValidationError

from hub.errors import Invalid

# Same patterns as contracts.models.BadgeUid and Ident: what the edge will accept.
BADGE_UID = re.compile(r"^(?:[0-9A-F]{2}){1,16}$")
IDENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MEMBER_REF = re.compile(r"^m-(\d+)$")


def enterprise_number(value: str) -> str:
    """`0403.170.701` or `BE 0403170701` -> `0403170701`; raises Invalid when the check fails."""
    try:
        return str(be_vat.validate(value))
    except ValidationError as exc:
        raise Invalid(f"{value!r} is not a valid Belgian enterprise number: {exc}") from exc


def vat_number(value: str) -> str:
    """`BE 0403.170.701` -> `BE0403170701`, the form a Peppol invoice carries."""
    try:
        return "BE" + str(be_vat.validate(value))
    except ValidationError as exc:
        raise Invalid(f"{value!r} is not a valid Belgian VAT number: {exc}") from exc


def badge_uid(value: str) -> str:
    """Readers print UIDs as `04:a2:24`, `04 A2 24` or `04a224`; the contract wants `04A224`."""
    compact = re.sub(r"[\s:-]", "", value).upper()
    if not BADGE_UID.fullmatch(compact):
        raise Invalid(f"{value!r} is not a badge UID (1 to 16 bytes in hex)")
    return compact


def ident(value: str, *, what: str) -> str:
    if not IDENT.fullmatch(value):
        raise Invalid(f"{value!r} is not a valid {what} (lower-case letters, digits, - and _)")
    return value


def email(value: str) -> str:
    cleaned = value.strip().lower()
    if not EMAIL.fullmatch(cleaned):
        raise Invalid(f"{value!r} is not an e-mail address")
    return cleaned


def timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"unknown time zone {value!r}") from exc
    return value


def member_ref(member_id: int) -> str:
    """The member id as access lists and events carry it: `m-0042`."""
    return f"m-{member_id:04d}"


def parse_member_ref(value: str) -> int | None:
    """The registry id behind `m-0042`, or None for a reference the registry did not issue."""
    found = MEMBER_REF.fullmatch(value)
    return int(found.group(1)) if found else None
