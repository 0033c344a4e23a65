"""The usage page: a period's machine hours with charts and the tables under them, its CSV,
the period chooser's checks and who may see it; sessions recorded through the ledger.

October 2026 at Ateliers Dony (Europe/Brussels), clocks going back on Sunday the 25th:

| who (organisation)      | machine | local start        | badge  | busy   | energy  |
|-------------------------|---------|--------------------|--------|--------|---------|
| Bruno (Atelier Bois)    | mill    | 30/09 23:30        | 60 min | —      | —       |  September
| Alice (Atelier Bois)    | laser   | 01/10 09:00        | 90 min | 60 min | 500 Wh  |
| Bruno (Atelier Bois)    | mill    | 25/10 01:30 (CEST) | 3 h    | 2 h    | 1200 Wh |  24/10 in UTC
| Chloe (Céramique & Cie) | laser   | 25/10 23:30 (CET)  | 60 min | 30 min | —       |  26/10 at +2
| Chloe (Céramique & Cie) | laser   | 31/10 23:45        | 30 min | —      | —       |
| Alice (Atelier Bois)    | laser   | 01/11 00:15        | 60 min | —      | —       |  November
| Chloe                   | laser   | 27/10 10:00        | open   |        |         |  not counted

October: 4 sessions, 6 h badged, 3.5 h busy out of 5.5 measured h (64 %), 1.7 kWh, 3 members.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest
from lxml import html

from hub.api.models import UserRole
from hub.registry import service as registry
from tests.console.ledger import report_session
from tests.console.pages import browser, logged_in
from tests.hub_api import conftest as hub_api
from tests.hub_api.conftest import Api
from tests.hub_billing import world as w

api = hub_api.api  # the API over a migrated database, as a fixture of this module

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = datetime(2026, 10, 28, 11, 0, tzinfo=UTC)
H = "\u00a0h"  # hours are written "6,00 h" with a no-break space
SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
# Where the ledger's query and local days matter, PostgreSQL too.
BOTH = pytest.mark.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


def local(month: int, day: int, hour: int, minute: int) -> datetime:
    """A moment of 2026 at the site, read on its wall clock (the first one when it repeats)."""
    return datetime(2026, month, day, hour, minute, tzinfo=BRUSSELS)


# Every session of these tests is received at NOW.
used = partial(report_session, received_at=NOW)


@pytest.fixture
def world(api: Api) -> Iterator[w.World]:
    """The cooperative's October, and a manager, an accountant, a maintainer and a member."""
    api.now = NOW
    with api.sessions() as db:
        world = w.build(db)
        used(db, world, "bruno", "mill-1", local(9, 30, 23, 30), minutes=60)
        used(db, world, "alice", "laser-1", local(10, 1, 9, 0), minutes=90, busy_minutes=60,
             energy_wh=500.0)  # fmt: skip
        used(db, world, "bruno", "mill-1", local(10, 25, 1, 30), minutes=180, busy_minutes=120,
             energy_wh=1200.0)  # fmt: skip
        used(db, world, "chloe", "laser-1", local(10, 25, 23, 30), minutes=60, busy_minutes=30)
        used(db, world, "chloe", "laser-1", local(10, 31, 23, 45), minutes=30)
        used(db, world, "alice", "laser-1", local(11, 1, 0, 15), minutes=60)
        used(db, world, "chloe", "laser-1", local(10, 27, 10, 0), minutes=None)
    api.add_user("gerante", UserRole.MANAGER)
    api.add_user("compta", UserRole.ACCOUNTANT)
    api.add_user("maintenance", UserRole.MAINTAINER)
    api.add_user("alice", UserRole.MEMBER, member_id=world.members["alice"])
    yield world


def elements(root: httpx.Response | html.HtmlElement, path: str) -> list[html.HtmlElement]:
    """The elements at `path` in a page (or under an element of it)."""
    tree = html.fromstring(root.text) if isinstance(root, httpx.Response) else root
    found = tree.xpath(path)
    assert isinstance(found, list)
    return [e for e in found if isinstance(e, html.HtmlElement)]


def text(element: html.HtmlElement) -> str:
    return str(element.text_content()).strip()


def table(page: httpx.Response, table_id: str) -> list[list[str]]:
    """The body rows of a table of the page, each cell's text."""
    rows = elements(page, f'//table[@id="{table_id}"]/tbody/tr')
    return [[text(cell) for cell in row] for row in rows]


def row_of(page: httpx.Response, table_id: str, attribute: str, value: str) -> list[str]:
    [row] = elements(page, f'//table[@id="{table_id}"]/tbody/tr[@{attribute}="{value}"]')
    return [text(cell) for cell in row]


def totals(page: httpx.Response) -> dict[str, str]:
    return {
        str(div.get("data-total")): text(elements(div, "dd")[0])
        for div in elements(page, '//dl[@class="usage-totals"]/div')
    }


@BOTH
def test_the_months_totals_and_the_figures_under_each_chart(api: Api, world: w.World) -> None:
    page = logged_in(api, "gerante").get("/console/usage")
    assert page.status_code == 200
    assert "Du 01/10/2026 au 31/10/2026 (31 jours)" in page.text
    assert totals(page) == {
        "sessions": "4",
        "badge": f"6,00{H}",
        "busy": f"3,50{H}",
        "share": "64\u00a0%",
        "energy": "1,7\u00a0kWh",
        "members": "3",
    }
    assert table(page, "usage-machines-table") == [
        ["Fraiseuse CNC", "1", f"3,00{H}", f"2,00{H}", "67\u00a0%"],
        ["Laser Trotec", "3", f"3,00{H}", f"1,50{H}", "60\u00a0%"],
        ["Prusa MK4", "0", f"0,00{H}", "—", "—"],
    ]
    days = table(page, "usage-days-table")
    assert len(days) == 31
    assert [d for d in days if d[1] != "0"] == [
        ["01/10/2026", "1", f"1,50{H}", f"1,00{H}"],
        # Bruno's night (24 October in UTC) and Chloe's evening (26th at summer time's offset).
        ["25/10/2026", "2", f"4,00{H}", f"2,50{H}"],
        ["31/10/2026", "1", f"0,50{H}", "—"],
    ]
    assert table(page, "usage-organisations-table") == [
        ["Atelier Bois SRL", "2", "2", f"4,50{H}"],
        ["Céramique & Cie", "1", "2", f"1,50{H}"],
    ]


@SQLITE
def test_each_chart_is_an_image_with_a_title_that_scales(api: Api, world: w.World) -> None:
    page = logged_in(api, "gerante").get("/console/usage")
    charts = elements(page, "//svg")
    assert len(charts) == 3
    for chart in charts:
        assert chart.get("role") == "img" and chart.get("width") == "100%"
        assert str(chart.get("viewbox")).startswith("0 0 400 ")
        title_id = str(chart.get("aria-labelledby")).split()[0]
        assert text(elements(chart, f'title[@id="{title_id}"]')[0]) in (
            "Heures par machine",
            "Heures par jour",
            "Heures par organisation",
        )
    assert "Seules les sessions terminées comptent" in page.text


@SQLITE
def test_numbers_and_dates_in_english(api: Api, world: w.World) -> None:
    client = logged_in(api, "gerante")
    client.cookies.set("lang", "en")
    page = client.get("/console/usage")
    assert "From 2026-10-01 to 2026-10-31 (31 days)" in page.text
    assert totals(page) == {
        "sessions": "4",
        "badge": f"6.00{H}",
        "busy": f"3.50{H}",
        "share": "64%",
        "energy": "1.7\u00a0kWh",
        "members": "3",
    }
    assert row_of(page, "usage-days-table", "data-day", "2026-10-25")[0] == "2026-10-25"


@BOTH
def test_the_csv_has_a_row_per_member_and_machine(api: Api, world: w.World) -> None:
    response = logged_in(api, "compta").get(
        "/console/usage.csv", params={"from": "2026-10-01", "to": "2026-10-31"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="usage-2026-10-01_2026-10-31.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")  # so Excel reads the accents right
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "member_id;member;organisation;machine_id;machine;sessions;badge_hours;busy_hours;"
        "measured_sessions;energy_kwh"
    )
    assert lines[1:] == [
        f"{world.ref('alice')};Alice;Atelier Bois SRL;laser-1;Laser Trotec;1;1.50;1.00;1;0.5000",
        f"{world.ref('bruno')};Bruno;Atelier Bois SRL;mill-1;Fraiseuse CNC;1;3.00;2.00;1;1.2000",
        f"{world.ref('chloe')};Chloe;Céramique & Cie;laser-1;Laser Trotec;2;1.50;0.50;1;",
    ]


@SQLITE
def test_one_machine_only(api: Api, world: w.World) -> None:
    client = logged_in(api, "gerante")
    page = client.get("/console/usage", params={"machine": "laser-1"})
    assert page.status_code == 200
    assert "Machine : Laser Trotec" in page.text
    assert totals(page)["sessions"] == "3" and totals(page)["badge"] == f"3,00{H}"
    assert totals(page)["members"] == "2" and totals(page)["energy"] == "0,5\u00a0kWh"
    assert [row[0] for row in table(page, "usage-machines-table")] == ["Laser Trotec"]
    # The presets and the CSV keep the machine.
    assert 'href="/console/usage?period=year&amp;machine=laser-1"' in page.text
    csv_href = str(elements(page, "//a[@download]")[0].get("href"))
    assert csv_href == "/console/usage.csv?from=2026-10-01&to=2026-10-31&machine=laser-1"
    csv = client.get(csv_href)
    assert (
        'filename="usage-2026-10-01_2026-10-31-laser-1.csv"' in csv.headers["content-disposition"]
    )
    rows = csv.content.decode("utf-8-sig").splitlines()[1:]
    assert [row.split(";")[3] for row in rows] == ["laser-1", "laser-1"]


@SQLITE
def test_the_presets(api: Api, world: w.World) -> None:
    client = logged_in(api, "gerante")
    month = client.get("/console/usage")
    assert '<a href="/console/usage?period=month" aria-current="true">Ce mois-ci</a>' in month.text
    september = client.get("/console/usage", params={"period": "last_month"})
    assert "Du 01/09/2026 au 30/09/2026 (30 jours)" in september.text
    assert totals(september)["sessions"] == "1" and totals(september)["badge"] == f"1,00{H}"
    last_30 = client.get("/console/usage", params={"period": "30d"})
    assert "Du 29/09/2026 au 28/10/2026 (30 jours)" in last_30.text
    assert totals(last_30)["sessions"] == "4"  # 30/09 to 25/10; 31/10 is still to come


@BOTH
def test_a_year_is_shown_per_week(api: Api, world: w.World) -> None:
    page = logged_in(api, "gerante").get("/console/usage", params={"period": "year"})
    assert '<h2 id="usage-days">Heures par semaine</h2>' in page.text
    weeks = table(page, "usage-days-table")
    assert len(weeks) == 53 and weeks[0][0] == "Semaine du 01/01/2026"
    # Monday 19 to Sunday 25 October; then the week of 31 October and 1 November.
    assert row_of(page, "usage-days-table", "data-day", "2026-10-19") == [
        "Semaine du 19/10/2026",
        "2",
        f"4,00{H}",
        f"2,50{H}",
    ]
    assert row_of(page, "usage-days-table", "data-day", "2026-10-26")[1:3] == ["2", f"1,50{H}"]
    assert totals(page)["sessions"] == "6"


@BOTH
def test_free_dates_are_local_days_both_included(api: Api, world: w.World) -> None:
    client = logged_in(api, "gerante")
    change_day = client.get("/console/usage", params={"from": "2026-10-25", "to": "2026-10-25"})
    assert totals(change_day)["sessions"] == "2" and totals(change_day)["badge"] == f"4,00{H}"
    last_day = client.get("/console/usage", params={"from": "2026-10-31", "to": "2026-10-31"})
    assert totals(last_day)["sessions"] == "1"
    assert 'value="2026-10-31"' in last_day.text


@SQLITE
@pytest.mark.parametrize(
    ("params", "reason", "message"),
    [
        ({"from": "2026-10-31", "to": "2026-10-01"}, "reversed", "La date de début doit précéder"),
        ({"from": "2026-13-01", "to": "2026-12-31"}, "date", "« 2026-13-01 » n&#39;est pas une"),
        ({"from": "2026-10-01"}, "both", "Indiquez une date de début et une date de fin."),
        ({"from": "2020-01-01", "to": "2026-12-31"}, "too_long", "au plus 731 jours."),
        ({"period": "forever"}, "preset", "Cette période prédéfinie n&#39;existe pas."),
        ({"machine": "lathe-9"}, "machine", "Cette machine n&#39;existe pas."),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "range", "entre les années 2000 et 2999."),
        ({"from": "2026-10-01", "to": "2026-10-31" * 40}, "date", "n&#39;est pas une date"),
    ],
)
def test_a_wrong_period_is_explained(
    api: Api, world: w.World, params: dict[str, str], reason: str, message: str
) -> None:
    client = logged_in(api, "gerante")
    page = client.get("/console/usage", params=params)
    assert page.status_code == 400
    assert message in page.text
    assert "usage-totals" not in page.text and "<svg" not in page.text
    assert page.text.count("<h1>") == 1  # the page itself, with its form to try again
    assert client.get("/console/usage.csv", params=params).status_code == 400
    assert api.metrics.value("console_usage_refused", reason=reason) == 2


@SQLITE
def test_managers_and_accountants_only(api: Api, world: w.World) -> None:
    for username in ("gerante", "compta"):
        client = logged_in(api, username)
        assert client.get("/console/usage").status_code == 200
        assert client.get("/console/usage.csv").status_code == 200
        assert 'href="/console/usage"' in client.get("/console/").text
    for username in ("maintenance", "alice"):
        client = logged_in(api, username)
        refused = client.get("/console/usage")
        assert refused.status_code == 403 and "<h1>Accès refusé</h1>" in refused.text
        assert client.get("/console/usage.csv").status_code == 403
    maintainer = logged_in(api, "maintenance").get("/console/").text
    assert 'href="/console/usage"' not in maintainer
    anonymous = browser(api).get("/console/usage.csv?period=year")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/console/login?next=/console/usage.csv%3Fperiod%3Dyear"


@SQLITE
def test_a_quiet_period_says_so(api: Api, world: w.World) -> None:
    page = logged_in(api, "gerante").get(
        "/console/usage", params={"from": "2026-08-01", "to": "2026-08-31"}
    )
    assert page.status_code == 200
    assert "Aucune session terminée sur cette période." in page.text
    assert totals(page)["busy"] == "—" and totals(page)["energy"] == "—"
    assert table(page, "usage-organisations-table") == []


def test_this_month_is_the_workshops_month_not_the_servers(api: Api) -> None:
    """A workshop in Auckland: at noon UTC on 30 November it is already 1 December there."""
    with api.sessions() as db:
        registry.create_site(db, site_id="ponsonby", name="Makerspace", timezone="Pacific/Auckland")
        db.commit()
    api.add_user("gerante", UserRole.MANAGER)
    api.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    page = logged_in(api, "gerante").get("/console/usage")
    assert "Du 01/12/2026 au 31/12/2026 (31 jours)" in page.text
