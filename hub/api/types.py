"""Constrained field types shared by the API schemas, matching the columns they end up in.

They keep out what the database would refuse with a server error (NUL bytes on PostgreSQL,
over-long strings, 64-bit ids, naive or out-of-range datetimes) as a 422 instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

# PostgreSQL text cannot hold NUL; SQLite could, and the two must behave alike.
NO_NUL = r"^[^\x00]*$"
INT32_MAX = 2_147_483_647

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)
]
Email = Annotated[str, StringConstraints(min_length=3, max_length=320, pattern=NO_NUL)]
Number = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=NO_NUL)]
BadgeUid = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._@-]{0,63}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200, pattern=NO_NUL)]
DbId = Annotated[int, Field(ge=1, le=INT32_MAX)]
# Years a workshop's bills can be about; keeps local-time arithmetic far from datetime's limits.
Month = Annotated[
    str,
    StringConstraints(pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"),
    Field(examples=["2026-11"]),
]


def _in_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("datetime out of range") from exc
    if not 1970 <= utc.year <= 9000:
        raise ValueError("datetime out of range (1970 to 9000)")
    return utc


Moment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_zone(value: str) -> str:
    # Looked up in the tz database's list rather than opened: odd names ("Europe", "../x")
    # make ZoneInfo raise more than the documented errors.
    if value not in _zones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


TimeZone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=NO_NUL),
    AfterValidator(_known_zone),
]
