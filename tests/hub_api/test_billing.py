"""Billing over HTTP, end to end on SQLite and PostgreSQL: the price list, a month drafted,
issued, read back as UBL, PDF and the accountant's zip, corrected by credit notes; who may do
what; and issued invoices that no request can change.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pypdf import PdfReader
from sqlalchemy import select

from hub.api import billing
from hub.api.models import UserRole
from hub.billing.document import Document
from hub.billing.validation import fatal, not_applicable, rules
from hub.ledger.models import MachineSession
from tests.hub_api.conftest import Api
from tests.hub_billing import world as w

NOV = "2026-11"
NUMBERS = [f"F2026-{n:06d}" for n in range(1, 6)]  # four organisations and one private person
STRUCTURED = re.compile(r"^\+\+\+\d{3}/\d{4}/\d{5}\+\+\+$")


@pytest.fixture
def cooperative(api: Api) -> w.World:
    with api.sessions() as db:
        world = w.build(db)
        w.price_list(db)
        w.november(db, world)
    return world


@pytest.fixture
def accountant(api: Api) -> dict[str, str]:
    return api.as_role(UserRole.ACCOUNTANT)


@pytest.fixture
def manager(api: Api) -> dict[str, str]:
    return api.as_role(UserRole.MANAGER)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response


def run(api: Api, headers: dict[str, str], *, dry_run: bool = False) -> dict[str, Any]:
    body = {"month": NOV, "dry_run": dry_run}
    result: dict[str, Any] = ok(api.client.post("/billing/runs", json=body, headers=headers)).json()
    return result


def issue(api: Api, headers: dict[str, str]) -> list[str]:
    body = {"month": NOV, "issue_date": "2026-12-02"}
    numbers: list[str] = ok(api.client.post("/billing/issue", json=body, headers=headers)).json()[
        "numbers"
    ]
    return numbers


def documents(api: Api, headers: dict[str, str], query: str = f"month={NOV}") -> list[Any]:
    listed: list[Any] = ok(api.client.get(f"/billing/documents?{query}", headers=headers)).json()
    return listed


def ubl(api: Api, headers: dict[str, str], number: str) -> bytes:
    response = ok(api.client.get(f"/billing/documents/{number}/ubl", headers=headers))
    assert response.headers["content-type"] == "application/xml"
    data: bytes = response.content
    return data


def export(api: Api, headers: dict[str, str], what: str) -> zipfile.ZipFile:
    response = ok(api.client.get(f"/billing/exports/{what}", headers=headers))
    assert response.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def breaks_no_rule(xml: bytes, document: Document) -> None:
    failed = fatal(rules().check(xml), waive=not_applicable(document))
    assert not failed, [f"{f.rule}: {f.text}" for f in failed]


def test_a_new_price_closes_the_open_ended_one(
    api: Api, cooperative: w.World, manager: dict[str, str]
) -> None:
    printers = {
        "name": "Impression 3D 2027",
        "machine_kind": "printer_3d",
        "valid_from": "2027-01-01",
        "hourly_price": "2.50",
        "increment_s": 3600,
        "vat_percent": "6",
        "account": "700300",
    }
    added = ok(api.client.post("/billing/tariffs", json=printers, headers=manager), 201).json()
    assert (added["name"], added["valid_until"]) == ("Impression 3D 2027", None)
    listed = ok(api.client.get("/billing/tariffs", headers=manager)).json()
    until = {t["name"]: t["valid_until"] for t in listed}
    assert until["Impression 3D"] == "2027-01-01"  # the old price ends where the new begins
    assert until["Laser"] == "2026-11-15" and until["Laser 2026-11-15"] is None
    assert until["CNC"] is None

    backwards = {**printers, "name": "Rétro", "valid_until": "2026-12-01"}
    refused = api.client.post("/billing/tariffs", json=backwards, headers=manager)
    assert refused.status_code == 422
    messages = [error["msg"] for error in refused.json()["detail"]]
    assert any("valid_until must come after valid_from" in m for m in messages), messages
    ghost = {**printers, "name": "Fantôme", "machine_kind": None, "machine_id": "laser-9"}
    missing = api.client.post("/billing/tariffs", json=ghost, headers=manager)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no machine 'laser-9'"
    assert len(ok(api.client.get("/billing/tariffs", headers=manager)).json()) == len(listed)


def test_the_accountant_drafts_issues_and_takes_the_month_away(
    api: Api, cooperative: w.World, accountant: dict[str, str]
) -> None:
    preview = run(api, accountant, dry_run=True)
    assert preview["dry_run"] and len(preview["drafts"]) == 5
    assert preview["unmeasured_sessions"] == 1  # chloe's laser session reported no busy time
    assert documents(api, accountant) == []  # a dry run stores nothing

    drafted = run(api, accountant)
    assert drafted["total_payable"] == preview["total_payable"]
    drafts = documents(api, accountant)
    assert {d["status"] for d in drafts} == {"draft"} and len(drafts) == 5
    assert all(d["number"] is None for d in drafts)
    draft_pdf = ok(api.client.get(f"/billing/drafts/{drafts[0]['id']}/pdf", headers=accountant))
    assert draft_pdf.headers["content-type"] == "application/pdf"
    assert drafts[0]["buyer_name"] in pdf_text(draft_pdf.content)

    assert issue(api, accountant) == NUMBERS
    issued = documents(api, accountant)
    assert [(d["number"], d["status"]) for d in issued] == [(n, "issued") for n in NUMBERS]
    # A draft, once issued, is no draft any more.
    gone = api.client.get(f"/billing/drafts/{drafts[0]['id']}/pdf", headers=accountant)
    assert gone.status_code == 404

    for number in NUMBERS:
        detail = ok(api.client.get(f"/billing/documents/{number}", headers=accountant)).json()
        document = Document.model_validate(detail["document"])
        assert document.number == number and document.lines
        assert STRUCTURED.match(detail["structured_reference"])
        assert detail["structured_reference"] == document.payment.reference
        assert detail["due_date"] == "2027-01-01"  # 30 days after 2 December
        breaks_no_rule(ubl(api, accountant, number), document)
    pdf = ok(api.client.get(f"/billing/documents/{NUMBERS[0]}/pdf", headers=accountant))
    text = pdf_text(pdf.content)
    assert NUMBERS[0] in text and "Facture" in text


def test_the_accountants_zip_and_journals(
    api: Api, cooperative: w.World, accountant: dict[str, str]
) -> None:
    run(api, accountant)
    issue(api, accountant)
    archive = export(api, accountant, f"{NOV}.zip")
    names = set(archive.namelist())
    assert names == (
        {f"ubl/{n}.xml" for n in NUMBERS}
        | {f"pdf/{n}.pdf" for n in NUMBERS}
        | {"journal.csv", "documents.csv"}
    )
    for number in NUMBERS:
        assert archive.read(f"ubl/{number}.xml") == ubl(api, accountant, number)
        assert number in pdf_text(archive.read(f"pdf/{number}.pdf"))
    summary = csv.DictReader(io.StringIO(archive.read("documents.csv").decode()), delimiter=";")
    assert [r["number"] for r in summary] == NUMBERS
    journal = ok(api.client.get(f"/billing/journal/{NOV}.csv", headers=accountant))
    assert journal.headers["content-type"].startswith("text/csv")
    assert archive.read("journal.csv") == journal.content

    odoo = export(api, accountant, f"{NOV}.zip?preset=odoo")
    assert odoo.read("journal.csv").decode().startswith("journal_id,date,ref,")
    winbooks = ok(api.client.get(f"/billing/journal/{NOV}.csv?preset=winbooks", headers=accountant))
    assert winbooks.text.startswith("jnltype;jnl;number;renumber;")
    for path in (
        f"/billing/exports/{NOV}.zip?preset=sage",
        f"/billing/journal/{NOV}.csv?preset=sage",
    ):
        unknown = api.client.get(path, headers=accountant)
        assert unknown.status_code == 422
        assert "generic, odoo, winbooks" in unknown.json()["detail"]


def test_a_credit_note_corrects_a_line_once(
    api: Api, cooperative: w.World, accountant: dict[str, str]
) -> None:
    run(api, accountant)
    issue(api, accountant)
    ceramique = next(d for d in documents(api, accountant) if d["buyer_name"] == "Céramique & Cie")
    path = f"/billing/documents/{ceramique['number']}/credit-notes"
    body = {"lines": ["1"], "note": "Séance mal attribuée", "issue_date": "2026-12-03"}
    made = ok(api.client.post(path, json=body, headers=accountant), 201).json()
    assert made == {"numbers": ["NC2026-000001"]}
    again = api.client.post(path, json=body, headers=accountant)
    assert again.status_code == 409
    assert "already credited" in again.json()["detail"]

    note = ok(api.client.get("/billing/documents/NC2026-000001", headers=accountant)).json()
    assert (note["kind"], note["corrects"]) == ("credit_note", ceramique["number"])
    document = Document.model_validate(note["document"])
    assert [line.line_id for line in document.lines] == ["1"]
    breaks_no_rule(ubl(api, accountant, "NC2026-000001"), document)
    missing = api.client.post(
        "/billing/documents/F2026-999999/credit-notes", json={}, headers=accountant
    )
    assert missing.status_code == 404


def test_an_issued_invoice_cannot_be_changed_through_the_api(
    api: Api, cooperative: w.World, accountant: dict[str, str], manager: dict[str, str]
) -> None:
    run(api, accountant)
    issue(api, accountant)
    number = NUMBERS[0]
    before = ubl(api, accountant, number)
    detail = ok(api.client.get(f"/billing/documents/{number}", headers=accountant)).json()
    changed = {**detail, "payable": "0.00"}
    for method in ("PUT", "PATCH", "DELETE"):
        response = api.client.request(
            method, f"/billing/documents/{number}", json=changed, headers=accountant
        )
        assert response.status_code == 409, method
        assert "issue a credit note" in response.json()["detail"]
    assert ubl(api, accountant, number) == before
    after = ok(api.client.get(f"/billing/documents/{number}", headers=accountant)).json()
    assert after == detail
    unknown = api.client.delete("/billing/documents/F2026-999999", headers=accountant)
    assert unknown.status_code == 404
    # Nor can the prices of an invoiced month change under it.
    late = {"name": "Laser rétroactif", "valid_from": "2026-11-20", "hourly_price": "1.00"}
    refused = api.client.post("/billing/tariffs", json=late, headers=manager)
    assert refused.status_code == 409
    assert "invoiced" in refused.json()["detail"]
    # Running the month again finds nothing left to bill, and leaves the invoice alone.
    assert run(api, accountant)["drafts"] == []
    assert ubl(api, accountant, number) == before


def test_issuing_wants_drafts_that_still_match_the_usage(
    api: Api, cooperative: w.World, accountant: dict[str, str]
) -> None:
    body = {"month": NOV, "issue_date": "2026-12-02"}
    nothing = api.client.post("/billing/issue", json=body, headers=accountant)
    assert nothing.status_code == 404
    assert "run the month first" in nothing.json()["detail"]

    run(api, accountant)
    with api.sessions() as db:
        # One of Bruno's: his workshop has other paid use, so it still gets an invoice.
        first = db.scalars(
            select(MachineSession.session_id).where(
                MachineSession.member_id == cooperative.ref("bruno")
            )
        ).first()
    manager = api.as_role(UserRole.MANAGER)
    tagged = api.client.put(
        f"/billing/sessions/{first}/reason", json={"reason": "training"}, headers=manager
    )
    assert tagged.status_code == 204, tagged.text
    outgrown = api.client.post("/billing/issue", json=body, headers=accountant)
    assert outgrown.status_code == 409
    assert "run the month again" in outgrown.json()["detail"]
    assert documents(api, accountant, "status=issued") == []
    untagged = api.client.put(
        f"/billing/sessions/{first}/reason", json={"reason": None}, headers=manager
    )
    assert untagged.status_code == 204, untagged.text

    run(api, accountant)
    with api.sessions() as db:  # a session the edge delivered after the review: next month's
        late = datetime(2026, 11, 20, 10, tzinfo=UTC)
        w.session(db, cooperative, "chloe", "printer-1", late, minutes=60)
    assert issue(api, accountant) == NUMBERS


def test_months_must_look_like_months(api: Api, accountant: dict[str, str]) -> None:
    for month in ("2026-13", "novembre", "2026-1"):
        runs = api.client.post("/billing/runs", json={"month": month}, headers=accountant)
        assert runs.status_code == 422, month
        listed = api.client.get(f"/billing/documents?month={month}", headers=accountant)
        assert listed.status_code == 422, month


def billing_requests() -> list[tuple[str, str]]:
    """Every route of the billing router, as (method, path) with its parameters filled in."""
    values = {
        "number": NUMBERS[0],
        "draft_id": 1,
        "month": NOV,
        "session_id": uuid.uuid4(),
    }
    found = [
        (method, route.path.format(**values))
        for route in billing.router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods or ())
    ]
    assert len(found) >= 18  # the routes of the billing router, hidden ones included
    return found


ACCOUNTANT_ONLY = {
    ("POST", "/billing/issue"),
    ("POST", f"/billing/documents/{NUMBERS[0]}/credit-notes"),
}


def test_who_may_bill(api: Api, cooperative: w.World, manager: dict[str, str]) -> None:
    member = api.as_role(UserRole.MEMBER, member_id=cooperative.members["alice"])
    maintainer = api.as_role(UserRole.MAINTAINER)
    for method, path in billing_requests():
        for who, headers in (("member", member), ("maintainer", maintainer)):
            response = api.client.request(method, path, json={}, headers=headers)
            assert response.status_code == 403, (who, method, path)
        anonymous = api.client.request(method, path, json={})
        assert anonymous.status_code == 401, (method, path)
        if (method, path) in ACCOUNTANT_ONLY:
            refused = api.client.request(method, path, json={"month": NOV}, headers=manager)
            assert refused.status_code == 403, (method, path)
    # Managers keep the price list and may preview a run, though not issue it.
    preview = run(api, manager, dry_run=True)
    assert len(preview["drafts"]) == 5
    assert documents(api, manager) == []
