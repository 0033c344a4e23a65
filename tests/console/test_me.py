"""The artisan's own page: his month, its cost as billing will charge it, his documents and
qualifications, and nobody else's; on SQLite and PostgreSQL, sessions recorded by the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.api.models import UserRole
from hub.billing import catalog, service
from hub.billing.document import DocumentKind
from hub.billing.settings import BillingSettings
from hub.console import i18n, me
from hub.console.me import CostState, Format, MyOverview, my_overview
from hub.console.numbers import money, number
from hub.db import session_factory, writing
from hub.errors import NotFound
from hub.registry import service as registry
from hub.registry.models import MachineKind
from tests.console.ledger import report_session
from tests.console.pages import browser, logged_in
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api
from tests.hub_billing import world as w

api = hub_api.api  # the API over the same migrated database as `sessions`

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 1, tzinfo=UTC)
OCT = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
FAST = BillingSettings(validate_drafts=False)
TEMPLATES = Path(me.__file__).parent / "templates"


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def coop(sessions: sessionmaker[Session]) -> w.World:
    with sessions() as db:
        world = w.build(db)
        w.price_list(db)
    return world


# Every session of these tests is received at NOW.
used = partial(report_session, received_at=NOW)


def overview(sessions: sessionmaker[Session], world: w.World, who: str) -> MyOverview:
    with sessions() as db:
        return my_overview(db, member_id=world.members[who], now=NOW, billing=FAST)


def drafted(sessions: sessionmaker[Session], buyer: str) -> Decimal:
    """What the month's draft for `buyer` charges before VAT, for the month's own sessions."""
    with sessions() as db:
        run = service.compute_month(db, "2026-11", FAST.model_copy(update={"catch_up_months": 0}))
    return next(d.totals.tax_exclusive for d in run.drafts if d.buyer == buyer)


def pats_month(sessions: sessionmaker[Session], world: w.World) -> None:
    with sessions() as db:
        used(db, world, "pat", "printer-1", NOV + timedelta(days=9, hours=9), minutes=300)
        # The laser's tariff changed on the 15th: busy time 30 €/h, idle 6 €/h, 1.50 a session.
        start = NOV + timedelta(days=15, hours=13)
        used(db, world, "pat", "laser-1", start, minutes=30, busy_minutes=12)
        used(db, world, "pat", "mill-1", NOW - timedelta(minutes=20), minutes=None)
        used(db, world, "alice", "laser-1", NOV + timedelta(days=3), minutes=95, busy_minutes=61)
        used(db, world, "pat", "printer-1", OCT, minutes=120)


def test_the_month_shows_own_sessions_hours_and_the_cost_the_draft_will_charge(
    sessions: sessionmaker[Session], coop: w.World
) -> None:
    pats_month(sessions, coop)
    mine = overview(sessions, coop, "pat")
    assert (mine.name, mine.organisation, mine.month) == ("Pat Particulier", None, "2026-11")
    # Alice's session and Pat's October one are not on his page; the open one is, running.
    assert [(s.machine_name, s.badge_s, s.busy_s) for s in mine.sessions] == [
        ("Prusa MK4", 300 * 60, None),
        ("Laser Trotec", 30 * 60, 12 * 60),
        ("Fraiseuse CNC", None, None),
    ]
    first = mine.sessions[0]
    assert first.started_at.isoformat() == "2026-11-10T10:00:00+01:00"  # Brussels time
    assert first.ended_at is not None and first.ended_at.hour == 15
    assert mine.sessions[2].ended_at is None
    assert (mine.badge_s, mine.busy_s, mine.measured_sessions) == (330 * 60, 12 * 60, 1)
    # Printer: 5 h at 2 €; laser: 12 min at 30 €/h + 18 min idle at 6 €/h + 1.50 fee.
    assert mine.cost == me.MonthCost(CostState.ESTIMATE, amount=Decimal("19.30"))
    assert mine.cost.amount == drafted(sessions, coop.ref("pat"))


def test_prepaid_hours_go_to_the_organisations_earlier_sessions_first(
    sessions: sessionmaker[Session], coop: w.World
) -> None:
    bois = f"org-{coop.orgs['bois']}"
    with writing(sessions) as db:
        catalog.add_pack(
            db,
            buyer=bois,
            hours=Decimal(3),
            valid_from=date(2026, 11, 1),
            valid_until=date(2027, 11, 1),
            machine_kind=MachineKind.PRINTER_3D,
            now=w.NOW,
        )
    with sessions() as db:
        used(db, coop, "bruno", "printer-1", NOV + timedelta(days=2), minutes=120)
        used(db, coop, "alice", "printer-1", NOV + timedelta(days=4), minutes=240)
    # Bruno's 2 h came first and took 2 of the 3 prepaid hours; Alice pays 3 of her 4 h.
    assert overview(sessions, coop, "bruno").cost.amount == Decimal("0.00")
    alice = overview(sessions, coop, "alice")
    assert alice.organisation == "Atelier Bois SRL"
    assert alice.cost.amount == Decimal("6.00") == drafted(sessions, bois)


def test_a_single_member_organisation_pays_what_its_draft_says_cap_included(
    sessions: sessionmaker[Session], coop: w.World
) -> None:
    with sessions() as db:
        # The mill's 200 € monthly cap: 6 h at 40 €/h is capped.
        used(db, coop, "nils", "mill-1", NOV + timedelta(days=5), minutes=360, busy_minutes=360)
        used(db, coop, "nils", "laser-1", NOV + timedelta(days=6), minutes=45, busy_minutes=30)
    nils = overview(sessions, coop, "nils")
    # Laser (old tariff before the 15th): 30 min at 25 €/h + 15 min idle at 6 €/h + 1.50.
    assert nils.cost.amount == Decimal("200.00") + Decimal("15.50")
    assert nils.cost.amount == drafted(sessions, f"org-{coop.orgs['nord']}")


def test_a_month_the_price_list_does_not_cover_gets_no_figure(
    sessions: sessionmaker[Session], coop: w.World
) -> None:
    with sessions() as db:
        registry.create_machine(db, machine_id="saw-1", site_id="dony", name="Scie", kind="other")
        db.commit()
        used(db, coop, "pat", "printer-1", NOV + timedelta(days=1), minutes=60)
        used(db, coop, "pat", "saw-1", NOV + timedelta(days=2), minutes=60)
        # A colleague's unpriced session is the accountant's business, not Alice's figure.
        used(db, coop, "bruno", "saw-1", NOV + timedelta(days=2), minutes=60)
        used(db, coop, "alice", "printer-1", NOV + timedelta(days=3), minutes=60)
    cost = overview(sessions, coop, "pat").cost
    assert (cost.state, cost.amount, cost.unpriced_machines) == (
        CostState.UNPRICED,
        None,
        ("Scie",),
    )
    assert overview(sessions, coop, "alice").cost.amount == Decimal("2.00")
    assert overview(sessions, coop, "chloe").cost.state is CostState.NO_USE


def test_invoices_and_credit_notes_of_the_member_and_of_his_organisation(
    sessions: sessionmaker[Session], coop: w.World
) -> None:
    with sessions() as db:
        used(db, coop, "pat", "printer-1", OCT, minutes=120)
        used(db, coop, "alice", "printer-1", OCT, minutes=60)
        used(db, coop, "pat", "printer-1", NOV + timedelta(days=2), minutes=60)
    service.draft_month(sessions, "2026-10", FAST, now=w.NOW)
    numbers = service.issue_month(sessions, "2026-10", FAST, today=date(2026, 11, 3), now=w.NOW)
    pats = _number_of(sessions, coop.ref("pat"))
    bois = _number_of(sessions, f"org-{coop.orgs['bois']}")
    assert sorted(numbers) == sorted([pats, bois])
    credit = service.issue_credit_note(sessions, pats, FAST, today=date(2026, 11, 4), now=w.NOW)
    pat = overview(sessions, coop, "pat")
    assert [(d.number, d.kind, d.total) for d in pat.documents] == [
        (credit, DocumentKind.CREDIT_NOTE, Decimal("4.24")),
        (pats, DocumentKind.INVOICE, Decimal("4.24")),  # 2 h at 2 € + 6 % VAT
    ]
    assert pat.documents[1].link == f"/console/me/invoices/{pats}.pdf"
    assert pat.documents[1].issue_date == date(2026, 11, 3)
    # October is invoiced; November's hour is what the next invoice will charge.
    assert pat.cost == me.MonthCost(CostState.ESTIMATE, amount=Decimal("2.00"))
    # Alice's organisation's invoice is hers to see (she is the occupant), not Pat's.
    assert [d.number for d in overview(sessions, coop, "alice").documents] == [bois]
    assert [d.number for d in overview(sessions, coop, "bruno").documents] == [bois]


def _number_of(sessions: sessionmaker[Session], buyer: str) -> str:
    with sessions() as db:
        rows = service.documents(db, month="2026-10")
        return next(r.number for r in rows if r.buyer == buyer and r.number)


def test_a_month_invoiced_already_says_so(sessions: sessionmaker[Session], coop: w.World) -> None:
    with sessions() as db:
        used(db, coop, "pat", "printer-1", NOV + timedelta(days=2), minutes=60)
    service.draft_month(sessions, "2026-11", FAST, now=w.NOW)
    service.issue_month(sessions, "2026-11", FAST, today=date(2026, 11, 19), now=w.NOW)
    cost = overview(sessions, coop, "pat").cost
    assert (cost.state, cost.amount, cost.invoiced_sessions) == (CostState.INVOICED, None, 1)


def test_qualifications_live_ones_with_their_expiry(
    sessions: sessionmaker[Session], coop: w.World
) -> None:
    pat = coop.members["pat"]
    with sessions() as db:
        for machine, role, expires in (
            ("printer-1", "user", datetime(2027, 6, 30, 22, 0, tzinfo=UTC)),
            ("laser-1", "user", None),
            ("laser-1", "maintainer", None),  # supersedes the user qualification
            ("mill-1", "user", datetime(2026, 11, 1, tzinfo=UTC)),
        ):
            registry.grant_qualification(
                db, member_id=pat, machine_id=machine, role=role, granted_by="x", expires_at=expires
            )
        registry.grant_qualification(
            db, member_id=coop.members["alice"], machine_id="mill-1", role="user", granted_by="x"
        )
        db.commit()
    shown = overview(sessions, coop, "pat").qualifications
    assert [(q.machine_name, q.role, q.expired) for q in shown] == [
        ("Fraiseuse CNC", "user", True),
        ("Laser Trotec", "maintainer", False),
        ("Prusa MK4", "user", False),
    ]
    assert shown[1].expires_at is None
    # 30 June 22:00 UTC is midnight in Brussels: the member reads 1 July.
    assert shown[2].expires_at is not None and shown[2].expires_at.date() == date(2027, 7, 1)


def test_an_unknown_member_is_not_found(sessions: sessionmaker[Session], coop: w.World) -> None:
    with sessions() as db, pytest.raises(NotFound):
        my_overview(db, member_id=9999, now=NOW)


def test_amounts_in_french_and_in_english() -> None:
    assert money(Decimal("12.5"), "fr") == "12,50\u00a0€"
    assert money(Decimal("1234567.005"), "fr") == "1\u202f234\u202f567,01\u00a0€"
    assert money(Decimal("-4.84"), "fr") == "-4,84\u00a0€"
    assert money(Decimal(0), "fr") == "0,00\u00a0€"
    assert money(Decimal("1234.5"), "en") == "€1,234.50"
    assert money(Decimal("-4.84"), "en") == "-€4.84"
    assert number(20.0, "fr") == "20" and number(90.5, "fr") == "90,5"
    assert number(Decimal("1234.56"), "en", 2) == "1,234.56"
    assert number(Decimal("1234.56"), "fr", 1) == "1\u202f234,6"
    assert number(None, "en") == ""


def test_durations_and_months() -> None:
    assert Format.duration(5700) == "1\u00a0h\u00a035"
    assert Format.duration(59) == "0\u00a0h\u00a000"
    assert Format.duration(None) == "—"
    assert Format.month("2026-11") == "novembre 2026"
    assert Format.month("2026-01", "en") == "January 2026"
    assert Format.day(date(2026, 3, 4)) == "04/03/2026"
    assert Format.day(date(2026, 3, 4), "en") == "2026-03-04"  # never read as 3 April


def render(view: MyOverview, lang: str = "fr") -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    words = {**i18n.MESSAGES[lang], **(me.FR if lang == "fr" else me.EN)}

    def t(message_id: str, **values: object) -> str:
        return words[message_id].format(**values)  # a missing id fails the test

    page = env.get_template("me.html").render(
        overview=view,
        t=t,
        lang=lang,
        languages=i18n.LANGUAGE_NAMES,
        here="/console/me",
        money=lambda amount: money(amount, lang),
    )
    return page


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_page_reads_well_on_a_phone(sessions: sessionmaker[Session], coop: w.World) -> None:
    pats_month(sessions, coop)
    page = render(overview(sessions, coop, "pat"))
    assert page.count("<h1") == 1
    assert "<h1>Mon espace</h1>" in page
    assert "Ce mois-ci : novembre 2026" in page
    assert '<dd id="me-cost">19,30\u00a0€</dd>' in page
    assert "estimation, hors TVA" in page
    assert "<caption>Mes sessions du mois</caption>" in page
    assert '<td class="num">5\u00a0h\u00a000</td>' in page
    assert "10/11 10:00" in page and "en cours" in page
    assert "Alice" not in page
    assert "Aucune facture pour l&#39;instant." in page
    english = render(overview(sessions, coop, "pat"), "en")
    assert "This month: November 2026" in english
    assert '<dd id="me-cost">€19.30</dd>' in english
    assert "2026-11-10 10:00" in english and "10/11 10:00" not in english


def test_every_message_of_the_page_exists_in_both_languages() -> None:
    assert me.FR.keys() == me.EN.keys()


def test_a_member_downloads_his_invoice_and_nobody_elses(
    api: Api, sessions: sessionmaker[Session], coop: w.World
) -> None:
    with sessions() as db:
        used(db, coop, "pat", "printer-1", OCT, minutes=120)
        used(db, coop, "alice", "printer-1", OCT, minutes=60)
    service.draft_month(sessions, "2026-10", FAST, now=w.NOW)
    service.issue_month(sessions, "2026-10", FAST, today=date(2026, 11, 3), now=w.NOW)
    pats = _number_of(sessions, coop.ref("pat"))
    bois = _number_of(sessions, f"org-{coop.orgs['bois']}")
    api.add_user("pat", UserRole.MEMBER, member_id=coop.members["pat"])
    api.add_user("alice", UserRole.MEMBER, member_id=coop.members["alice"])

    pat = logged_in(api, "pat")
    page = pat.get("/console/me")
    assert f'href="/console/me/invoices/{pats}.pdf"' in page.text
    pdf = pat.get(f"/console/me/invoices/{pats}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    # Alice's organisation's invoice exists, but it is not Pat's to read.
    assert pat.get(f"/console/me/invoices/{bois}.pdf").status_code == 404
    assert logged_in(api, "alice").get(f"/console/me/invoices/{bois}.pdf").status_code == 200
    # Not logged in: to the login page, nothing served.
    anonymous = browser(api).get(f"/console/me/invoices/{pats}.pdf")
    assert anonymous.status_code in (303, 307) and "login" in anonymous.headers["location"]
