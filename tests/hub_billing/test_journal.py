"""The sales journal: balanced postings for any document, and CSV files accountants can import."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.billing.document import (
    ZERO,
    Allowance,
    Document,
    DocumentKind,
    InvoiceReference,
    Line,
    VatRate,
)
from hub.billing.journal import (
    GENERIC,
    ODOO,
    PRESETS,
    WINBOOKS,
    AccountPlan,
    Posting,
    PostingKind,
    Preset,
    journal_csv,
    postings,
)
from hub.errors import Invalid
from tests.hub_billing.builders import S6, S12, S21
from tests.hub_billing.docs_for_tests import (
    COMPANY,
    PERSON,
    REVERSE,
    credit_note,
    invoice,
    line,
)
from tests.hub_billing.scenarios import EXEMPT

PLAN = AccountPlan()
RATES = (S21, S12, S6, EXEMPT, REVERSE)
ACCOUNTS = ("700100", "700200")


# --- random documents ------------------------------------------------------------------------


@st.composite
def random_lines(draw: st.DrawFn) -> tuple[Line, ...]:
    return tuple(
        Line(
            line_id=str(i),
            name=f"Machine {i}",
            quantity=draw(st.decimals(min_value=0, max_value=5000, places=2)),
            unit=draw(st.sampled_from(("MIN", "HUR", "SEC", "C62", "KWH"))),
            price=draw(st.decimals(min_value=0, max_value=300, places=4)),
            base_quantity=draw(st.sampled_from((Decimal(1), Decimal(60), Decimal(3600)))),
            vat=draw(st.sampled_from(RATES)),
            account=draw(st.sampled_from(ACCOUNTS)),
        )
        for i in range(1, draw(st.integers(min_value=1, max_value=6)) + 1)
    )


@st.composite
def random_allowances(draw: st.DrawFn, lines: tuple[Line, ...]) -> tuple[Allowance, ...]:
    """A cap on some rates, never above that rate's base; on any account the rate's lines use."""
    bases: dict[VatRate, Decimal] = defaultdict(lambda: ZERO)
    accounts: dict[VatRate, list[str]] = defaultdict(list)
    for item in lines:
        bases[item.vat] += item.amount
        accounts[item.vat].append(item.account)
    return tuple(
        Allowance(
            reason="Plafond mensuel",
            amount=draw(st.decimals(min_value=Decimal("0.01"), max_value=base, places=2)),
            vat=vat,
            account=draw(st.sampled_from(accounts[vat])),
        )
        for vat, base in bases.items()
        if base > ZERO and draw(st.booleans())
    )


@st.composite
def random_documents(draw: st.DrawFn, sequence: int = 1) -> Document:
    lines = draw(random_lines())
    allowances = draw(random_allowances(lines))
    kind = draw(st.sampled_from(DocumentKind))
    draft = invoice(lines, allowances=allowances, buyer=draw(st.sampled_from((COMPANY, PERSON))))
    inclusive = draft.totals().tax_inclusive
    prepaid = draw(st.decimals(min_value=0, max_value=inclusive, places=2) | st.just(ZERO))
    credit = kind is DocumentKind.CREDIT_NOTE
    return draft.model_copy(
        update={
            "kind": kind,
            "number": f"{'NC' if credit else 'F'}2026-{sequence:06d}",
            "prepaid": prepaid,
            "corrects": InvoiceReference(number="F2026-000001", issue_date=date(2026, 12, 1))
            if credit
            else None,
        }
    )


@st.composite
def random_batches(draw: st.DrawFn) -> list[Document]:
    return [draw(random_documents(i)) for i in range(1, draw(st.integers(1, 4)) + 1)]


def by_document(rows: list[Posting]) -> dict[str, list[Posting]]:
    grouped: dict[str, list[Posting]] = defaultdict(list)
    for row in rows:
        grouped[row.doc_number].append(row)
    return grouped


def debit_minus_credit(rows: list[Posting]) -> Decimal:
    return sum((r.debit - r.credit for r in rows), ZERO)


# --- postings ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(random_batches())
def test_every_document_balances_and_matches_its_totals(docs: list[Document]) -> None:
    rows = postings(docs, PLAN)

    assert debit_minus_credit(rows) == ZERO
    grouped = by_document(rows)
    for doc in docs:
        mine = grouped.get(doc.number or "", [])
        totals = doc.totals()
        assert debit_minus_credit(mine) == ZERO
        assert all(r.debit >= ZERO and r.credit >= ZERO for r in mine)
        assert all(ZERO in (r.debit, r.credit) for r in mine)
        assert all(r.debit == r.debit.quantize(Decimal("0.01")) for r in mine)
        # An invoice's natural side is the debit for the customer; a credit note swaps it.
        sign = Decimal(1) if doc.kind is DocumentKind.INVOICE else Decimal(-1)
        customer = [r for r in mine if r.kind is PostingKind.CUSTOMER]
        natural = sum((r.debit if sign > 0 else r.credit for r in customer), ZERO)
        assert natural == totals.tax_inclusive
        assert sign * debit_minus_credit(customer) == totals.payable
        vat = [r for r in mine if r.kind is PostingKind.VAT]
        assert -sign * debit_minus_credit(vat) == totals.tax
        sales = [r for r in mine if r.kind is PostingKind.SALES]
        assert -sign * debit_minus_credit(sales) == totals.tax_exclusive
        advances = [r for r in mine if r.kind is PostingKind.ADVANCE]
        assert sign * debit_minus_credit(advances) == totals.prepaid


def test_sales_are_credited_per_account_and_rate_and_vat_per_rate() -> None:
    doc = invoice(
        (
            line("1", "Découpe laser", "95"),  # 39.58 on 700100 at 21 %
            line("2", "Fraiseuse", "60", account="700100"),  # 25.00
            line(
                "3", "Bois", "12", unit="C62", price="1.375", base_quantity="1", account="700200"
            ),  # 16.50
            line(
                "4",
                "Formation",
                "2",
                unit="HUR",
                price="40",
                base_quantity="1",
                vat=S6,
                account="700300",
            ),  # 80.00
        )
    )

    rows = postings([doc], PLAN)

    sales = {(r.account, r.vat_code): r.credit for r in rows if r.kind is PostingKind.SALES}
    assert sales == {
        ("700100", "21"): Decimal("64.58"),
        ("700200", "21"): Decimal("16.50"),
        ("700300", "6"): Decimal("80.00"),
    }
    vat = {r.vat_code: r.credit for r in rows if r.kind is PostingKind.VAT}
    assert vat == {"21": Decimal("17.03"), "6": Decimal("4.80")}  # 81.08 x 21 %, 80 x 6 %
    assert [r.vat_box for r in rows] == ["", "03", "03", "01", "54", "54"]


WOOD = line("2", "Bois", "1", unit="C62", price="20", account="700200")  # 20.00 on 700200


def test_an_allowance_reduces_the_sales_of_its_own_account() -> None:
    cap = Allowance(reason="Plafond mensuel", amount=Decimal("9.58"), vat=S21, account="700100")
    doc = invoice((line(), WOOD), allowances=(cap,))

    rows = postings([doc], PLAN)

    sales = {r.account: r.credit for r in rows if r.kind is PostingKind.SALES}
    assert sales == {"700100": Decimal("30.00"), "700200": Decimal("20.00")}
    assert rows[0].debit == Decimal("60.50")  # 50.00 + 10.50 VAT


def test_an_allowance_larger_than_its_accounts_lines_moves_to_the_debit() -> None:
    cap = Allowance(reason="Plafond", amount=Decimal("30.00"), vat=S21, account="700200")
    doc = invoice((line(), WOOD), allowances=(cap,))

    rows = {r.account: r for r in postings([doc], PLAN)}

    assert (rows["700200"].debit, rows["700200"].credit) == (Decimal("10.00"), ZERO)
    assert rows["700100"].credit == Decimal("39.58")


def test_a_prepaid_part_is_taken_from_the_advances_account() -> None:
    doc = invoice(prepaid=Decimal("20.00"))  # 39.58 + 8.31 VAT = 47.89

    rows = postings([doc], PLAN)

    assert [(r.account, r.debit, r.credit) for r in rows[:3]] == [
        ("400000", Decimal("47.89"), ZERO),
        ("460000", Decimal("20.00"), ZERO),
        ("400000", ZERO, Decimal("20.00")),
    ]
    assert rows[0].structured_ref == "+++202/6000/04236+++"
    assert rows[0].due_date == date(2027, 1, 2)
    assert rows[1].due_date is None


def test_a_credit_note_swaps_sides_and_uses_the_credit_note_boxes() -> None:
    doc = credit_note(
        (line(), line("2", "Formation", "1", unit="HUR", price="40", base_quantity="1", vat=S6))
    )

    rows = postings([doc], AccountPlan(credit_journal="NCV"))

    assert [(r.account, r.vat_box, r.debit, r.credit) for r in rows] == [
        ("400000", "", ZERO, Decimal("90.29")),
        ("700100", "49", Decimal("40.00"), ZERO),
        ("700100", "49", Decimal("39.58"), ZERO),
        ("451000", "64", Decimal("2.40"), ZERO),
        ("451000", "64", Decimal("8.31"), ZERO),
    ]
    assert {(r.journal, r.doc_type, r.doc_number) for r in rows} == {("NCV", "CN", "NC2026-000003")}


def test_exempt_and_reverse_charge_bases_go_to_their_boxes_without_vat() -> None:
    doc = invoice((line("1", vat=EXEMPT), line("2", vat=REVERSE, account="700200")))

    rows = postings([doc], PLAN)

    assert [(r.account, r.vat_code, r.vat_box) for r in rows] == [
        ("400000", "", ""),
        ("700100", "E", "00"),
        ("700200", "AE", "45"),
    ]


def test_a_standard_rate_belgium_does_not_have_is_refused() -> None:
    doc = invoice((line(vat=VatRate(percent=Decimal(19))),))

    with pytest.raises(Invalid):
        postings([doc], PLAN)


def test_drafts_cannot_be_journalised() -> None:
    with pytest.raises(Invalid):
        postings([invoice(number=None)], PLAN)


def test_a_zero_document_is_left_out_unless_asked_for() -> None:
    free = invoice((line(quantity="0"),))

    assert postings([free], PLAN) == []
    kept = postings([free], PLAN, include_zero=True)
    assert [(r.account, r.debit, r.credit) for r in kept] == [("400000", ZERO, ZERO)]


# --- CSV ------------------------------------------------------------------------------------


def header_of(preset: Preset, field: str) -> str:
    return next(h for h, column in preset.columns if column == field)


def parse(data: bytes, preset: Preset) -> list[dict[str, str]]:
    stream = io.StringIO(data.decode(preset.encoding), newline="")
    return list(csv.DictReader(stream, delimiter=preset.delimiter))


def number(cell: str, preset: Preset) -> Decimal:
    return Decimal(cell.replace(preset.decimal, ".")) if cell else ZERO


@settings(max_examples=60, deadline=None)
@given(random_batches(), st.sampled_from(sorted(PRESETS)))
def test_every_preset_parses_back_to_the_same_balanced_rows(
    docs: list[Document], name: str
) -> None:
    preset = PRESETS[name]
    rows = postings(docs, PLAN)

    parsed = parse(journal_csv(rows, preset), preset)

    assert len(parsed) == len(rows)
    total_debit = sum((r.debit for r in rows), ZERO)
    if "amount" in dict(preset.columns).values():
        amounts = [number(row[header_of(preset, "amount")], preset) for row in parsed]
        sides = [row[header_of(preset, "side")] for row in parsed]
        assert sum(amounts, ZERO) == ZERO
        assert sum((a for a in amounts if a > 0), ZERO) == total_debit
        assert all((side == "C") == (a < 0) for a, side in zip(amounts, sides, strict=True))
    else:
        debit = sum((number(row[header_of(preset, "debit")], preset) for row in parsed), ZERO)
        credit = sum((number(row[header_of(preset, "credit")], preset) for row in parsed), ZERO)
        assert debit == credit == total_debit


def small_invoice() -> Document:
    return invoice(
        (
            line(),
            line("2", "Bois", "12", unit="C62", price="1.375", base_quantity="1", account="700200"),
        )
    )


def test_generic_golden_rows() -> None:
    plan = AccountPlan(
        labels=(
            ("400000", "Clients"),
            ("451000", "TVA à payer"),
            ("700100", "Prestations machines"),
            ("700200", "Ventes matériaux"),
        )
    )

    data = journal_csv(postings([small_invoice()], plan), GENERIC)

    assert data.startswith(b"\xef\xbb\xbf")  # the UTF-8 mark Excel needs for the accents
    assert data.decode("utf-8-sig").split("\r\n") == [
        "journal;doc_type;doc_number;doc_date;due_date;period;partner_ref;partner_name;"
        "partner_vat;account;account_label;vat_code;vat_box;debit;credit;description;"
        "structured_ref;currency",
        "VEN;INV;F2026-000042;2026-12-03;2027-01-02;2026-11;org-0007;Atelier Bois Exemple SRL;"
        "BE0765432146;400000;Clients;;;67,86;0,00;Facture F2026-000042;"
        "+++202/6000/04236+++;EUR",
        "VEN;INV;F2026-000042;2026-12-03;;2026-11;org-0007;Atelier Bois Exemple SRL;"
        "BE0765432146;700100;Prestations machines;21;03;0,00;39,58;Découpe laser;;EUR",
        "VEN;INV;F2026-000042;2026-12-03;;2026-11;org-0007;Atelier Bois Exemple SRL;"
        "BE0765432146;700200;Ventes matériaux;21;03;0,00;16,50;Bois;;EUR",
        "VEN;INV;F2026-000042;2026-12-03;;2026-11;org-0007;Atelier Bois Exemple SRL;"
        "BE0765432146;451000;TVA à payer;21;54;0,00;11,78;TVA 21 %;;EUR",
        "",
    ]


def test_odoo_writes_the_entry_fields_on_its_first_line_only() -> None:
    docs = [small_invoice(), credit_note()]

    parsed = parse(journal_csv(postings(docs, PLAN), ODOO), ODOO)

    heads = [(r["journal_id"], r["date"], r["ref"]) for r in parsed]
    assert heads == [
        ("VEN", "2026-12-03", "F2026-000042"),
        ("", "", ""),
        ("", "", ""),
        ("", "", ""),
        ("VEN", "2026-12-10", "NC2026-000003"),
        ("", "", ""),
        ("", "", ""),
    ]
    assert parsed[0]["line_ids/partner_id"] == "Atelier Bois Exemple SRL"
    assert parsed[0]["line_ids/debit"] == "67.86"
    assert parsed[0]["line_ids/date_maturity"] == "2027-01-02"


def test_winbooks_rows_name_the_customer_and_sign_the_amounts() -> None:
    docs = [small_invoice(), credit_note()]

    parsed = parse(journal_csv(postings(docs, PLAN), WINBOOKS), WINBOOKS)

    first, sale = parsed[0], parsed[1]
    assert (first["jnltype"], first["number"], first["renumber"]) == ("SAL", "2026000042", "F")
    assert (first["accounttyp"], first["accountid"], first["side"]) == ("C", "org-0007", "D")
    assert (first["date"], first["duedate"], first["amount"]) == (
        "2026/12/03",
        "2027/01/02",
        "67.86",
    )
    assert (sale["accounttyp"], sale["accountid"], sale["side"], sale["amount"]) == (
        "G",
        "700100",
        "C",
        "-39.58",
    )
    assert (parsed[4]["jnltype"], parsed[4]["side"], parsed[4]["amount"]) == ("SAC", "C", "-47.89")


def test_labels_are_cut_to_the_presets_length() -> None:
    long = line(name="Découpe laser " + "très longue " * 10)

    parsed = parse(journal_csv(postings([invoice((long,))], PLAN), WINBOOKS), WINBOOKS)

    assert max(len(r["comment"]) for r in parsed) == 40


def test_a_preset_naming_an_unknown_field_is_refused() -> None:
    with pytest.raises(Invalid):
        Preset(name="typo", columns=(("compte", "acount"),))
