"""The billing pages: the accountant prepares a month, issues it, takes the zip away and corrects
an invoice with a credit note; a manager prepares and looks; nobody else gets in. On SQLite and
PostgreSQL where the database matters.
"""

from __future__ import annotations

import io
import re
import zipfile

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.api.models import UserRole
from hub.billing.models import BillingDocument, DocumentStatus
from hub.console import audit, text_billing
from hub.ledger.models import MachineSession
from tests.console.pages import browser, csrf_of, logged_in
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api
from tests.hub_billing import world as w

api = hub_api.api  # the API over a migrated database, as a fixture of this module
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

NOV = "2026-11"
MONTH_PAGE = f"/console/billing/{NOV}"
NUMBERS = [f"F2026-{n:06d}" for n in range(1, 6)]  # four organisations and one private person
ISSUE_FIELDS = re.compile(
    r'name="count" value="(\d+)">\s*<input type="hidden" name="payable" '
    r'value="([0-9.]+)"'
)


@pytest.fixture
def cooperative(api: Api) -> w.World:
    api.now = w.NOW  # 2 December 2026: November is the month to bill
    with api.sessions() as db:
        world = w.build(db)
        w.price_list(db)
        w.november(db, world)
    api.add_user("compta", UserRole.ACCOUNTANT)
    api.add_user("gerante", UserRole.MANAGER)
    return world


@pytest.fixture
def accountant(api: Api, cooperative: w.World) -> TestClient:
    return logged_in(api, "compta")


@pytest.fixture
def manager(api: Api, cooperative: w.World) -> TestClient:
    return logged_in(api, "gerante")


def shows_words(page: httpx.Response) -> str:
    """The page's HTML, once sure it shows no message id instead of a word."""
    raw = [
        key for key in text_billing.FR if re.search(rf"[>\s\"]{re.escape(key)}[<\s\"]", page.text)
    ]
    assert not raw, f"{page.url} shows message ids: {raw}"
    assert page.text.count("<h1") == 1
    return page.text


def prepare(client: TestClient, month: str = NOV) -> httpx.Response:
    form = client.get("/console/billing")
    response: httpx.Response = client.post(
        "/console/billing/run", data={"csrf": csrf_of(form), "month": month}
    )
    return response


def issue(client: TestClient, page: httpx.Response | None = None) -> httpx.Response:
    """Press the issue button of the month page, with what the page showed."""
    page = page or client.get(MONTH_PAGE)
    found = ISSUE_FIELDS.search(page.text)
    assert found, "no issue button on the month page"
    count, payable = found.groups()
    body = {"csrf": csrf_of(page), "count": count, "payable": payable}
    response: httpx.Response = client.post(f"{MONTH_PAGE}/issue", data=body)
    return response


def stored(api: Api, status: DocumentStatus) -> list[str]:
    with api.sessions() as db:
        rows = db.scalars(select(BillingDocument).where(BillingDocument.status == status))
        return sorted(r.number or r.buyer for r in rows)


def actions(api: Api) -> list[tuple[str, str, str]]:
    with api.sessions() as db:
        return [(e.username, e.action, e.target) for e in reversed(audit.entries(db))]


def test_the_accountant_prepares_issues_and_takes_the_month_away(
    api: Api, accountant: TestClient
) -> None:
    index = accountant.get("/console/billing")
    assert index.status_code == 200
    assert '<option value="2026-11" selected>novembre 2026</option>' in shows_words(index)
    assert "Aucun mois n&#39;a encore été préparé." in index.text

    prepared = prepare(accountant)
    assert prepared.status_code == 303
    assert prepared.headers["location"] == f"{MONTH_PAGE}?done=run"
    page = accountant.get(prepared.headers["location"])
    text = shows_words(page)
    assert "Le mois est préparé" in text
    assert text.count('<tr data-buyer="') == 5
    assert "Atelier Bois SRL" in text and "Nordic Design AB" in text
    button = re.search(r'<button type="submit" data-action="issue"[^>]*>(.*?)</button>', text)
    assert button and button.group(1).startswith("Émettre <span")
    assert "5 facture(s)" in button.group(1)
    draft_link = re.search(r'href="(/console/billing/drafts/\d+/pdf)"', text)
    assert draft_link
    preview = accountant.get(draft_link.group(1))
    assert preview.headers["content-type"] == "application/pdf"
    assert preview.content.startswith(b"%PDF")

    issued = issue(accountant, page)
    assert issued.status_code == 303 and issued.headers["location"] == f"{MONTH_PAGE}?done=issue"
    assert stored(api, DocumentStatus.ISSUED) == NUMBERS
    month = shows_words(accountant.get(issued.headers["location"]))
    assert "Les factures du mois sont émises." in month
    assert [n for n in NUMBERS if f'<tr data-number="{n}">' in month] == NUMBERS
    assert "Aucun brouillon pour ce mois." in month
    ubl = accountant.get(f"/console/billing/documents/{NUMBERS[0]}/ubl")
    assert ubl.headers["content-type"] == "application/xml" and b"<Invoice" in ubl.content
    pdf = accountant.get(f"/console/billing/documents/{NUMBERS[0]}/pdf")
    assert pdf.content.startswith(b"%PDF")

    link = re.search(
        r'<a href="([^"]+)" data-download="zip" download>Télécharger le zip</a>', month
    )
    assert link
    archive = zipfile.ZipFile(io.BytesIO(accountant.get(link.group(1)).content))
    assert set(archive.namelist()) == (
        {f"ubl/{n}.xml" for n in NUMBERS}
        | {f"pdf/{n}.pdf" for n in NUMBERS}
        | {"journal.csv", "documents.csv"}
    )
    assert archive.read(f"ubl/{NUMBERS[0]}.xml") == ubl.content
    journal = accountant.get(f"{MONTH_PAGE}/journal.csv", params={"preset": "winbooks"})
    assert journal.headers["content-type"].startswith("text/csv")
    assert journal.text.startswith("jnltype;jnl;number;renumber;")
    odoo = accountant.get(f"{MONTH_PAGE}/export.zip", params={"preset": "odoo"})
    odoo_zip = zipfile.ZipFile(io.BytesIO(odoo.content))
    assert odoo_zip.read("journal.csv").decode().startswith("journal_id,date,ref,")

    index = shows_words(accountant.get("/console/billing"))
    assert '<tr data-month="2026-11">' in index and "Émis" in index
    assert actions(api)[1:] == [
        ("compta", "billing.run", NOV),
        ("compta", "billing.issue", NOV),
        ("compta", "billing.export", NOV),
        ("compta", "billing.export", NOV),
        ("compta", "billing.export", NOV),
    ]


@sqlite_only
def test_a_manager_prepares_and_looks_but_may_not_issue_nor_credit(
    api: Api, manager: TestClient, accountant: TestClient
) -> None:
    assert prepare(manager).status_code == 303
    page = manager.get(MONTH_PAGE)
    text = shows_words(page)
    assert 'data-action="issue"' not in text
    assert "Seul·e un·e comptable peut émettre les factures." in text
    refused = manager.post(
        f"{MONTH_PAGE}/issue", data={"csrf": csrf_of(page), "count": "5", "payable": "0"}
    )
    assert refused.status_code == 403 and "Accès refusé" in refused.text
    assert stored(api, DocumentStatus.ISSUED) == []

    assert issue(accountant).status_code == 303
    invoice = manager.get(f"/console/billing/documents/{NUMBERS[0]}")
    assert "Seul·e un·e comptable peut émettre une note de crédit." in shows_words(invoice)
    credit = manager.post(
        f"/console/billing/documents/{NUMBERS[0]}/credit-note",
        data={"csrf": csrf_of(invoice), "scope": "whole"},
    )
    assert credit.status_code == 403
    assert stored(api, DocumentStatus.ISSUED) == NUMBERS
    assert manager.get(f"{MONTH_PAGE}/export.zip").status_code == 200
    assert ("gerante", "billing.export", NOV) in actions(api)


@sqlite_only
@pytest.mark.parametrize("role", [UserRole.MEMBER, UserRole.MAINTAINER])
def test_members_and_maintainers_get_the_refusal_page(
    api: Api, cooperative: w.World, role: UserRole
) -> None:
    member_id = cooperative.members["alice"] if role is UserRole.MEMBER else None
    api.add_user("someone", role, member_id=member_id)
    client = logged_in(api, "someone")
    board = client.get("/console/")
    assert 'href="/console/billing"' not in board.text
    for path in ("/console/billing", MONTH_PAGE, f"{MONTH_PAGE}/export.zip"):
        page = client.get(path)
        assert page.status_code == 403 and "<h1>Accès refusé</h1>" in page.text, path
    token = csrf_of(client.get("/console/me" if role is UserRole.MEMBER else "/console/"))
    sent = client.post("/console/billing/run", data={"csrf": token, "month": NOV})
    assert sent.status_code == 403
    assert stored(api, DocumentStatus.DRAFT) == []
    anonymous = browser(api).get(MONTH_PAGE)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/console/login?next=/console/billing/2026-11"


@sqlite_only
def test_the_menu_leads_accountants_and_managers_to_billing(
    manager: TestClient, accountant: TestClient
) -> None:
    for client in (manager, accountant):
        assert '<a href="/console/billing">Facturation</a>' in client.get("/console/").text


@sqlite_only
def test_forms_without_the_session_token_change_nothing(api: Api, accountant: TestClient) -> None:
    refused = accountant.post("/console/billing/run", data={"month": NOV})
    assert refused.status_code == 403 and "Formulaire refusé" in refused.text
    assert stored(api, DocumentStatus.DRAFT) == []
    prepare(accountant)
    forged = accountant.post(f"{MONTH_PAGE}/issue", data={"csrf": "x", "count": "5"})
    assert forged.status_code == 403
    assert stored(api, DocumentStatus.ISSUED) == []


def test_issuing_refuses_drafts_that_changed_since_they_were_shown(
    api: Api, cooperative: w.World, accountant: TestClient, manager: TestClient
) -> None:
    prepare(accountant)
    shown = accountant.get(MONTH_PAGE)
    with api.sessions() as db:  # the edge delivers a late November session meanwhile
        w.session(db, cooperative, "eva", "mill-1", w.NOW.replace(month=11, day=20), minutes=90)
    prepare(manager)
    changed = issue(accountant, shown)
    assert changed.status_code == 409
    assert "Les brouillons ont changé depuis l&#39;affichage" in shows_words(changed)
    assert stored(api, DocumentStatus.ISSUED) == []

    with api.sessions() as db:
        first = db.scalars(
            select(MachineSession.session_id).where(
                MachineSession.member_id == cooperative.ref("bruno")
            )
        ).first()
    tagged = api.client.put(
        f"/billing/sessions/{first}/reason",
        json={"reason": "training"},
        headers=api.headers("gerante"),
    )
    assert tagged.status_code == 204, tagged.text
    page = accountant.get(MONTH_PAGE)
    assert "préparez le mois à nouveau avant d&#39;émettre" in shows_words(page)
    stale = issue(accountant, page)
    assert stale.status_code == 409
    text = shows_words(stale)
    assert '<p class="error" role="alert" id="billing-error">Les tarifs, forfaits' in text
    assert 'lang="en"' not in text.split('id="billing-error"')[1].split("</p>")[0]
    assert stored(api, DocumentStatus.ISSUED) == []
    assert [a for _, a, _ in actions(api) if a == "billing.issue"] == []


@sqlite_only
def test_issuing_a_month_never_prepared_says_so(api: Api, accountant: TestClient) -> None:
    page = accountant.get(MONTH_PAGE)
    assert 'data-action="issue"' not in shows_words(page)
    sent = accountant.post(
        f"{MONTH_PAGE}/issue", data={"csrf": csrf_of(page), "count": "0", "payable": "0.00"}
    )
    assert sent.status_code == 404
    assert "Ce mois n&#39;a pas de brouillons : préparez-le d&#39;abord." in shows_words(sent)
    assert [a for _, a, _ in actions(api) if a == "billing.issue"] == []


def test_a_credit_note_corrects_chosen_lines_once(api: Api, accountant: TestClient) -> None:
    prepare(accountant)
    issue(accountant)
    month = accountant.get(MONTH_PAGE).text
    ceramique = re.search(r'<tr data-number="(F2026-\d+)">(?:(?!</tr>).)*Céramique', month, re.S)
    assert ceramique
    number = ceramique.group(1)
    path = f"/console/billing/documents/{number}"
    page = accountant.get(path)
    text = shows_words(page)
    assert "Aucune note de crédit pour cette facture." in text
    assert '<input type="checkbox" id="line-1" name="lines" value="1">' in text

    nothing = accountant.post(f"{path}/credit-note", data={"csrf": csrf_of(page), "scope": "lines"})
    assert nothing.status_code == 422
    assert "Cochez au moins une ligne" in shows_words(nothing)
    body = {"csrf": csrf_of(page), "scope": "lines", "lines": ["1"], "note": "Séance mal attribuée"}
    made = accountant.post(f"{path}/credit-note", data=body)
    assert made.status_code == 303 and made.headers["location"] == f"{path}?done=credit"
    after = shows_words(accountant.get(made.headers["location"]))
    assert "La note de crédit est émise." in after
    assert '<li data-number="NC2026-000001">' in after
    assert 'id="line-1"' not in after and "(déjà créditée)" in after
    assert 'name="scope" value="lines"' in after  # the rest can only be credited line by line

    unknown = accountant.post(f"{path}/credit-note", data=body | {"lines": ["1", "99"]})
    assert unknown.status_code == 422
    assert "Cette facture n&#39;a pas de ligne 99." in shows_words(unknown)
    again = accountant.post(f"{path}/credit-note", data=body)
    assert again.status_code == 409
    assert "Une partie de ces lignes est déjà créditée" in shows_words(again)
    assert [n for _, a, n in actions(api) if a == "billing.credit_note"] == ["NC2026-000001"]
    of_a_note = accountant.post(
        "/console/billing/documents/NC2026-000001/credit-note",
        data={"csrf": csrf_of(page), "scope": "whole"},
    )
    assert of_a_note.status_code == 422
    assert "Seule une facture se crédite" in shows_words(of_a_note)
    note = shows_words(accountant.get("/console/billing/documents/NC2026-000001"))
    assert "<h1>Note de crédit NC2026-000001</h1>" in note
    assert "Séance mal attribuée" in note and f">{number}</a>" in note
    assert ("compta", "billing.credit_note", "NC2026-000001") in actions(api)


@sqlite_only
def test_a_whole_invoice_is_credited_and_then_offers_nothing_more(
    api: Api, accountant: TestClient
) -> None:
    prepare(accountant)
    issue(accountant)
    path = f"/console/billing/documents/{NUMBERS[0]}"
    page = accountant.get(path)
    made = accountant.post(
        f"{path}/credit-note", data={"csrf": csrf_of(page), "scope": "whole", "lines": ["1"]}
    )
    assert made.status_code == 303
    after = shows_words(accountant.get(path))
    assert "Toutes les lignes de cette facture sont déjà créditées." in after
    assert 'data-action="credit"' not in after
    month = shows_words(accountant.get(MONTH_PAGE))
    assert '<tr data-number="NC2026-000001">' in month
    assert f"corrige {NUMBERS[0]}" in month


@sqlite_only
def test_unknown_months_documents_drafts_and_presets_are_refused_clearly(
    api: Api, accountant: TestClient
) -> None:
    for path in (
        "/console/billing/2026-13",
        "/console/billing/novembre/export.zip",
        "/console/billing/documents/F2026-999999",
        "/console/billing/documents/F2026-999999/pdf",
        "/console/billing/drafts/999/pdf",
        "/console/billing/drafts/abc/pdf",
    ):
        page = accountant.get(path)
        assert page.status_code == 404, path
        assert "<h1>Introuvable</h1>" in shows_words(page), path
    bad = accountant.get(f"{MONTH_PAGE}/export.zip", params={"preset": "sage"})
    assert bad.status_code == 422
    assert "Format de journal inconnu" in shows_words(bad)
    form = accountant.get("/console/billing")
    wrong = accountant.post("/console/billing/run", data={"csrf": csrf_of(form), "month": "2026-1"})
    assert wrong.status_code == 422
    assert "un mois s&#39;écrit comme 2026-11" in shows_words(wrong)
    assert [a for _, a, _ in actions(api) if a != "login"] == []


@sqlite_only
def test_the_pages_speak_english(api: Api, accountant: TestClient) -> None:
    accountant.get("/console/lang/en")
    prepare(accountant)
    page = accountant.get(MONTH_PAGE)
    text = page.text
    assert "<h1>Billing: November 2026</h1>" in text
    assert re.search(r'data-action="issue"[^>]*>Issue <span class="what">\(5 invoice', text)
    amounts = re.findall(r'<td class="num">([^<]*)</td>', text.split('id="drafts"')[1])
    assert amounts and all(re.fullmatch(r"€\d{1,3}(,\d{3})*\.\d\d|\d+", a) for a in amounts)
    issue(accountant, page)
    month = accountant.get(MONTH_PAGE).text
    assert 'data-download="zip" download>Download the zip</a>' in month
    assert '<th scope="col" class="num">Payable</th>' in month and "Issued documents" in month
    invoice = accountant.get(f"/console/billing/documents/{NUMBERS[0]}").text
    assert re.search(r'<td class="num">\d+(\.\d+)?\u00a0h</td>', invoice)
    assert re.search(r'<td class="num">\d+(\.\d+)?%</td>', invoice)
    credit = accountant.post(
        f"/console/billing/documents/{NUMBERS[0]}/credit-note",
        data={"csrf": csrf_of(page), "scope": "lines", "lines": ["99"]},
    )
    assert credit.status_code == 422 and "This invoice has no line 99." in credit.text


def test_amounts_are_written_the_french_way_in_french(accountant: TestClient) -> None:
    prepare(accountant)
    text = accountant.get(MONTH_PAGE).text
    amounts = re.findall(r'<td class="num">([^<]*)</td>', text.split('id="drafts"')[1])
    money = r"\d{1,3}(\u202f\d{3})*,\d\d\u00a0€"
    assert amounts and all(re.fullmatch(rf"{money}|\d+", a) for a in amounts)
