"""A billing document as a Peppol BIS Billing 3.0 e-invoice: UBL 2.1 `Invoice` or `CreditNote`.

The writer only lays out what the `Document` already holds; every amount comes from
`Document.totals()` and `Document.vat_breakdown()`, so the XML can never disagree with the PDF
or the journal.

UBL is an ordered schema: receivers validate against the UBL 2.1 XSD, which rejects an element
out of its `xsd:sequence` place even though the business rules (Schematron) do not look at
order. Each builder below therefore appends children strictly in sequence order; the tests
hold the output to a table of the XSD sequences.

Two places where `Invoice` and `CreditNote` differ in UBL 2.1:

- `CreditNote` has no `cbc:DueDate`; its due date (BT-9) goes in
  `cac:PaymentMeans/cbc:PaymentDueDate`. BR-CO-25 only counts `cbc:DueDate` or a payment terms
  note, so a credit note with an amount due needs `Payment.terms`.
- lines are `cac:InvoiceLine` with `cbc:InvoicedQuantity`, or `cac:CreditNoteLine` with
  `cbc:CreditedQuantity`.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from lxml import etree

from hub.billing.document import (
    CENT,
    NEEDS_REASON,
    ZERO,
    Address,
    Allowance,
    Document,
    DocumentKind,
    InvoiceReference,
    Line,
    Party,
    Payment,
    VatCategory,
    VatRate,
)
from hub.errors import Invalid

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
_PREFIXES = {"cac": CAC, "cbc": CBC}

INVOICE_TYPE_CODE = "380"  # UNCL 1001 commercial invoice
CREDIT_NOTE_TYPE_CODE = "381"  # UNCL 1001 credit note
ENTERPRISE_SCHEME = "0208"  # ISO 6523 ICD of the Belgian enterprise number
VAT_SCHEME = "VAT"

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# UNCL 4461 names, written for a human reading the XML; the code is what counts.
_MEANS_NAMES = {"30": "Credit transfer", "58": "SEPA credit transfer"}


def to_ubl(doc: Document) -> bytes:
    """The document as UTF-8 UBL with an XML declaration; the same document gives the same bytes.

    Raises `Invalid` for a draft without its number or issue date, or for an amount that is not
    a whole number of cents.
    """
    if doc.number is None or doc.issue_date is None:
        raise Invalid("a document needs its number and issue date before it becomes UBL")
    root = _Root(doc).build()
    return _DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def _el(
    parent: etree._Element, tag: str, text: str | None = None, /, **attrs: str
) -> etree._Element:
    """Append `prefix:Local` to `parent`, with text and attributes (`name=` included)."""
    child = etree.SubElement(parent, _clark(tag), attrs)
    if text is not None:
        child.text = text
    return child


@cache
def _clark(tag: str) -> str:
    """`cbc:ID` -> `{urn:...CommonBasicComponents-2}ID`, worked out once per tag."""
    prefix, local = tag.split(":")
    return f"{{{_PREFIXES[prefix]}}}{local}"


def plain(value: Decimal, places: int = 0) -> str:
    """A plain decimal, no exponent, trailing zeros dropped down to `places` decimals.

    Quantities and rates read best bare (`60`, `37.4`, `21`), prices as money (`30.00`,
    `0.41667`); no value is rounded.
    """
    text = format(value, "f")
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(places, "0")
    return f"{whole}.{decimals}" if decimals else whole


def amount(value: Decimal) -> str:
    """An amount with exactly two decimals (BR-DEC); refuses to round one silently."""
    cents = value.quantize(CENT)
    if cents != value:
        raise Invalid(f"amount {value} is not a whole number of cents")
    return format(cents, "f")


class _Root:
    """Builds the root element in the order of the UBL 2.1 `InvoiceType` / `CreditNoteType`."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.credit = doc.kind == DocumentKind.CREDIT_NOTE
        self.currency = doc.currency
        self.totals = doc.totals()
        categories = {line.vat.category for line in doc.lines}
        categories |= {a.vat.category for a in doc.allowances}
        # BR-O-02..04: a "not subject to VAT" document names no VAT identifier at all.
        self.show_vat_ids = VatCategory.NOT_SUBJECT not in categories
        # BR-IC-12: an intra-community supply states the country it is delivered to.
        self.deliver_to = (
            doc.buyer.address.country if VatCategory.INTRA_COMMUNITY in categories else None
        )

    def build(self) -> etree._Element:
        doc = self.doc
        ns = CREDIT_NOTE_NS if self.credit else INVOICE_NS
        root = etree.Element(
            f"{{{ns}}}{'CreditNote' if self.credit else 'Invoice'}",
            # The root's own namespace as the default one, as in the Peppol examples; the lxml
            # stubs cannot express the `None` key lxml uses for it.
            nsmap={None: ns, "cac": CAC, "cbc": CBC},  # type: ignore[dict-item]
        )
        self.header(root)
        if doc.corrects is not None:
            _billing_reference(root, doc.corrects)
        _party(_el(root, "cac:AccountingSupplierParty"), doc.seller, self.show_vat_ids)
        _party(_el(root, "cac:AccountingCustomerParty"), doc.buyer, self.show_vat_ids)
        if self.deliver_to is not None:
            _delivery(root, self.deliver_to)
        self.payment(root, doc.payment)
        for allowance in doc.allowances:
            self.allowance(root, allowance)
        self.tax_total(root)
        self.monetary_total(root)
        for line in doc.lines:
            self.line(root, line)
        return root

    def money(self, parent: etree._Element, name: str, value: Decimal) -> None:
        _el(parent, name, amount(value), currencyID=self.currency)

    def header(self, root: etree._Element) -> None:
        doc = self.doc
        assert doc.number is not None and doc.issue_date is not None  # checked by to_ubl
        _el(root, "cbc:CustomizationID", CUSTOMIZATION_ID)
        _el(root, "cbc:ProfileID", PROFILE_ID)
        _el(root, "cbc:ID", doc.number)
        _el(root, "cbc:IssueDate", doc.issue_date.isoformat())
        if self.credit:
            _el(root, "cbc:CreditNoteTypeCode", CREDIT_NOTE_TYPE_CODE)
        else:
            if doc.due_date is not None:
                _el(root, "cbc:DueDate", doc.due_date.isoformat())
            _el(root, "cbc:InvoiceTypeCode", INVOICE_TYPE_CODE)
        if doc.note:
            _el(root, "cbc:Note", doc.note)
        _el(root, "cbc:DocumentCurrencyCode", self.currency)
        # PEPPOL-EN16931-R003: our own code for the buyer is the reference they quote back.
        _el(root, "cbc:BuyerReference", doc.buyer.reference)
        period = _el(root, "cac:InvoicePeriod")
        _el(period, "cbc:StartDate", doc.period_start.isoformat())
        _el(period, "cbc:EndDate", doc.period_end.isoformat())

    def payment(self, root: etree._Element, payment: Payment) -> None:
        means = _el(root, "cac:PaymentMeans")
        name = _MEANS_NAMES.get(payment.means_code)
        attrs = {"name": name} if name else {}
        _el(means, "cbc:PaymentMeansCode", payment.means_code, **attrs)
        if self.credit and self.doc.due_date is not None:
            _el(means, "cbc:PaymentDueDate", self.doc.due_date.isoformat())
        if payment.reference:
            _el(means, "cbc:PaymentID", payment.reference)
        account = _el(means, "cac:PayeeFinancialAccount")
        _el(account, "cbc:ID", "".join(payment.iban.split()).upper())
        if payment.bic:
            branch = _el(account, "cac:FinancialInstitutionBranch")
            _el(branch, "cbc:ID", payment.bic)
        if payment.terms:
            terms = _el(root, "cac:PaymentTerms")
            _el(terms, "cbc:Note", payment.terms)

    def allowance(self, root: etree._Element, allowance: Allowance) -> None:
        charge = _el(root, "cac:AllowanceCharge")
        _el(charge, "cbc:ChargeIndicator", "false")
        _el(charge, "cbc:AllowanceChargeReason", allowance.reason)
        self.money(charge, "cbc:Amount", allowance.amount)
        _tax_category(charge, "cac:TaxCategory", allowance.vat, with_reason=False)

    def tax_total(self, root: etree._Element) -> None:
        total = _el(root, "cac:TaxTotal")
        self.money(total, "cbc:TaxAmount", self.totals.tax)
        for subtotal in self.doc.vat_breakdown():
            sub = _el(total, "cac:TaxSubtotal")
            self.money(sub, "cbc:TaxableAmount", subtotal.taxable)
            self.money(sub, "cbc:TaxAmount", subtotal.tax)
            # The exemption reason lives here only: EN 16931 has it per VAT breakdown (BT-120).
            _tax_category(sub, "cac:TaxCategory", subtotal.vat, with_reason=True)

    def monetary_total(self, root: etree._Element) -> None:
        totals = self.totals
        total = _el(root, "cac:LegalMonetaryTotal")
        self.money(total, "cbc:LineExtensionAmount", totals.lines)
        self.money(total, "cbc:TaxExclusiveAmount", totals.tax_exclusive)
        self.money(total, "cbc:TaxInclusiveAmount", totals.tax_inclusive)
        if self.doc.allowances:
            self.money(total, "cbc:AllowanceTotalAmount", totals.allowances)
        if totals.prepaid > ZERO:
            self.money(total, "cbc:PrepaidAmount", totals.prepaid)
        self.money(total, "cbc:PayableAmount", totals.payable)

    def line(self, root: etree._Element, line: Line) -> None:
        kind, quantity = ("CreditNote", "Credited") if self.credit else ("Invoice", "Invoiced")
        row = _el(root, f"cac:{kind}Line")
        _el(row, "cbc:ID", line.line_id)
        if line.note:
            _el(row, "cbc:Note", line.note)
        _el(row, f"cbc:{quantity}Quantity", plain(line.quantity), unitCode=line.unit)
        self.money(row, "cbc:LineExtensionAmount", line.amount)
        item = _el(row, "cac:Item")
        _el(item, "cbc:Name", line.name)
        if line.machine_id:
            ident = _el(item, "cac:SellersItemIdentification")
            _el(ident, "cbc:ID", line.machine_id)
        _tax_category(item, "cac:ClassifiedTaxCategory", line.vat, with_reason=False)
        price = _el(row, "cac:Price")
        _el(price, "cbc:PriceAmount", plain(line.price, 2), currencyID=self.currency)
        # PEPPOL-EN16931-R130: the base quantity counts in the invoiced quantity's unit.
        _el(price, "cbc:BaseQuantity", plain(line.base_quantity), unitCode=line.unit)


def _billing_reference(root: etree._Element, corrects: InvoiceReference) -> None:
    reference = _el(root, "cac:BillingReference")
    invoice = _el(reference, "cac:InvoiceDocumentReference")
    _el(invoice, "cbc:ID", corrects.number)
    _el(invoice, "cbc:IssueDate", corrects.issue_date.isoformat())


def _party(role: etree._Element, party: Party, show_vat_id: bool) -> None:
    """`cac:Party` in `PartyType` order, the enterprise number as identifier and legal ID."""
    node = _el(role, "cac:Party")
    _el(node, "cbc:EndpointID", party.endpoint_id, schemeID=party.endpoint_scheme)
    if party.enterprise_number:
        ident = _el(node, "cac:PartyIdentification")
        _el(ident, "cbc:ID", party.enterprise_number, schemeID=ENTERPRISE_SCHEME)
    name = _el(node, "cac:PartyName")
    _el(name, "cbc:Name", party.name)
    _address(_el(node, "cac:PostalAddress"), party.address)
    if party.vat_number and show_vat_id:
        tax = _el(node, "cac:PartyTaxScheme")
        _el(tax, "cbc:CompanyID", party.vat_number)
        _el(_el(tax, "cac:TaxScheme"), "cbc:ID", VAT_SCHEME)
    legal = _el(node, "cac:PartyLegalEntity")
    _el(legal, "cbc:RegistrationName", party.name)
    if party.enterprise_number:
        _el(legal, "cbc:CompanyID", party.enterprise_number, schemeID=ENTERPRISE_SCHEME)
    if party.email:
        _el(_el(node, "cac:Contact"), "cbc:ElectronicMail", party.email)


def _address(node: etree._Element, address: Address) -> None:
    # Empty elements are fatal in Peppol (PEPPOL-EN16931-R008): write only what is known.
    if address.street:
        _el(node, "cbc:StreetName", address.street)
    if address.city:
        _el(node, "cbc:CityName", address.city)
    if address.postcode:
        _el(node, "cbc:PostalZone", address.postcode)
    _el(_el(node, "cac:Country"), "cbc:IdentificationCode", address.country)


def _delivery(root: etree._Element, country: str) -> None:
    location = _el(_el(root, "cac:Delivery"), "cac:DeliveryLocation")
    _el(_el(_el(location, "cac:Address"), "cac:Country"), "cbc:IdentificationCode", country)


def _tax_category(parent: etree._Element, name: str, vat: VatRate, *, with_reason: bool) -> None:
    """`TaxCategoryType`: ID, Percent, exemption reason code and text, TaxScheme."""
    category = _el(parent, name)
    _el(category, "cbc:ID", vat.category.value)
    # BR-O-05/06: "not subject to VAT" carries no rate at all, not even zero.
    if vat.category is not VatCategory.NOT_SUBJECT:
        _el(category, "cbc:Percent", plain(vat.percent))
    # BR-S-10 and BR-Z-10 forbid a reason on taxed and zero-rated breakdowns.
    if with_reason and vat.category in NEEDS_REASON:
        if vat.exemption_code:
            _el(category, "cbc:TaxExemptionReasonCode", vat.exemption_code)
        if vat.exemption_reason:
            _el(category, "cbc:TaxExemptionReason", vat.exemption_reason)
    _el(_el(category, "cac:TaxScheme"), "cbc:ID", VAT_SCHEME)
