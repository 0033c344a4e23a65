"""Billing runs on a real database (SQLite and PostgreSQL): draft, issue, credit, export.

Every document issued here is checked against the official CEN and Peppol rules.
"""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from hub.billing import catalog, exports, inputs, service
from hub.billing.document import Document, DocumentKind
from hub.billing.models import BillingDocument, DocumentStatus, InvoicedSession
from hub.billing.settings import BillingSettings
from hub.billing.validation import fatal, not_applicable, rules
from hub.db import session_factory, writing
from hub.errors import Conflict, Invalid, NotFound
from hub.ledger.models import MachineSession
from hub.registry.models import MachineKind
from tests.hub_billing import world as w

NOV = "2026-11"
ISSUE_DAY = date(2026, 12, 2)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def cooperative(sessions: sessionmaker[Session]) -> Iterator[w.World]:
    with sessions() as db:
        world = w.build(db)
        w.price_list(db)
        w.november(db, world)
    yield world


def settings(**values: object) -> BillingSettings:
    return BillingSettings(**values)  # type: ignore[arg-type]


def issued(sessions: sessionmaker[Session], month: str = NOV) -> list[BillingDocument]:
    with sessions() as db:
        return service.documents(db, month=month, status=DocumentStatus.ISSUED)


def run_and_issue(
    sessions: sessionmaker[Session], month: str = NOV, day: date = ISSUE_DAY, **values: object
) -> list[str]:
    s = settings(**values)
    service.draft_month(sessions, month, s, now=w.NOW)
    return service.issue_month(sessions, month, s, today=day, now=w.NOW)


def passes_rules(row: BillingDocument) -> None:
    assert row.ubl is not None
    # A private person has no Peppol address: only the routable-scheme rule is waived for them.
    failed = fatal(rules().check(row.ubl), waive=not_applicable(service.document_of(row)))
    assert not failed, [f"{f.rule}: {f.text}" for f in failed]


def test_a_month_is_drafted_then_issued_with_gapless_numbers(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    preview = service.draft_month(sessions, NOV, settings(), now=w.NOW, dry_run=True)
    assert len(preview.drafts) == 5  # four organisations and one private person
    assert preview.unmeasured == 1  # chloe's laser session: no busy time reported
    with sessions() as db:
        assert service.documents(db, month=NOV) == []  # a dry run stores nothing

    numbers = run_and_issue(sessions)
    assert numbers == [f"F2026-{n:06d}" for n in range(1, 6)]
    rows = issued(sessions)
    assert [r.number for r in rows] == numbers
    previous = None
    for row in rows:
        passes_rules(row)
        assert row.previous_sha256 == previous  # each seal chained to the number before
        previous = row.sha256
        doc = Document.model_validate_json(row.document)
        assert doc.payment.reference is not None and doc.payment.reference.startswith("+++")
        assert doc.due_date == ISSUE_DAY + timedelta(days=30)
    with sessions() as db:
        assert len(db.scalars(select(InvoicedSession)).all()) == 11
    # Everything is billed: a second run finds nothing left.
    again = service.draft_month(sessions, NOV, settings(), now=w.NOW, dry_run=True)
    assert again.drafts == []


def test_vat_cases_and_the_price_change_show_on_the_invoices(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    run_and_issue(sessions)
    docs = {
        Document.model_validate_json(r.document).buyer.name: Document.model_validate_json(
            r.document
        )
        for r in issued(sessions)
    }
    bois = docs["Atelier Bois SRL"]
    laser_prices = {
        line.price for line in bois.lines if line.name.startswith("Laser Trotec — temps machine")
    }
    assert laser_prices == {Decimal("25.00"), Decimal("30.00")}  # before and after 15 November
    rates = {(s.vat.category.value, s.vat.percent) for s in bois.vat_breakdown()}
    assert rates == {("S", Decimal(21)), ("S", Decimal(6))}
    assert bois.allowances and bois.allowances[0].amount > 0  # the CNC's monthly cap
    assert {s.vat.category.value for s in docs["Nordic Design AB"].vat_breakdown()} == {"AE"}
    assert {s.vat.category.value for s in docs["École du Bois ASBL"].vat_breakdown()} == {"E"}
    pat = docs["Pat Particulier"]
    assert (pat.buyer.endpoint_scheme, pat.buyer.endpoint_id) == ("EM", "pat@example.org")
    maintenance = [line for line in bois.lines if "maintenance" in line.name]
    assert maintenance and all(line.amount == 0 for line in maintenance)


def test_issue_refuses_drafts_made_before_a_price_or_reason_change(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    service.draft_month(sessions, NOV, settings(), now=w.NOW)
    with writing(sessions) as db:  # the manager marks a session as training after the review
        # One of Bruno's: his workshop has other paid use, so it still gets an invoice.
        first = db.scalars(
            select(MachineSession.session_id).where(
                MachineSession.member_id == cooperative.ref("bruno")
            )
        ).first()
        assert first is not None
        catalog.set_reason(db, session_id=first, reason="training", set_by="manager", now=w.NOW)
    with pytest.raises(Conflict, match="run the month again"):
        service.issue_month(sessions, NOV, settings(), today=ISSUE_DAY, now=w.NOW)
    assert issued(sessions) == []
    assert len(run_and_issue(sessions)) == 5


def test_issue_bills_what_was_reviewed_and_late_sessions_go_to_next_month(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    service.draft_month(sessions, NOV, settings(), now=w.NOW)
    with sessions() as db:  # an edge delivers a November session after the review
        late = w.session(
            db, cooperative, "chloe", "printer-1", datetime(2026, 11, 20, tzinfo=UTC), minutes=60
        )
    service.issue_month(sessions, NOV, settings(), today=ISSUE_DAY, now=w.NOW)
    with sessions() as db:
        assert db.get(InvoicedSession, late) is None
    december = service.draft_month(sessions, "2026-12", settings(), now=w.NOW, dry_run=True)
    assert [d.sessions for d in december.drafts] == [(late.hex,)]


def test_issue_without_drafts_says_what_to_do(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    with pytest.raises(NotFound, match="run the month first"):
        service.issue_month(sessions, NOV, settings(), today=ISSUE_DAY, now=w.NOW)


def test_a_session_arriving_after_its_month_was_issued_is_billed_next_month(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    run_and_issue(sessions)
    with sessions() as db:
        w.session(
            db, cooperative, "chloe", "printer-1", datetime(2026, 11, 28, tzinfo=UTC), minutes=120
        )
    run_and_issue(sessions, "2026-12", date(2027, 1, 4))
    [december] = issued(sessions, "2026-12")
    doc = Document.model_validate_json(december.document)
    assert december.number == "F2027-000001"  # numbering restarts each year
    assert [line.note for line in doc.lines] == ["1 session(s), utilisation de 2026-11"]
    passes_rules(december)


def test_credit_notes_correct_an_invoice_and_never_exceed_it(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    run_and_issue(sessions)
    target = next(r for r in issued(sessions) if r.buyer_name == "Céramique & Cie")
    assert target.number is not None
    first = service.issue_credit_note(
        sessions,
        target.number,
        settings(),
        today=ISSUE_DAY,
        now=w.NOW,
        line_ids=["1"],
        note="Séance mal attribuée",
    )
    assert first == "NC2026-000001"
    rest = [line.line_id for line in service.document_of(target).lines][1:]
    second = service.issue_credit_note(
        sessions, target.number, settings(), today=ISSUE_DAY, now=w.NOW, line_ids=rest
    )
    assert second == "NC2026-000002"
    with pytest.raises(Conflict, match="more than was invoiced"):
        service.issue_credit_note(
            sessions, target.number, settings(), today=ISSUE_DAY, now=w.NOW, line_ids=["1"]
        )
    with sessions() as db:
        notes = db.scalars(
            select(BillingDocument).where(BillingDocument.kind == DocumentKind.CREDIT_NOTE)
        ).all()
        for note in notes:
            passes_rules(note)
            doc = Document.model_validate_json(note.document)
            assert doc.corrects is not None and doc.corrects.number == target.number
            assert note.corrects_id == target.id
    with pytest.raises(NotFound):
        service.issue_credit_note(sessions, "F2026-999999", settings(), today=ISSUE_DAY, now=w.NOW)


def test_issued_documents_cannot_be_changed_by_sql(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    run_and_issue(sessions)
    for statement in (
        "UPDATE billing_documents SET payable_cents = 0 WHERE number = 'F2026-000001'",
        "DELETE FROM billing_documents WHERE number = 'F2026-000001'",
        "DELETE FROM billing_invoiced_sessions",
    ):
        with pytest.raises(DBAPIError, match="immutable"), writing(sessions) as db:
            db.execute(text(statement))
    with sessions() as db, pytest.raises(Conflict, match="credit note"):
        service.refuse_change(db, "F2026-000001")


def test_rerunning_after_issue_leaves_issued_documents_alone(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    run_and_issue(sessions)
    before = {r.number: (r.ubl, r.document) for r in issued(sessions)}
    service.draft_month(sessions, NOV, settings(), now=w.NOW)
    assert {r.number: (r.ubl, r.document) for r in issued(sessions)} == before


def test_a_month_of_free_use_only(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        world = w.build(db)
        w.price_list(db)
        start = datetime(2026, 11, 4, 14, tzinfo=UTC)
        training = w.session(db, world, "alice", "laser-1", start, minutes=90, busy_minutes=60)
        catalog.set_reason(db, session_id=training, reason="training", set_by="test", now=w.NOW)
        w.session(
            db, world, "alice", "mill-1", start + timedelta(days=1), minutes=30, role="maintainer"
        )
        db.commit()
    skipped = service.draft_month(sessions, NOV, settings(), now=w.NOW)
    assert skipped.drafts == [] and len(skipped.skipped_zero) == 1
    [number] = run_and_issue(sessions, zero_invoices="issue")
    [row] = issued(sessions)
    doc = Document.model_validate_json(row.document)
    assert doc.totals().payable == 0 and len(doc.lines) == 2
    passes_rules(row)
    assert number == "F2026-000001"


def test_skipped_free_months_are_settled_and_not_billed_again(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as db:
        world = w.build(db)
        w.price_list(db)
        w.session(
            db,
            world,
            "alice",
            "mill-1",
            datetime(2026, 11, 5, tzinfo=UTC),
            minutes=30,
            role="maintainer",
        )
        w.session(db, world, "pat", "printer-1", datetime(2026, 11, 5, tzinfo=UTC), minutes=60)
    assert run_and_issue(sessions) == ["F2026-000001"]
    december = service.draft_month(sessions, "2026-12", settings(), now=w.NOW, dry_run=True)
    assert december.drafts == [] and december.skipped_zero == []


def test_packs_and_credit_are_drawn_once(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    bois = f"org-{cooperative.orgs['bois']}"
    with writing(sessions) as db:
        catalog.add_pack(
            db,
            buyer=bois,
            hours=Decimal(2),
            valid_from=date(2026, 11, 1),
            valid_until=date(2027, 11, 1),
            machine_kind=MachineKind.PRINTER_3D,
            now=w.NOW,
        )
        catalog.add_credit(db, buyer=bois, amount=Decimal("50.00"), now=w.NOW)
    run_and_issue(sessions)
    row = next(r for r in issued(sessions) if r.buyer == bois)
    doc = Document.model_validate_json(row.document)
    assert any("heures prépayées" in line.name for line in doc.lines)
    assert doc.totals().prepaid == Decimal("50.00")
    with sessions() as db:
        assert catalog_balance(db, bois) == 0
        # Bruno printed 4 h (185 min, whole hours): the 2 h pack is used up.
        assert inputs.load_packs(db, {bois}) == []


def catalog_balance(db: Session, buyer: str) -> Decimal:
    return inputs.credit_balances(db, {buyer}).get(buyer, Decimal(0))


def test_two_issuers_at_once_give_each_number_once_without_gaps(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    with sessions() as db:
        for day in range(1, 25):
            for who, machine in (
                ("alice", "printer-1"),
                ("chloe", "printer-1"),
                ("pat", "printer-1"),
            ):
                w.session(
                    db,
                    cooperative,
                    who,
                    machine,
                    datetime(2026, 10, day, 10, tzinfo=UTC),
                    minutes=60,
                )
    service.draft_month(sessions, NOV, settings(catch_up_months=0), now=w.NOW)
    service.draft_month(sessions, "2026-10", settings(catch_up_months=0), now=w.NOW)
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def issuer(month: str) -> None:
        try:
            barrier.wait()
            results.append(
                service.issue_month(
                    sessions, month, settings(catch_up_months=0), today=ISSUE_DAY, now=w.NOW
                )
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=issuer, args=(m,)) for m in (NOV, NOV, "2026-10", "2026-10")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    numbers = sorted(n for batch in results for n in batch)
    assert numbers == [f"F2026-{n:06d}" for n in range(1, len(numbers) + 1)]
    assert len(numbers) == 5 + 3  # every draft issued exactly once
    with sessions() as db:
        assert len(service.documents(db, status=DocumentStatus.DRAFT)) == 0


def test_the_accountants_zip(sessions: sessionmaker[Session], cooperative: w.World) -> None:
    numbers = run_and_issue(sessions)
    rows = issued(sessions)
    data = exports.month_zip(rows, settings().accounts, preset_name="generic")
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert {f"ubl/{n}.xml" for n in numbers} <= names
    assert {f"pdf/{n}.pdf" for n in numbers} <= names
    assert archive.read(f"ubl/{numbers[0]}.xml") == rows[0].ubl
    journal = archive.read("journal.csv").decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(journal), delimiter=";"))
    debit = sum(Decimal(r["debit"].replace(",", ".") or 0) for r in table)
    credit = sum(Decimal(r["credit"].replace(",", ".") or 0) for r in table)
    assert debit == credit > 0
    assert data == exports.month_zip(issued(sessions), settings().accounts, preset_name="generic")


def test_unknown_month_and_preset_are_refused(
    sessions: sessionmaker[Session], cooperative: w.World
) -> None:
    with pytest.raises(Invalid):
        service.draft_month(sessions, "2026-13", settings(), now=w.NOW)
    with pytest.raises(Invalid, match="preset"):
        exports.preset("sage")
