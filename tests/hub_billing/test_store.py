"""The billing store on SQLite and PostgreSQL: gapless numbers, frozen documents, exact decimals.

Concurrent issuers run as threads and as separate processes against the same database, the way
the hub's API and a billing command line would.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from hub.billing.document import DocumentKind
from hub.billing.models import (
    BillingDocument,
    Counter,
    Credit,
    DocumentStatus,
    HourPack,
    InvoicedSession,
    PackUsage,
    is_immutable_violation,
)
from hub.billing.numbering import assert_chronological, format_number, next_number
from hub.db import Base, alembic_config, make_engine, migrate, session_factory, writing
from hub.errors import Conflict, Invalid
from hub.ledger.models import MachineSession
from tests.hub.factories import T0

ISSUED_ON = date(2026, 12, 1)
APPEND_ONLY = ("billing_pack_usage", "billing_credits", "billing_invoiced_sessions")


class RolledBack(Exception):
    """Raised inside an issuing transaction to abandon it after it took a number."""


def draft(buyer: str = "org-1") -> BillingDocument:
    return BillingDocument(
        kind=DocumentKind.INVOICE,
        status=DocumentStatus.DRAFT,
        month="2026-11",
        buyer=buyer,
        buyer_name="Atelier Ada",
        document="{}",
        fingerprint="0" * 64,
        lines_cents=10_000,
        tax_cents=2_100,
        payable_cents=12_100,
        created_at=T0,
    )


def issue(
    db: Session, row: BillingDocument, *, series: str = "F", year: int = 2026, on: date = ISSUED_ON
) -> int:
    """What issuing does to a draft row: number, date and seal it in the caller's transaction."""
    taken = next_number(db, series=series, year=year)
    row.series, row.year, row.sequence = series, year, taken
    row.number = format_number(series, year, taken)
    row.issue_date = on
    row.ubl = b"<Invoice/>"
    row.sha256 = "a" * 64
    row.status = DocumentStatus.ISSUED
    row.issued_at = T0
    db.flush()
    return taken


def issue_many(
    sessions: sessionmaker[Session], *, buyer: str, count: int, abandon_every: int
) -> list[int]:
    """Issue `count` documents one transaction each, abandoning every `abandon_every`-th one
    after it took its number; returns every number taken, kept or not."""
    taken: list[int] = []
    for i in range(1, count + 1):
        try:
            with writing(sessions) as db:
                row = draft(buyer)
                db.add(row)
                db.flush()
                taken.append(issue(db, row))
                if i % abandon_every == 0:
                    raise RolledBack
        except RolledBack:
            pass
    return taken


def issue_in_process(
    url: str, buyer: str, count: int, abandon_every: int, start: threading.Barrier
) -> None:
    """A separate issuer process (spawned, so it shares nothing with the test's process)."""
    engine = make_engine(url)
    start.wait()
    issue_many(session_factory(engine), buyer=buyer, count=count, abandon_every=abandon_every)
    engine.dispose()


def issued_numbers(engine: Engine) -> list[int]:
    with Session(engine) as db:
        rows = db.execute(
            select(BillingDocument.sequence, BillingDocument.number).where(
                BillingDocument.status == DocumentStatus.ISSUED
            )
        ).all()
    assert all(number == format_number("F", 2026, seq or 0) for seq, number in rows)
    return sorted(seq or 0 for seq, _ in rows)


def last_number(engine: Engine, series: str = "F", year: int = 2026) -> int | None:
    with Session(engine) as db:
        counter = db.get(Counter, (series, year))
        return counter.last_number if counter else None


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


# --- Gapless numbering ------------------------------------------------------------------------


def test_concurrent_issuers_leave_no_gap_and_no_duplicate(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    workers, count, abandon_every = 4, 10, 4
    start = threading.Barrier(workers)

    def worker(index: int) -> list[int]:
        start.wait()  # all start together, racing even to create the year's counter row
        return issue_many(sessions, buyer=f"org-{index}", count=count, abandon_every=abandon_every)

    with ThreadPoolExecutor(workers) as pool:
        taken = [n for numbers in pool.map(worker, range(workers)) for n in numbers]

    kept = workers * (count - count // abandon_every)
    assert issued_numbers(engine) == list(range(1, kept + 1))
    assert last_number(engine) == kept
    # Abandoned numbers were given out again: more were taken than kept, none is missing.
    assert len(taken) == workers * count and set(taken) == set(range(1, kept + 1))
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(BillingDocument)) == kept


def test_issuers_in_separate_processes_share_one_sequence(engine: Engine) -> None:
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    url = engine.url.render_as_string(hide_password=False)
    processes = [
        spawn.Process(target=issue_in_process, args=(url, f"org-{i}", 6, 3, start))
        for i in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0]
    assert issued_numbers(engine) == list(range(1, 9))


def test_an_abandoned_number_is_given_again(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(RolledBack), writing(sessions) as db:
        assert next_number(db, series="F", year=2026) == 1
        raise RolledBack
    assert last_number(engine) is None
    with writing(sessions) as db:
        assert next_number(db, series="F", year=2026) == 1
    with writing(sessions) as db:
        assert next_number(db, series="F", year=2026) == 2
    assert last_number(engine) == 2


def test_each_series_and_year_counts_from_one(sessions: sessionmaker[Session]) -> None:
    with writing(sessions) as db:
        taken = [
            next_number(db, series=series, year=year)
            for series, year in [("F", 2026), ("F", 2026), ("NC", 2026), ("F", 2027)]
        ]
    assert taken == [1, 2, 1, 1]


def test_numbers_read_as_the_law_and_the_bank_expect() -> None:
    assert format_number("F", 2026, 42) == "F2026-000042"
    assert format_number("NC", 2026, 3) == "NC2026-000003"
    for series, year, number in [("f", 2026, 1), ("F", 2026, 0), ("F", 2026, 10**6), ("", 26, 1)]:
        with pytest.raises(Invalid):
            format_number(series, year, number)


def test_a_later_number_may_not_carry_an_earlier_date(sessions: sessionmaker[Session]) -> None:
    with writing(sessions) as db:
        row = draft()
        db.add(row)
        issue(db, row, on=date(2026, 12, 5))
    with writing(sessions) as db:
        assert_chronological(db, series="F", year=2026, issue_date=date(2026, 12, 5))
        assert_chronological(db, series="NC", year=2026, issue_date=date(2026, 12, 1))
        with pytest.raises(Conflict, match="2026-12-05"):
            assert_chronological(db, series="F", year=2026, issue_date=date(2026, 12, 4))


# --- Immutability -----------------------------------------------------------------------------


def refused(engine: Engine, sql: str, **params: Any) -> DBAPIError:
    """The error the database raises for `sql`, run in a transaction of its own."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
        connection.execute(text(sql), params)
    return caught.value


def one_of_each(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """An issued document with a row in each append-only table, and a draft; their ids."""
    with writing(sessions) as db:
        issued, pending = draft(), draft("org-2")
        db.add_all([issued, pending])
        db.flush()
        issue(db, issued)
        session_id = uuid.uuid4()
        db.add(
            MachineSession(
                session_id=session_id,
                site="dony",
                machine_id="laser-1",
                device_id="laser-1-pi",
                member_id="m-0001",
                badge_uid="04A224",
                started_at=T0,
            )
        )
        pack = HourPack(
            buyer="org-1",
            seconds=36_000,
            valid_from=date(2026, 1, 1),
            valid_until=date(2027, 1, 1),
            created_at=T0,
        )
        db.add(pack)
        db.flush()
        db.add_all(
            [
                PackUsage(pack_id=pack.id, document_id=issued.id, seconds=3_600),
                Credit(
                    buyer="org-1", amount=Decimal("-12.10"), document_id=issued.id, created_at=T0
                ),
                InvoicedSession(session_id=session_id, document_id=issued.id),
            ]
        )
        return issued.id, pending.id


def payable(engine: Engine, document_id: int) -> int:
    with engine.connect() as connection:
        query = text("SELECT payable_cents FROM billing_documents WHERE id = :id")
        return int(connection.execute(query, {"id": document_id}).scalar_one())


def test_an_issued_document_cannot_be_changed_even_by_sql(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    issued, _ = one_of_each(sessions)
    update = "UPDATE billing_documents SET payable_cents = 0 WHERE id = :id"
    for sql in (update, "DELETE FROM billing_documents WHERE id = :id"):
        error = refused(engine, sql, id=issued)
        assert "billing_documents: an issued document is immutable" in str(error.orig)
        assert is_immutable_violation(error)
    assert payable(engine, issued) == 12_100


def test_the_orm_cannot_change_an_issued_document_either(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    issued, _ = one_of_each(sessions)
    with pytest.raises(DBAPIError) as caught, writing(sessions) as db:
        row = db.get(BillingDocument, issued)
        assert row is not None
        row.status = DocumentStatus.DRAFT  # "un-issue" it to edit it: refused as well
    assert is_immutable_violation(caught.value)
    assert issued_numbers(engine) == [1]


def test_a_draft_may_change_be_deleted_or_be_issued(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    _, pending = one_of_each(sessions)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE billing_documents SET payable_cents = 0 WHERE id = :id"), {"id": pending}
        )
    assert payable(engine, pending) == 0
    with writing(sessions) as db:
        row = db.get(BillingDocument, pending)
        assert row is not None
        issue(db, row)
    assert issued_numbers(engine) == [1, 2]
    with writing(sessions) as db:
        spare = draft("org-3")
        db.add(spare)
    with engine.begin() as connection:
        deleted = connection.execute(
            text("DELETE FROM billing_documents WHERE status = 'draft'")
        ).rowcount
    assert deleted == 1


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_append_only_tables_refuse_updates_and_deletes(
    engine: Engine, sessions: sessionmaker[Session], table: str
) -> None:
    one_of_each(sessions)
    # Self-assignment: even a change that changes nothing is refused.
    for sql in (f"UPDATE {table} SET document_id = document_id", f"DELETE FROM {table}"):  # noqa: S608
        error = refused(engine, sql)
        assert f"{table}: an append-only row is immutable" in str(error.orig)
        assert is_immutable_violation(error)
    with engine.connect() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1  # noqa: S608


def test_truncate_is_refused_on_postgresql(postgres_url: str) -> None:
    # PostgreSQL only: SQLite has no TRUNCATE, and its DELETE runs the row triggers.
    engine = make_engine(postgres_url)
    migrate(engine)
    sessions = session_factory(engine)
    one_of_each(sessions)
    for table in ("billing_documents", *APPEND_ONLY):
        error = refused(engine, f"TRUNCATE {table} CASCADE")
        assert f"{table}: TRUNCATE refused" in str(error.orig)
        assert is_immutable_violation(error)


def test_a_session_is_billed_on_one_document_only(sessions: sessionmaker[Session]) -> None:
    _, pending = one_of_each(sessions)
    with sessions() as db:
        billed = db.scalars(select(InvoicedSession.session_id)).one()
    with pytest.raises(IntegrityError) as caught, writing(sessions) as db:
        db.add(InvoicedSession(session_id=billed, document_id=pending))
    assert not is_immutable_violation(caught.value)


def test_an_issued_document_always_has_its_number_and_date(
    sessions: sessionmaker[Session],
) -> None:
    with pytest.raises(IntegrityError), writing(sessions) as db:
        row = draft()
        row.status = DocumentStatus.ISSUED
        db.add(row)


# --- Exact decimals ---------------------------------------------------------------------------


def stored_amount(sessions: sessionmaker[Session], amount: Decimal) -> Decimal:
    with writing(sessions) as db:
        credit = Credit(buyer="org-1", amount=amount, created_at=T0)
        db.add(credit)
        db.flush()
        key = credit.id
    with sessions() as db:
        return db.scalars(select(Credit.amount).where(Credit.id == key)).one()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amount=st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_come_back_exactly_as_stored(
    sessions: sessionmaker[Session], amount: Decimal
) -> None:
    back = stored_amount(sessions, amount)
    # Same value and same digits: 0.10 stays 0.10, -0 stays -0, 1E+2 stays 1E+2.
    assert str(back) == str(amount)


@pytest.mark.parametrize("amount", ["0.10", "-12.345", "1E+2", "123456789012345678901234567890.01"])
def test_amounts_keep_their_digits(sessions: sessionmaker[Session], amount: str) -> None:
    assert str(stored_amount(sessions, Decimal(amount))) == amount


@pytest.mark.parametrize("amount", [0.1, Decimal("NaN"), Decimal("-Infinity"), True, "1.00"])
def test_floats_and_non_numbers_are_refused(engine: Engine, amount: object) -> None:
    row = {"buyer": "org-1", "amount": amount, "created_at": T0}
    with pytest.raises(StatementError) as caught, engine.begin() as connection:
        connection.execute(insert(Credit), [row])
    assert isinstance(caught.value.orig, Invalid)


# --- Schema -----------------------------------------------------------------------------------


def test_migration_gives_existing_rows_billing_defaults_and_reverts(engine: Engine) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    with engine.begin() as connection:
        tables = {name for (name,) in connection.execute(text(_TABLES[engine.dialect.name]))}
        assert not {t for t in tables if t.startswith("billing_")}
        connection.execute(
            text("INSERT INTO organisations (name, category) VALUES ('A', 'external')")
        )
        connection.execute(text("INSERT INTO members (name, active) VALUES ('Ada', true)"))
    migrate(engine)
    with engine.connect() as connection:
        organisation = connection.execute(text("SELECT country, vat_regime FROM organisations"))
        assert organisation.one() == ("BE", "standard")
        assert connection.execute(text("SELECT country FROM members")).scalar_one() == "BE"


_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database, never migrated."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'blank.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    made = make_engine(url)
    yield made
    made.dispose()


def test_create_all_builds_the_same_guards(blank: Engine) -> None:
    Base.metadata.create_all(blank)
    sessions = session_factory(blank)
    issued, _ = one_of_each(sessions)
    error = refused(
        blank, "UPDATE billing_documents SET payable_cents = 0 WHERE id = :id", id=issued
    )
    assert is_immutable_violation(error)
    assert is_immutable_violation(refused(blank, "DELETE FROM billing_credits"))
