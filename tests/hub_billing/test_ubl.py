"""The Peppol e-invoice: every scenario passes the official rules and the UBL 2.1 element order,
and the XML says exactly what the document's own arithmetic says."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.billing.document import Allowance, Document, Line
from hub.billing.ubl import to_ubl
from hub.billing.validation import (
    OFF_NETWORK,
    RULES_DIR,
    RULES_VERSION,
    Finding,
    PeppolRules,
    fatal,
    not_applicable,
    rules,
)
from hub.errors import HubError, Invalid
from tests.hub_billing import scenarios
from tests.hub_billing.builders import S6, S12, S21
from tests.hub_billing.ubl_order import order_problems

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
EXAMPLES = sorted(RULES_DIR.glob("*.xml"))
SCENARIO_NAMES = sorted(scenarios.SCENARIOS)


@pytest.fixture(scope="module")
def peppol() -> Iterator[PeppolRules]:
    """The process-wide rules, compiled once for the whole module."""
    shared = rules()
    shared.warm()
    yield shared


def _tree(doc: Document) -> etree._Element:
    return etree.fromstring(to_ubl(doc))


def _text(root: etree._Element, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None, f"{path} missing"
    return found.text or ""


def _attr(root: etree._Element, path: str, name: str) -> str | None:
    found = root.find(path, NS)
    assert found is not None, f"{path} missing"
    return found.get(name)


def _rejections(doc: Document, peppol: PeppolRules) -> list[Finding]:
    return fatal(peppol.check(to_ubl(doc)), waive=not_applicable(doc))


def _report(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)


# --- the official rules --------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_scenario_passes_the_official_rules(name: str, peppol: PeppolRules) -> None:
    rejections = _rejections(scenarios.build(name), peppol)
    assert rejections == [], _report(rejections)


def test_an_e_mail_address_is_valid_en16931_but_not_routable_on_peppol(
    peppol: PeppolRules,
) -> None:
    member = scenarios.build("private_member")
    findings = fatal(peppol.check(to_ubl(member)))
    assert [f.rule for f in findings] == ["PEPPOL-EN16931-CL008"], _report(findings)
    assert not_applicable(member) == OFF_NETWORK
    assert not_applicable(scenarios.build("machine_month")) == frozenset()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_official_examples_pass_the_vendored_rules(example: Path, peppol: PeppolRules) -> None:
    findings = fatal(peppol.check(example.read_bytes()))
    assert findings == [], _report(findings)


def test_a_wrong_payable_amount_is_rejected_by_br_co_16(peppol: PeppolRules) -> None:
    root = _tree(scenarios.build("machine_month"))
    payable = root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS)
    assert payable is not None
    payable.text = str(Decimal(payable.text or "0") + Decimal("0.01"))
    rejected = {f.rule for f in fatal(peppol.check(etree.tostring(root)))}
    assert rejected == {"BR-CO-16"}


def test_a_bad_enterprise_number_check_digit_is_rejected(peppol: PeppolRules) -> None:
    root = _tree(scenarios.build("machine_month"))
    endpoint = root.find("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID", NS)
    assert endpoint is not None and endpoint.text == "0403170701"
    endpoint.text = "0403170702"
    findings = fatal(peppol.check(etree.tostring(root)))
    assert [f.rule for f in findings] == ["PEPPOL-COMMON-R043"]
    assert "EndpointID" in findings[0].location


def test_findings_carry_the_rule_text_and_warnings_are_not_rejections(
    peppol: PeppolRules,
) -> None:
    root = _tree(scenarios.build("machine_month"))
    # UBL-CR-412 only advises: an invoice should not repeat the due date in its payment means.
    means_code = root.find("cac:PaymentMeans/cbc:PaymentMeansCode", NS)
    assert means_code is not None
    due = etree.Element(f"{{{NS['cbc']}}}PaymentDueDate")
    due.text = "2026-05-03"
    means_code.addnext(due)
    findings = peppol.check(etree.tostring(root))
    assert [(f.rule, f.flag) for f in findings] == [("UBL-CR-412", "warning")]
    assert "PaymentDueDate" in findings[0].text
    assert fatal(findings) == []


def test_what_is_not_xml_is_invalid(peppol: PeppolRules) -> None:
    with pytest.raises(Invalid):
        peppol.check(b"<Invoice><cbc:ID>")
    with pytest.raises(Invalid):
        peppol.check("<Invoice/>".encode("utf-16"))


def test_a_document_cannot_make_the_validator_read_files(peppol: PeppolRules) -> None:
    sneaky = (
        b'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
        b"<Invoice>&e;</Invoice>"
    )
    with pytest.raises(Invalid, match="prohibited"):
        peppol.check(sneaky)


def test_threads_share_one_validator(peppol: PeppolRules) -> None:
    xml = to_ubl(scenarios.build("monthly_cap"))
    results: list[list[Finding]] = []

    def work() -> None:
        for _ in range(3):
            results.append(peppol.check(xml))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[]] * 12


def test_missing_rules_are_a_broken_installation(tmp_path: Path) -> None:
    broken = PeppolRules(tmp_path)
    with pytest.raises(HubError, match="unusable") as caught:
        broken.check(to_ubl(scenarios.build("machine_month")))
    assert not isinstance(caught.value, Invalid)


def test_the_rules_version_is_the_vendored_release() -> None:
    readme = (RULES_DIR / "README.md").read_text()
    assert RULES_VERSION in readme
    assert {p.name for p in RULES_DIR.glob("*.xslt")} == {
        "CEN-EN16931-UBL.xslt",
        "PEPPOL-EN16931-UBL.xslt",
    }


# --- the UBL 2.1 element order -------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_scenario_follows_the_ubl_element_order(name: str) -> None:
    problems = order_problems(_tree(scenarios.build(name)))
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_official_examples_follow_the_order_table(example: Path) -> None:
    assert order_problems(etree.parse(str(example)).getroot()) == []


def _swap(first: etree._Element, second: etree._Element) -> None:
    parent = first.getparent()
    assert parent is not None and second.getparent() is parent
    i, j = parent.index(first), parent.index(second)
    parent.remove(second)
    parent.insert(i, second)
    parent.remove(first)
    parent.insert(j, first)


@pytest.mark.parametrize(
    ("first", "second", "complaint"),
    [
        ("cbc:IssueDate", "cbc:InvoiceTypeCode", "cbc:IssueDate: comes after"),
        ("cac:AccountingSupplierParty", "cac:AccountingCustomerParty", "comes after"),
        ("cac:TaxTotal", "cac:LegalMonetaryTotal", "cac:TaxTotal: comes after"),
        (
            "cac:InvoiceLine/cac:Price/cbc:PriceAmount",
            "cac:InvoiceLine/cac:Price/cbc:BaseQuantity",
            "Price/cbc:PriceAmount: comes after cbc:BaseQuantity",
        ),
    ],
)
def test_the_order_check_catches_a_swap(first: str, second: str, complaint: str) -> None:
    root = _tree(scenarios.build("machine_month"))
    a, b = root.find(first, NS), root.find(second, NS)
    assert a is not None and b is not None
    _swap(a, b)
    problems = order_problems(root)
    assert any(complaint in p for p in problems), problems


def test_the_order_check_refuses_what_it_does_not_know() -> None:
    root = _tree(scenarios.build("machine_month"))
    party = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    assert party is not None
    etree.SubElement(party, f"{{{NS['cac']}}}Shipment")
    etree.SubElement(root, f"{{{NS['cac']}}}Signature")
    problems = order_problems(root)
    assert any("Party/cac:Shipment: not allowed in PartyType" in p for p in problems)
    assert any("no UBL sequence known for Signature" in p for p in problems)


# --- what the XML says ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_the_xml_totals_are_the_document_totals(name: str) -> None:
    doc = scenarios.build(name)
    root = _tree(doc)
    totals = doc.totals()

    def amount(path: str) -> Decimal:
        return Decimal(_text(root, path))

    assert amount("cac:LegalMonetaryTotal/cbc:LineExtensionAmount") == totals.lines
    assert amount("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount") == totals.tax_exclusive
    assert amount("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount") == totals.tax_inclusive
    assert amount("cac:LegalMonetaryTotal/cbc:PayableAmount") == totals.payable
    assert amount("cac:TaxTotal/cbc:TaxAmount") == totals.tax
    breakdown = [
        (
            _text(sub, "cac:TaxCategory/cbc:ID"),
            Decimal(_text(sub, "cbc:TaxableAmount")),
            Decimal(_text(sub, "cbc:TaxAmount")),
        )
        for sub in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", NS)
    ]
    assert breakdown == [(s.vat.category.value, s.taxable, s.tax) for s in doc.vat_breakdown()]
    line_tag = "cac:CreditNoteLine" if doc.kind == "credit_note" else "cac:InvoiceLine"
    line_amounts = [
        Decimal(_text(line, "cbc:LineExtensionAmount")) for line in root.iterfind(line_tag, NS)
    ]
    assert line_amounts == [line.amount for line in doc.lines]


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_amount_has_two_decimals_in_euro(name: str) -> None:
    root = _tree(scenarios.build(name))
    for element in root.iter():
        currency = element.get("currencyID")
        if currency is None:
            continue
        assert currency == "EUR"
        if etree.QName(element).localname != "PriceAmount":
            whole, _, cents = (element.text or "").partition(".")
            assert whole.lstrip("-").isdigit() and len(cents) == 2, element.text


def test_a_machine_month_reads_as_the_woodworker_expects() -> None:
    root = _tree(scenarios.build("machine_month"))
    assert etree.QName(root).localname == "Invoice"
    assert _text(root, "cbc:InvoiceTypeCode") == "380"
    assert _text(root, "cbc:DueDate") == "2026-05-03"
    assert _text(root, "cbc:BuyerReference") == "org-0007"
    assert _text(root, "cac:InvoicePeriod/cbc:StartDate") == "2026-03-01"
    assert _text(root, "cac:InvoicePeriod/cbc:EndDate") == "2026-03-31"
    means = "cac:PaymentMeans"
    assert _text(root, f"{means}/cbc:PaymentID") == "+++202/6000/00192+++"
    assert _text(root, f"{means}/cac:PayeeFinancialAccount/cbc:ID") == "BE68539007547034"
    bic = f"{means}/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"
    assert _text(root, bic) == "GKCCBEBB"
    lines = root.findall("cac:InvoiceLine", NS)
    quantities = [
        (_text(line, "cbc:InvoicedQuantity"), _attr(line, "cbc:InvoicedQuantity", "unitCode"))
        for line in lines
    ]
    assert quantities == [
        ("240", "MIN"),
        ("3.5", "HUR"),
        ("12", "C62"),
        ("37.4", "KWH"),
        ("120", "MIN"),
    ]
    prices = [
        (_text(line, "cac:Price/cbc:PriceAmount"), _text(line, "cac:Price/cbc:BaseQuantity"))
        for line in lines
    ]
    assert prices == [("30.00", "60"), ("40.00", "1"), ("2.50", "1"), ("0.35", "1"), ("0.00", "60")]
    supplier = "cac:AccountingSupplierParty/cac:Party"
    assert _attr(root, f"{supplier}/cbc:EndpointID", "schemeID") == "0208"
    assert _text(root, f"{supplier}/cac:PartyTaxScheme/cbc:CompanyID") == "BE0403170701"
    assert _text(root, f"{supplier}/cac:PartyLegalEntity/cbc:CompanyID") == "0403170701"


def test_95_minutes_at_25_an_hour_is_39_58() -> None:
    root = _tree(scenarios.build("rounded_line"))
    line = root.find("cac:InvoiceLine", NS)
    assert line is not None
    assert _text(line, "cbc:InvoicedQuantity") == "95"
    assert _text(line, "cbc:LineExtensionAmount") == "39.58"
    assert _text(line, "cac:Price/cbc:PriceAmount") == "25.00"
    assert _text(line, "cac:Price/cbc:BaseQuantity") == "60"


def test_a_credit_note_is_a_creditnote_pointing_at_its_invoice() -> None:
    root = _tree(scenarios.build("credit_note"))
    assert etree.QName(root) == etree.QName(NS["cn"], "CreditNote")
    assert _text(root, "cbc:CreditNoteTypeCode") == "381"
    reference = "cac:BillingReference/cac:InvoiceDocumentReference"
    assert _text(root, f"{reference}/cbc:ID") == "F2026-000001"
    assert _text(root, f"{reference}/cbc:IssueDate") == "2026-04-03"
    # UBL 2.1 CreditNote has no DueDate: the due date travels with the payment means.
    assert root.find("cbc:DueDate", NS) is None
    assert _text(root, "cac:PaymentMeans/cbc:PaymentDueDate") == "2026-05-10"
    assert root.find("cac:InvoiceLine", NS) is None
    assert _text(root, "cac:CreditNoteLine/cbc:CreditedQuantity") == "60"


def test_the_cap_is_an_allowance_at_the_capped_rate() -> None:
    root = _tree(scenarios.build("monthly_cap"))
    charge = root.find("cac:AllowanceCharge", NS)
    assert charge is not None
    assert _text(charge, "cbc:ChargeIndicator") == "false"
    assert _text(charge, "cbc:Amount") == "100.00"
    assert _text(charge, "cac:TaxCategory/cbc:ID") == "S"
    assert _text(charge, "cac:TaxCategory/cbc:Percent") == "21"
    assert _text(root, "cac:LegalMonetaryTotal/cbc:AllowanceTotalAmount") == "100.00"
    assert _text(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount") == "400.00"


def test_only_a_prepaid_balance_shows_a_prepaid_amount() -> None:
    prepaid = _tree(scenarios.build("prepaid_balance"))
    assert _text(prepaid, "cac:LegalMonetaryTotal/cbc:PrepaidAmount") == "50.00"
    assert _text(prepaid, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "58.90"
    plain = _tree(scenarios.build("machine_month"))
    assert plain.find("cac:LegalMonetaryTotal/cbc:PrepaidAmount", NS) is None
    assert plain.find("cac:LegalMonetaryTotal/cbc:AllowanceTotalAmount", NS) is None


def test_the_exemption_reason_is_stated_once_in_the_vat_breakdown() -> None:
    root = _tree(scenarios.build("exempt_training"))
    exempt = root.find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory[cbc:ID='E']", NS)
    assert exempt is not None
    assert _text(exempt, "cbc:TaxExemptionReasonCode") == "VATEX-EU-132"
    assert "article 44" in _text(exempt, "cbc:TaxExemptionReason")
    assert root.find(".//cac:ClassifiedTaxCategory/cbc:TaxExemptionReason", NS) is None
    assert root.find(".//cac:AllowanceCharge/cac:TaxCategory/cbc:TaxExemptionReason", NS) is None


def test_reverse_charge_names_both_vat_numbers() -> None:
    root = _tree(scenarios.build("reverse_charge"))
    for role in ("cac:AccountingSupplierParty", "cac:AccountingCustomerParty"):
        assert _text(root, f"{role}/cac:Party/cac:PartyTaxScheme/cbc:CompanyID").startswith("BE")
    assert _text(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID") == "AE"
    assert _text(root, "cac:TaxTotal/cbc:TaxAmount") == "0.00"


def test_a_private_member_is_addressed_by_e_mail_without_company_identifiers() -> None:
    party = _tree(scenarios.build("private_member")).find(
        "cac:AccountingCustomerParty/cac:Party", NS
    )
    assert party is not None
    endpoint = party.find("cbc:EndpointID", NS)
    assert endpoint is not None
    assert (endpoint.get("schemeID"), endpoint.text) == ("EM", "marie.dupont@example.org")
    for absent in (
        "cac:PartyIdentification",
        "cac:PartyTaxScheme",
        "cac:PartyLegalEntity/cbc:CompanyID",
    ):
        assert party.find(absent, NS) is None
    assert _text(party, "cac:PartyLegalEntity/cbc:RegistrationName") == "Marie Dupont"


def test_not_subject_to_vat_names_no_vat_identifier_and_no_rate() -> None:
    root = _tree(scenarios.build("not_subject"))
    assert root.find(".//cac:PartyTaxScheme", NS) is None
    assert root.find(".//cac:ClassifiedTaxCategory/cbc:Percent", NS) is None
    assert root.find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent", NS) is None


def test_an_intra_community_supply_states_where_it_is_delivered() -> None:
    root = _tree(scenarios.build("intra_community"))
    assert (
        _text(
            root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode"
        )
        == "FR"
    )
    assert _tree(scenarios.build("machine_month")).find("cac:Delivery", NS) is None


def test_the_same_document_gives_the_same_bytes() -> None:
    first = to_ubl(scenarios.build("machine_month"))
    assert to_ubl(scenarios.build("machine_month")) == first
    assert first.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Invoice ')
    assert "Liège".encode() in first


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda doc: doc.model_copy(update={"number": None}), id="no number"),
        pytest.param(lambda doc: doc.model_copy(update={"issue_date": None}), id="no issue date"),
        pytest.param(
            lambda doc: doc.model_copy(update={"prepaid": Decimal("0.005")}), id="half a cent"
        ),
    ],
)
def test_a_document_that_cannot_be_issued_is_refused(
    change: Callable[[Document], Document],
) -> None:
    with pytest.raises(Invalid):
        to_ubl(change(scenarios.build("machine_month")))


# --- any month the pricing can produce -----------------------------------------------------

RATES = [
    S21,
    S12,
    S6,
    scenarios.EXEMPT,
    scenarios.ZERO_RATED,
]
UNITS = [("MIN", Decimal(60)), ("MIN", Decimal(1)), ("HUR", Decimal(1)), ("C62", Decimal(1))]


@st.composite
def _lines(draw: st.DrawFn) -> tuple[Line, ...]:
    count = draw(st.integers(min_value=1, max_value=6))
    lines = []
    for number in range(1, count + 1):
        unit, base = draw(st.sampled_from(UNITS))
        lines.append(
            Line(
                line_id=str(number),
                name=f"Machine {number}",
                quantity=Decimal(draw(st.integers(min_value=0, max_value=50_000))) / 10,
                unit=unit,
                price=Decimal(draw(st.integers(min_value=0, max_value=2_000_000))) / 10_000,
                base_quantity=base,
                vat=draw(st.sampled_from(RATES)),
            )
        )
    return tuple(lines)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=_lines(), cap_share=st.integers(min_value=0, max_value=100))
def test_any_month_passes_the_official_rules(
    peppol: PeppolRules, lines: tuple[Line, ...], cap_share: int
) -> None:
    taxed = sum((line.amount for line in lines if line.vat == S21), Decimal(0))
    cap = (taxed * cap_share / 100).quantize(Decimal("0.01"))
    allowances = (
        (Allowance(reason="Plafond mensuel atteint", amount=cap, vat=S21),) if cap > 0 else ()
    )
    doc = scenarios.build("machine_month").model_copy(
        update={"lines": lines, "allowances": allowances}
    )
    rejections = fatal(peppol.check(to_ubl(doc)))
    assert rejections == [], _report(rejections)
