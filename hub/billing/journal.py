"""The sales journal for the accountant: issued documents as balanced postings, written as CSV.

How one invoice is booked (Belgian PCMN accounts by default; a credit note swaps every side):

    Dr 400000 customers     tax_inclusive
    Cr 70xxxx sales         per (line account, VAT rate): line amounts less allowances
    Cr 451000 VAT payable   per (category, rate): that rate's tax from `Document.vat_breakdown`
  and, when part of it was prepaid:
    Dr 460000 advances      prepaid      the advance received earlier is used up...
    Cr 400000 customers     prepaid      ...and settles that much of the receivable

The customer is debited with the full invoice and then credited with the prepaid part, rather
than debited with `payable` alone, so that the customer account shows the invoice at its face
value (the amount of the UBL and of the VAT return) and the use of the advance as a movement of
its own that the accountant can match; the customer's balance is `payable` either way.

An allowance (a monthly cap reached) is a reduction of sales: it is netted into the sales
posting of its own account and rate, so its VAT base and the VAT return boxes stay right.

Every posting carries the buyer (reference, name, VAT number) so that a spreadsheet can filter by
customer; the due date and the structured communication only sit on the customer postings, as
they describe the receivable. Amounts are never negative: a posting whose natural side comes out
negative (an allowance larger than its account's lines) is written on the other side.

Belgian VAT return boxes on the sales postings (AR/KB grid numbers):

    S 21 % -> 03, S 12 % -> 02, S 6 % -> 01, Z and E -> 00, AE (co-contractor) -> 45,
    K (intra-community services, what the hub sells) -> 44, G (export) -> 47,
    O (outside the scope of VAT) -> no box; VAT due -> 54.
    Credit notes: bases -> 49 (48 for intra-community), VAT -> 64.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from hub.billing.document import ZERO, Document, DocumentKind, VatCategory, VatRate, money
from hub.errors import Invalid

DEFAULT_LABELS: tuple[tuple[str, str], ...] = (
    ("400000", "Clients"),
    ("451000", "TVA à payer"),
    ("460000", "Acomptes reçus"),
    ("700000", "Chiffre d'affaires"),
)
SALES_LABEL = "Ventes"
_DOC_LABELS = {DocumentKind.INVOICE: "Facture", DocumentKind.CREDIT_NOTE: "Note de crédit"}


class PostingKind(StrEnum):
    CUSTOMER = "customer"
    ADVANCE = "advance"
    SALES = "sales"
    VAT = "vat"


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """The accounts and journals of the cooperative's chart; sales accounts come from the lines."""

    customers: str = "400000"
    vat_payable: str = "451000"
    prepaid: str = "460000"
    journal: str = "VEN"
    credit_journal: str | None = None  # None: credit notes go to `journal` too
    labels: tuple[tuple[str, str], ...] = DEFAULT_LABELS

    def label(self, account: str) -> str:
        return dict(self.labels).get(account, SALES_LABEL)

    def journal_for(self, kind: DocumentKind) -> str:
        if kind is DocumentKind.CREDIT_NOTE and self.credit_journal:
            return self.credit_journal
        return self.journal


@dataclass(frozen=True, slots=True)
class Posting:
    """One journal row: an amount on one account, on the debit or the credit side."""

    journal: str
    doc_type: str  # INV | CN
    doc_number: str
    doc_date: date
    due_date: date | None
    period: str  # YYYY-MM of the billed period's start
    partner_ref: str
    partner_name: str
    partner_vat: str
    account: str
    account_label: str
    vat_code: str  # "21", "12", "6", "0" for S and Z; the category ("E", "AE", ...) otherwise
    vat_box: str
    debit: Decimal
    credit: Decimal
    description: str
    structured_ref: str
    currency: str
    kind: PostingKind


@dataclass(frozen=True, slots=True)
class _Entry:
    """A posting before its side is known: a positive amount is a debit on an invoice."""

    kind: PostingKind
    account: str
    amount: Decimal
    description: str
    vat: VatRate | None = None


_BASE_BOXES = {
    ("S", Decimal(21)): "03",
    ("S", Decimal(12)): "02",
    ("S", Decimal(6)): "01",
}
_CATEGORY_BOXES = {
    VatCategory.ZERO_RATED: "00",
    VatCategory.EXEMPT: "00",
    VatCategory.REVERSE_CHARGE: "45",
    VatCategory.INTRA_COMMUNITY: "44",
    VatCategory.EXPORT: "47",
    VatCategory.NOT_SUBJECT: "",
}


def base_box(vat: VatRate, kind: DocumentKind) -> str:
    """The VAT return box where this rate's sales base is declared."""
    if vat.category is VatCategory.STANDARD:
        box = _BASE_BOXES.get((vat.category.value, vat.percent.normalize()))
        if box is None:
            raise Invalid(f"no Belgian VAT return box for standard rate {vat.percent} %")
    else:
        box = _CATEGORY_BOXES[vat.category]
    if kind is DocumentKind.CREDIT_NOTE and box:
        return "48" if vat.category is VatCategory.INTRA_COMMUNITY else "49"
    return box


def tax_box(kind: DocumentKind) -> str:
    return "64" if kind is DocumentKind.CREDIT_NOTE else "54"


def vat_code(vat: VatRate) -> str:
    if vat.category in (VatCategory.STANDARD, VatCategory.ZERO_RATED):
        return _percent(vat.percent)
    return vat.category.value


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}"


def postings(
    docs: Iterable[Document], plan: AccountPlan, *, include_zero: bool = False
) -> list[Posting]:
    """The journal of these documents, in their order; see the module docstring for the booking.

    Zero amounts are left out, so a document totalling zero yields no posting, unless
    `include_zero` keeps its customer posting at zero (its number then shows in the journal).
    """
    return [p for doc in docs for p in document_postings(doc, plan, include_zero=include_zero)]


def document_postings(
    doc: Document, plan: AccountPlan, *, include_zero: bool = False
) -> list[Posting]:
    """One document's postings; they balance exactly, or `Invalid` is raised."""
    if doc.number is None or doc.issue_date is None:
        raise Invalid("only issued documents (with a number and an issue date) go to the journal")
    entries = _entries(doc, plan)
    kept = [
        e
        for i, e in enumerate(entries)
        if e.amount != ZERO or (include_zero and i == 0)  # entry 0 is the customer's
    ]
    rows = [_posting(doc, doc.number, doc.issue_date, plan, e) for e in kept]
    debit = sum((p.debit for p in rows), ZERO)
    credit = sum((p.credit for p in rows), ZERO)
    if debit != credit:
        raise Invalid(f"{doc.number}: postings do not balance (debit {debit}, credit {credit})")
    return rows


def _entries(doc: Document, plan: AccountPlan) -> list[_Entry]:
    totals = doc.totals()
    label = _DOC_LABELS[doc.kind]
    entries = [_Entry(PostingKind.CUSTOMER, plan.customers, totals.tax_inclusive, label)]
    if totals.prepaid != ZERO:
        entries.append(_Entry(PostingKind.ADVANCE, plan.prepaid, totals.prepaid, "Acompte imputé"))
        entries.append(
            _Entry(PostingKind.CUSTOMER, plan.customers, -totals.prepaid, "Imputation de l'acompte")
        )
    entries.extend(_sales_entries(doc))
    entries.extend(
        _Entry(PostingKind.VAT, plan.vat_payable, -s.tax, f"TVA {_percent(s.vat.percent)} %", s.vat)
        for s in doc.vat_breakdown()
    )
    return entries


def _sales_entries(doc: Document) -> list[_Entry]:
    """Sales credited per (account, VAT rate): line amounts less that group's allowances."""
    nets: dict[tuple[str, tuple[str, Decimal]], Decimal] = {}
    rates: dict[tuple[str, tuple[str, Decimal]], VatRate] = {}
    names: dict[tuple[str, tuple[str, Decimal]], list[str]] = {}
    parts = [(line.account, line.vat, line.amount, line.name) for line in doc.lines]
    parts += [(a.account, a.vat, -a.amount, a.reason) for a in doc.allowances]
    for account, vat, amount, name in parts:
        key = (account, vat.key)
        nets[key] = nets.get(key, ZERO) + amount
        rates.setdefault(key, vat)
        seen = names.setdefault(key, [])
        if name not in seen:
            seen.append(name)
    return [
        _Entry(PostingKind.SALES, key[0], -nets[key], ", ".join(names[key]), rates[key])
        for key in sorted(nets)
    ]


def _posting(doc: Document, number: str, issued: date, plan: AccountPlan, e: _Entry) -> Posting:
    amount = money(-e.amount if doc.kind is DocumentKind.CREDIT_NOTE else e.amount)
    customer = e.kind is PostingKind.CUSTOMER
    if e.vat is None:
        code = box = ""
    else:
        code = vat_code(e.vat)
        box = tax_box(doc.kind) if e.kind is PostingKind.VAT else base_box(e.vat, doc.kind)
    return Posting(
        journal=plan.journal_for(doc.kind),
        doc_type="CN" if doc.kind is DocumentKind.CREDIT_NOTE else "INV",
        doc_number=number,
        doc_date=issued,
        due_date=doc.due_date if customer else None,
        period=f"{doc.period_start:%Y-%m}",
        partner_ref=doc.buyer.reference,
        partner_name=doc.buyer.name,
        partner_vat=doc.buyer.vat_number or "",
        account=e.account,
        account_label=plan.label(e.account),
        vat_code=code,
        vat_box=box,
        debit=amount if amount > ZERO else ZERO,
        credit=-amount if amount < ZERO else ZERO,
        description=f"{e.description} {number}" if customer else e.description,
        structured_ref=(doc.payment.reference or "") if customer else "",
        currency=doc.currency,
        kind=e.kind,
    )


# --- CSV presets ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    """A column holding the same text on every row (WinBooks' `renumber` flag, say)."""

    value: str


Column = str | Const


_LABEL_FIELDS = frozenset({"partner_name", "account_label", "description"})

_DERIVED: dict[str, Callable[[Posting], object]] = {
    "amount": lambda p: p.debit - p.credit,
    "side": lambda p: "C" if p.credit > ZERO else "D",
    "account_type": lambda p: "C" if p.kind is PostingKind.CUSTOMER else "G",
    "third_or_account": lambda p: p.partner_ref if p.kind is PostingKind.CUSTOMER else p.account,
    "doc_digits": lambda p: "".join(c for c in p.doc_number if c.isdigit()),
    "winbooks_jnltype": lambda p: "SAC" if p.doc_type == "CN" else "SAL",
}


@dataclass(frozen=True, slots=True)
class Preset:
    """A CSV layout an accounting package imports.

    `columns` maps each header to a `Posting` field or a derived field (`amount`: signed,
    debit positive; `side`: D or C; `account_type`: C for the customer, G otherwise;
    `third_or_account`: the customer's reference on customer rows, else the account;
    `doc_digits`: the document number's digits; `winbooks_jnltype`: SAL or SAC). Debit and credit
    are thus two columns (`debit`, `credit`) or one signed amount and a side (`amount`, `side`).
    `document_columns` are written on a document's first row only, for importers (Odoo) that
    read a blank header field as "another line of the same entry".
    """

    name: str
    columns: tuple[tuple[str, Column], ...]
    delimiter: str = ";"
    decimal: str = ","
    encoding: str = "utf-8"
    date_format: str = "%Y-%m-%d"
    label_max: int | None = 50
    line_terminator: str = "\r\n"
    document_columns: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        known = set(_DERIVED) | set(Posting.__dataclass_fields__)
        unknown = [c for _, c in self.columns if isinstance(c, str) and c not in known]
        if unknown:
            raise Invalid(f"preset {self.name}: unknown fields {unknown}")


GENERIC_FIELDS = (
    "journal",
    "doc_type",
    "doc_number",
    "doc_date",
    "due_date",
    "period",
    "partner_ref",
    "partner_name",
    "partner_vat",
    "account",
    "account_label",
    "vat_code",
    "vat_box",
    "debit",
    "credit",
    "description",
    "structured_ref",
    "currency",
)

# UTF-8 with a byte-order mark: Excel, where accountants open such files, only then reads the
# accents right; every CSV reader treats the mark as part of the encoding.
GENERIC = Preset(
    name="generic",
    columns=tuple((f, f) for f in GENERIC_FIELDS),
    encoding="utf-8-sig",
)

# Odoo's own import of journal entries (account.move with its line_ids): a row whose entry
# fields are blank adds a line to the entry above. Accounts and partners are found by their
# code and name. VAT grids come from Odoo's taxes, which this import does not set.
ODOO = Preset(
    name="odoo",
    columns=(
        ("journal_id", "journal"),
        ("date", "doc_date"),
        ("ref", "doc_number"),
        ("line_ids/account_id", "account"),
        ("line_ids/partner_id", "partner_name"),
        ("line_ids/name", "description"),
        ("line_ids/debit", "debit"),
        ("line_ids/credit", "credit"),
        ("line_ids/date_maturity", "due_date"),
    ),
    delimiter=",",
    decimal=".",
    label_max=None,
    line_terminator="\n",
    document_columns=frozenset({"journal_id", "date", "ref"}),
)

# WinBooks on Web, "Import accounting documents from CSV file": one row per posting line;
# `renumber` F because the hub numbers its documents; customer rows name the customer's
# WinBooks id (`accounttyp` C), the others a general account (G); the currency is left blank
# as the amounts are in the base currency; numbers use a decimal point.
WINBOOKS = Preset(
    name="winbooks",
    columns=(
        ("jnltype", "winbooks_jnltype"),
        ("jnl", "journal"),
        ("number", "doc_digits"),
        ("renumber", Const("F")),
        ("accounttyp", "account_type"),
        ("accountid", "third_or_account"),
        ("date", "doc_date"),
        ("duedate", "due_date"),
        ("cur", Const("")),
        ("side", "side"),
        ("amountcur", Const("")),
        ("amount", "amount"),
        ("vattype", Const("0")),
        ("comment", "description"),
    ),
    decimal=".",
    date_format="%Y/%m/%d",
    label_max=40,
)

PRESETS: dict[str, Preset] = {p.name: p for p in (GENERIC, ODOO, WINBOOKS)}


def journal_csv(rows: Iterable[Posting], preset: Preset) -> bytes:
    """The postings as a CSV file in the preset's layout, header first."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=preset.delimiter, lineterminator=preset.line_terminator)
    writer.writerow([header for header, _ in preset.columns])
    previous: tuple[str, str] | None = None
    for posting in rows:
        first = (posting.journal, posting.doc_number) != previous
        previous = (posting.journal, posting.doc_number)
        writer.writerow(
            [
                ""
                if not first and header in preset.document_columns
                else _cell(posting, column, preset)
                for header, column in preset.columns
            ]
        )
    # A name outside a legacy encoding (ISO-8859-1) must not stop the whole export.
    return out.getvalue().encode(preset.encoding, errors="replace")


def _cell(posting: Posting, column: Column, preset: Preset) -> str:
    if isinstance(column, Const):
        return column.value
    derived = _DERIVED.get(column)
    value = derived(posting) if derived else getattr(posting, column)
    text = _text(value, preset)
    if column in _LABEL_FIELDS and preset.label_max is not None:
        return text[: preset.label_max]
    return text


def _text(value: object, preset: Preset) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", preset.decimal)
    if isinstance(value, date):
        return value.strftime(preset.date_format)
    return str(value)
