"""The readable invoice: a `Document` as an A4 PDF, in French (or English).

The PDF is what private occupants receive and what Belgian receivers expect beside the UBL.
It carries the mentions Belgian invoice law asks for: both parties and their numbers, the
number and dates, the period, the lines, the VAT base, rate and amount per rate with the legal
mention of an exemption or reverse charge, and the totals.

Choices:
- Numbers are written the French way, `1 234,56 €`, with a no-break space (U+00A0) as the
  thousands separator and before `€` and `%`, so an amount never breaks across two lines.
  The built-in Helvetica in WinAnsi encoding has that space, `€` and the accented letters, so
  no font file is shipped.
- The same document gives the same bytes (`invariant`): a stored PDF can be re-rendered and
  compared, and its hash kept.
- A draft (no number yet) carries a large "BROUILLON" / "DRAFT" mark on every page.
- Pages are counted in a first rendering so the footer can say "Page 2 / 5".
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import BaseDocTemplate

from hub.billing.document import (
    NEEDS_REASON,
    ZERO,
    Document,
    DocumentKind,
    Line,
    Party,
    VatCategory,
    VatRate,
)
from hub.errors import Invalid

NBSP = "\u00a0"


@dataclass(frozen=True)
class Labels:
    """Every word the PDF prints, in one language."""

    invoice: str
    credit_note: str
    draft: str
    number: str
    issue_date: str
    due_date: str
    customer_ref: str
    period: str  # with {start} and {end}
    corrects: str  # with {number} and {date}
    party_ids: tuple[str, str]  # enterprise number, VAT number prefixes
    private_person: str
    customer: str
    columns: tuple[str, str, str, str, str]
    allowance_columns: tuple[str, str, str]
    vat_recap: str
    vat_columns: tuple[str, str, str]
    total_lines: str
    total_allowances: str
    total_excl: str
    total_vat: str
    total_incl: str
    prepaid: str
    payable: str
    refund: str
    pay_by: str  # with {amount}, {date}, {iban}
    pay_now: str  # with {amount}, {iban}
    refund_note: str
    structured: str
    page: str  # with {page} and {pages}
    decimal: str
    thousands: str
    money: str  # with {}
    percent: str  # with {}
    colon: str  # French puts a no-break space before the colon
    units: dict[str, str]
    reasons: dict[VatCategory, str]  # when the rate gives no exemption_reason


FR = Labels(
    invoice="Facture",
    credit_note="Note de crédit",
    draft="BROUILLON",
    number="Numéro",
    issue_date="Date",
    due_date="Échéance",
    customer_ref="Référence client",
    period="Période du {start} au {end}",
    corrects="Corrige la facture {number} du {date}",
    party_ids=("BCE", "TVA"),
    private_person="Particulier",
    customer="Client",
    columns=("Description", "Quantité", "Prix unitaire", "TVA", "Montant HTVA"),
    allowance_columns=("Remise", "TVA", "Montant"),
    vat_recap="Récapitulatif TVA",
    vat_columns=("Taux", "Base HTVA", "TVA"),
    total_lines="Total des lignes",
    total_allowances="Total des remises",
    total_excl="Total HTVA",
    total_vat="TVA",
    total_incl="Total TVAC",
    prepaid="Déjà payé",
    payable="À payer",
    refund="À rembourser",
    pay_by="Merci de verser {amount} au plus tard le {date} sur le compte {iban}.",
    pay_now="Merci de verser {amount} sur le compte {iban}.",
    refund_note="Ce montant vous sera remboursé ou déduit de votre prochaine facture.",
    structured="Communication structurée",
    page="Page {page} / {pages}",
    decimal=",",
    thousands=NBSP,
    money="{}" + NBSP + "€",
    percent="{}" + NBSP + "%",
    colon=NBSP + ":",
    units={"HUR": "h", "MIN": "min", "SEC": "s", "C62": "pcs", "KWH": "kWh"},
    reasons={
        VatCategory.EXEMPT: "Exonération de la TVA",
        VatCategory.REVERSE_CHARGE: "Autoliquidation",
        VatCategory.INTRA_COMMUNITY: "Livraison intracommunautaire exonérée",
        VatCategory.EXPORT: "Exportation exonérée",
        VatCategory.NOT_SUBJECT: "Hors du champ d'application de la TVA",
    },
)

EN = Labels(
    invoice="Invoice",
    credit_note="Credit note",
    draft="DRAFT",
    number="Number",
    issue_date="Date",
    due_date="Due date",
    customer_ref="Customer reference",
    period="Period from {start} to {end}",
    corrects="Corrects invoice {number} of {date}",
    party_ids=("Enterprise no.", "VAT"),
    private_person="Private person",
    customer="Customer",
    columns=("Description", "Quantity", "Unit price", "VAT", "Amount excl. VAT"),
    allowance_columns=("Allowance", "VAT", "Amount"),
    vat_recap="VAT summary",
    vat_columns=("Rate", "Taxable amount", "VAT"),
    total_lines="Lines total",
    total_allowances="Allowances total",
    total_excl="Total excl. VAT",
    total_vat="VAT",
    total_incl="Total incl. VAT",
    prepaid="Already paid",
    payable="Amount due",
    refund="To be refunded",
    pay_by="Please pay {amount} by {date} to account {iban}.",
    pay_now="Please pay {amount} to account {iban}.",
    refund_note="This amount will be refunded or deducted from your next invoice.",
    structured="Structured reference",
    page="Page {page} / {pages}",
    decimal=".",
    thousands=",",
    money="€{}",
    percent="{}%",
    colon=":",
    units={"HUR": "h", "MIN": "min", "SEC": "s", "C62": "pcs", "KWH": "kWh"},
    reasons={
        VatCategory.EXEMPT: "Exempt from VAT",
        VatCategory.REVERSE_CHARGE: "Reverse charge",
        VatCategory.INTRA_COMMUNITY: "Exempt intra-community supply",
        VatCategory.EXPORT: "Exempt export",
        VatCategory.NOT_SUBJECT: "Not subject to VAT",
    },
)

LABELS: dict[str, Labels] = {"fr": FR, "en": EN}


# --- formatting ------------------------------------------------------------------------------


def format_number(value: Decimal, labels: Labels, places: int | None = 2) -> str:
    """`1 234,56` in French; `places=None` keeps the value's own decimals (quantities)."""
    magnitude = abs(value)
    text = f"{magnitude:,.{places}f}" if places is not None else f"{magnitude.normalize():,f}"
    text = text.translate({ord(","): labels.thousands, ord("."): labels.decimal})
    return f"-{text}" if value < 0 else text


def format_money(value: Decimal, labels: Labels) -> str:
    """An amount in euros: `1 234,56 €` in French, `€1,234.56` in English."""
    text = labels.money.format(format_number(abs(value), labels))
    return f"-{text}" if value < 0 else text


def format_price(value: Decimal, labels: Labels) -> str:
    """A unit price keeps its extra decimals (0,4167 € a minute) but shows at least two."""
    places = max(2, -int(value.normalize().as_tuple().exponent))
    return labels.money.format(format_number(value, labels, places))


def format_date(value: date) -> str:
    return f"{value:%d/%m/%Y}"


def format_percent(vat: VatRate, labels: Labels) -> str:
    text = labels.percent.format(format_number(vat.percent, labels, None))
    return text if vat.category is VatCategory.STANDARD else f"{text} ({vat.category.value})"


def format_enterprise(number: str) -> str:
    """`0403.170.701` (and `BE0403.170.701`): the Belgian numbers as printed on documents."""
    prefix, digits = (number[:2], number[2:]) if number[:2].isalpha() else ("", number)
    if len(digits) != 10 or not digits.isdigit():
        return number
    return f"{prefix}{digits[:4]}.{digits[4:7]}.{digits[7:]}"


def format_iban(iban: str) -> str:
    compact = iban.replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def unit_name(code: str, labels: Labels) -> str:
    return labels.units.get(code, code)


# --- the document ------------------------------------------------------------------------------

MARGIN = 18 * mm
# The frame of SimpleDocTemplate pads its content by 6 pt on each side.
WIDTH = A4[0] - 2 * MARGIN - 12
GRID = colors.Color(0.75, 0.75, 0.75)
SHADE = colors.Color(0.93, 0.93, 0.93)


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    title: ParagraphStyle
    heading: ParagraphStyle


def _styles() -> _Styles:
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=9, leading=11.5)
    return _Styles(
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=7.5, leading=9, textColor=colors.grey),
        title=ParagraphStyle(
            "title", parent=body, fontName="Helvetica-Bold", fontSize=16, leading=20
        ),
        heading=ParagraphStyle("heading", parent=body, fontName="Helvetica-Bold", fontSize=10),
    )


def render_pdf(doc: Document, *, language: str = "fr") -> bytes:
    """The document as PDF bytes; the same document always gives the same bytes."""
    labels = LABELS.get(language)
    if labels is None:
        raise Invalid(f"no PDF labels for language {language!r}; known: {sorted(LABELS)}")
    pages = _render(doc, labels, pages=None)[1]
    return _render(doc, labels, pages=pages)[0]


def _render(doc: Document, labels: Labels, pages: int | None) -> tuple[bytes, int]:
    out = io.BytesIO()
    template = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=16 * mm,
        bottomMargin=20 * mm,
        title=_title(doc, labels),
        author=doc.seller.name,
        creator="Machinerie",
        invariant=1,
    )
    decorate = _page_decoration(doc, labels, pages)
    template.build(_story(doc, labels, _styles()), onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue(), template.page


def _title(doc: Document, labels: Labels) -> str:
    kind = labels.credit_note if doc.kind is DocumentKind.CREDIT_NOTE else labels.invoice
    return f"{kind} {doc.number}" if doc.number else f"{kind} ({labels.draft})"


def _page_decoration(
    doc: Document, labels: Labels, pages: int | None
) -> Callable[[Canvas, BaseDocTemplate], None]:
    footer = f"{doc.seller.name} · {_title(doc, labels)}"

    def decorate(canvas: Canvas, template: BaseDocTemplate) -> None:
        if doc.number is None:
            _draft_mark(canvas, labels.draft)
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN + 6, 10 * mm, footer)
        page = template.page
        canvas.drawRightString(
            A4[0] - MARGIN - 6, 10 * mm, labels.page.format(page=page, pages=pages or page)
        )
        canvas.restoreState()

    return decorate


def _draft_mark(canvas: Canvas, text: str) -> None:
    """Drawn before the content, hence under it: it hides no figure, yet no reader misses it."""
    canvas.saveState()
    canvas.setFont("Helvetica-Bold", 90)
    canvas.setFillColor(colors.Color(0.88, 0.88, 0.88))
    canvas.translate(A4[0] / 2, A4[1] / 2)
    canvas.rotate(45)
    canvas.drawCentredString(0, -30, text)
    canvas.restoreState()


def _story(doc: Document, labels: Labels, styles: _Styles) -> list[Flowable]:
    story: list[Flowable] = [_parties(doc, labels, styles), Spacer(1, 8 * mm)]
    story += _heading(doc, labels, styles)
    story += [Spacer(1, 5 * mm), _lines_table(doc.lines, labels, styles)]
    if doc.allowances:
        story += [Spacer(1, 4 * mm), _allowances_table(doc, labels, styles)]
    story += [Spacer(1, 5 * mm), _summary(doc, labels, styles), Spacer(1, 5 * mm)]
    story += _payment(doc, labels, styles)
    return story


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _address(party: Party) -> list[str]:
    address = party.address
    rows = [party.name]
    if address.street:
        rows.append(address.street)
    place = " ".join(part for part in (address.postcode, address.city) if part)
    if place:
        rows.append(place)
    if address.country != "BE":
        rows.append(address.country)
    return rows


def _seller_rows(party: Party, labels: Labels, iban: str, bic: str | None) -> list[str]:
    rows = _address(party)
    enterprise, vat = labels.party_ids
    if party.enterprise_number:
        rows.append(f"{enterprise} {format_enterprise(party.enterprise_number)}")
    if party.vat_number:
        rows.append(f"{vat} {format_enterprise(party.vat_number)}")
    rows.append(f"IBAN {format_iban(iban)}" + (f" · BIC {bic}" if bic else ""))
    if party.email:
        rows.append(party.email)
    return rows


def _buyer_rows(party: Party, labels: Labels) -> list[str]:
    rows = _address(party)
    if party.vat_number:
        rows.append(f"{labels.party_ids[1]} {format_enterprise(party.vat_number)}")
    else:
        rows.append(labels.private_person)
    return rows


def _block(rows: list[str], styles: _Styles, heading: str | None = None) -> list[Flowable]:
    head = [_p(heading, styles.small)] if heading else []
    first = Paragraph(f"<b>{escape(rows[0])}</b>", styles.body)
    return [*head, first, *(_p(row, styles.body) for row in rows[1:])]


def _parties(doc: Document, labels: Labels, styles: _Styles) -> Table:
    seller = _seller_rows(doc.seller, labels, doc.payment.iban, doc.payment.bic)
    buyer = _buyer_rows(doc.buyer, labels)
    table = Table(
        [[_block(seller, styles), _block(buyer, styles, labels.customer)]],
        colWidths=[WIDTH * 0.55, WIDTH * 0.45],
    )
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)])
    )
    return table


def _heading(doc: Document, labels: Labels, styles: _Styles) -> list[Flowable]:
    facts = [(labels.customer_ref, doc.buyer.reference)]
    if doc.number:
        facts.insert(0, (labels.number, doc.number))
    if doc.issue_date:
        facts.append((labels.issue_date, format_date(doc.issue_date)))
    if doc.due_date:
        facts.append((labels.due_date, format_date(doc.due_date)))
    table = Table(
        [[f"{name}{labels.colon}", value] for name, value in facts],
        colWidths=[38 * mm, WIDTH - 38 * mm],
        hAlign="LEFT",
    )
    table.setStyle(_grid_style(header=False))
    period = labels.period.format(
        start=format_date(doc.period_start), end=format_date(doc.period_end)
    )
    flow: list[Flowable] = [
        _p(_title(doc, labels), styles.title),
        Spacer(1, 2 * mm),
        table,
        Spacer(1, 1.5 * mm),
        _p(period, styles.body),
    ]
    if doc.corrects:
        ref = doc.corrects
        flow.append(
            _p(
                labels.corrects.format(number=ref.number, date=format_date(ref.issue_date)),
                styles.body,
            )
        )
    if doc.note:
        flow.append(_p(doc.note, styles.body))
    return flow


def _grid_style(*, header: bool) -> TableStyle:
    style = TableStyle()
    style.add("FONT", (0, 0), (-1, -1), "Helvetica", 9)
    style.add("VALIGN", (0, 0), (-1, -1), "TOP")
    style.add("TOPPADDING", (0, 0), (-1, -1), 1.5)
    style.add("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)
    if header:
        style.add("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9)
        style.add("BACKGROUND", (0, 0), (-1, 0), SHADE)
        style.add("LINEBELOW", (0, 0), (-1, -1), 0.25, GRID)
        style.add("ALIGN", (1, 0), (-1, -1), "RIGHT")
    else:
        style.add("LEFTPADDING", (0, 0), (0, -1), 0)
    return style


def _lines_table(lines: tuple[Line, ...], labels: Labels, styles: _Styles) -> Table:
    rows: list[list[object]] = [list(labels.columns)]
    for line in lines:
        text = f"<b>{escape(line.name)}</b>"
        if line.note:
            text += f"<br/><font size=7.5 color=grey>{escape(line.note)}</font>"
        rows.append(
            [
                Paragraph(text, styles.body),
                f"{format_number(line.quantity, labels, None)} {unit_name(line.unit, labels)}",
                _unit_price(line, labels),
                format_percent(line.vat, labels),
                format_money(line.amount, labels),
            ]
        )
    # repeatRows: a long month flows over several pages, each with the column titles.
    table = Table(
        rows, colWidths=[64 * mm, 22 * mm, 34 * mm, 18 * mm, WIDTH - 138 * mm], repeatRows=1
    )
    table.setStyle(_grid_style(header=True))
    return table


def _unit_price(line: Line, labels: Labels) -> str:
    unit = unit_name(line.unit, labels)
    per = (
        unit
        if line.base_quantity == 1
        else f"{format_number(line.base_quantity, labels, None)} {unit}"
    )
    return f"{format_price(line.price, labels)} / {per}"


def _allowances_table(doc: Document, labels: Labels, styles: _Styles) -> Table:
    rows: list[list[object]] = [list(labels.allowance_columns)]
    rows += [
        [_p(a.reason, styles.body), format_percent(a.vat, labels), format_money(-a.amount, labels)]
        for a in doc.allowances
    ]
    table = Table(rows, colWidths=[WIDTH - 44 * mm, 18 * mm, 26 * mm], repeatRows=1)
    table.setStyle(_grid_style(header=True))
    return table


def _summary(doc: Document, labels: Labels, styles: _Styles) -> Table:
    """The VAT recap per (category, rate) beside the totals."""
    recap: list[list[object]] = [list(labels.vat_columns)]
    mentions: list[Flowable] = []
    for sub in doc.vat_breakdown():
        recap.append(
            [
                format_percent(sub.vat, labels),
                format_money(sub.taxable, labels),
                format_money(sub.tax, labels),
            ]
        )
        if sub.vat.category in NEEDS_REASON:
            reason = sub.vat.exemption_reason or labels.reasons[sub.vat.category]
            mentions.append(
                _p(f"{format_percent(sub.vat, labels)}{labels.colon} {reason}", styles.small)
            )
    vat_table = Table(recap, colWidths=[22 * mm, 28 * mm, 24 * mm])
    vat_table.setStyle(_grid_style(header=True))
    left: list[Flowable] = [_p(labels.vat_recap, styles.heading), Spacer(1, 1.5 * mm), vat_table]
    left += [Spacer(1, 2 * mm), *mentions] if mentions else []
    return Table(
        [[left, _totals_table(doc, labels)]],
        colWidths=[WIDTH - 80 * mm, 80 * mm],
        style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]),
    )


def _totals_table(doc: Document, labels: Labels) -> Table:
    t = doc.totals()
    rows: list[tuple[str, Decimal]] = []
    if t.allowances != ZERO:
        rows += [(labels.total_lines, t.lines), (labels.total_allowances, -t.allowances)]
    rows += [
        (labels.total_excl, t.tax_exclusive),
        (labels.total_vat, t.tax),
        (labels.total_incl, t.tax_inclusive),
    ]
    if t.prepaid != ZERO:
        rows.append((labels.prepaid, -t.prepaid))
    last = labels.refund if doc.kind is DocumentKind.CREDIT_NOTE else labels.payable
    rows.append((last, t.payable))
    table = Table(
        [[name, format_money(value, labels)] for name, value in rows], colWidths=[44 * mm, 34 * mm]
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 10.5),
                ("LINEABOVE", (0, -1), (-1, -1), 0.75, colors.black),
                ("BACKGROUND", (0, -1), (-1, -1), SHADE),
            ]
        )
    )
    return table


def _payment(doc: Document, labels: Labels, styles: _Styles) -> list[Flowable]:
    payment = doc.payment
    payable = doc.totals().payable
    flow: list[Flowable] = []
    iban = format_iban(payment.iban) + (f" (BIC {payment.bic})" if payment.bic else "")
    if doc.kind is DocumentKind.CREDIT_NOTE:
        flow.append(_p(labels.refund_note, styles.body))
    elif payable > ZERO:
        amount = format_money(payable, labels)
        text = (
            labels.pay_by.format(amount=amount, date=format_date(doc.due_date), iban=iban)
            if doc.due_date
            else labels.pay_now.format(amount=amount, iban=iban)
        )
        flow.append(_p(text, styles.body))
    if payment.reference:
        flow.append(
            Paragraph(
                f"{escape(labels.structured)}{labels.colon} <b>{escape(payment.reference)}</b>",
                styles.body,
            )
        )
    if payment.terms:
        flow.append(_p(payment.terms, styles.body))
    return flow
