"""Gapless invoice numbers: a counter row per series and year, taken in the issuing transaction.

Belgian law wants invoice numbers in one unbroken sequence. A database SEQUENCE hands out numbers
outside transactions, so a rolled-back issue would leave a hole; a counter row incremented in the
caller's transaction is consumed only if that transaction commits. The row's lock also makes
concurrent issuers of a series wait for each other, which keeps dates in number order
(`assert_chronological`) checkable.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.billing.models import BillingDocument, Counter, DocumentStatus
from hub.db import upsert
from hub.errors import Conflict, Invalid

SERIES = re.compile(r"^[A-Z]{1,8}$")
MAX_NUMBER = 999_999  # six digits in `F2026-000042`


def next_number(session: Session, *, series: str, year: int) -> int:
    """The next number of `series` in `year`, 1 for the first; the caller's commit consumes it.

    PostgreSQL: the UPDATE locks the counter row until the caller's transaction ends, so another
    issuer of the same series waits and then reads the incremented value. SQLite: the caller
    must be in a `hub.db.writing` transaction (BEGIN IMMEDIATE), which already serialises writers.
    """
    return reserve(session, series=series, year=year, count=1)


def reserve(session: Session, *, series: str, year: int, count: int) -> int:
    """The first of `count` consecutive numbers of `series` in `year`, taken at once (a month's
    invoices are issued in one transaction); the caller's commit consumes them all."""
    _check(series, year)
    if count < 1:
        raise Invalid(f"cannot reserve {count} numbers")
    taken = _increment(session, series, year, count)
    if taken > MAX_NUMBER:
        raise Conflict(f"series {series} of {year} is full ({MAX_NUMBER} documents)")
    return int(taken) - count + 1


def _increment(session: Session, series: str, year: int, count: int = 1) -> int:
    counters = Counter.metadata.tables[Counter.__tablename__]
    # The first number of a year creates the row; two issuers racing to create it both succeed,
    # the second one's insert doing nothing once the first commits.
    session.execute(
        upsert(session, counters)
        .values(series=series, year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["series", "year"])
    )
    return int(
        session.execute(
            update(counters)
            .where(counters.c.series == series, counters.c.year == year)
            .values(last_number=counters.c.last_number + count)
            .returning(counters.c.last_number)
        ).scalar_one()
    )


# Not a document series (those are capital letters and a year from 1900): the version of what
# billing reads besides the ledger (tariffs, packs, credit, session reasons), bumped by each write
# so that issuing can tell whether drafts still show what they would show now.
INPUTS_SERIES, INPUTS_YEAR = "inputs", 0


def bump_inputs(session: Session) -> int:
    return _increment(session, INPUTS_SERIES, INPUTS_YEAR)


def inputs_version(session: Session) -> int:
    found = session.scalar(
        select(Counter.last_number).where(
            Counter.series == INPUTS_SERIES, Counter.year == INPUTS_YEAR
        )
    )
    return int(found or 0)


def format_number(series: str, year: int, number: int) -> str:
    """`F`, 2026, 42 -> `F2026-000042`."""
    _check(series, year)
    if not 1 <= number <= MAX_NUMBER:
        raise Invalid(f"document number {number} is outside 1..{MAX_NUMBER}")
    return f"{series}{year:04d}-{number:06d}"


def assert_chronological(session: Session, *, series: str, year: int, issue_date: date) -> None:
    """Refuse an issue date earlier than one already issued in the series: a later number may
    not carry an earlier date. Call it after `next_number`, whose lock keeps the answer true."""
    latest = session.scalar(
        select(func.max(BillingDocument.issue_date)).where(
            BillingDocument.series == series,
            BillingDocument.year == year,
            BillingDocument.status == DocumentStatus.ISSUED,
        )
    )
    if latest is not None and latest > issue_date:
        raise Conflict(
            f"series {series} of {year} already has a document dated {latest.isoformat()};"
            f" a later number cannot be dated {issue_date.isoformat()}"
        )


def _check(series: str, year: int) -> None:
    if not SERIES.fullmatch(series):
        raise Invalid(f"series {series!r} is not 1 to 8 capital letters")
    if not 1900 <= year <= 9999:
        raise Invalid(f"year {year} is out of range")
