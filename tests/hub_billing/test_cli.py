"""`machinerie billing` as the treasurer runs it, on a SQLite database in a data folder: price
lists, a month from dry run to the accountant's zip, credit notes, and mistakes that end in a
one-line message rather than a traceback.
"""

from __future__ import annotations

import csv
import io
import tomllib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from hub.billing import service
from hub.billing.models import BillingDocument, DocumentStatus
from hub.billing.models import Tariff as TariffRow
from hub.billing.settings import BillingSettings
from hub.db import make_engine, migrate, session_factory
from hub.settings import load_settings
from machinerie.cli import app
from tests.hub_billing import world as w

NOV = "2026-11"
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "tariffs.example.toml"
NUMBERS = [f"F2026-{n:06d}" for n in range(1, 6)]  # four organisations and one private person
# A wide terminal, so that rich prints whole numbers and names rather than cutting them short.
runner = CliRunner(env={"COLUMNS": "200"})

# The cooperative's price list, as a treasurer writes it (amounts as strings: exact decimals).
PRICE_LIST = """
[[tariff]]
name = "Laser"
machine_kind = "laser_cutter"
valid_from = 2026-01-01
basis = "busy"
hourly_price = "25.00"
minimum_s = 300
idle_hourly_price = "6.00"
session_fee = "1.50"
account = "700100"

[[tariff]]
name = "CNC"
machine_kind = "cnc_mill"
valid_from = 2026-01-01
basis = "busy"
hourly_price = "40.00"
increment_s = 900
energy_kwh_price = "0.35"
monthly_cap = "200.00"
account = "700200"

[[tariff]]
name = "Impression 3D"
machine_kind = "printer_3d"
valid_from = 2026-01-01
hourly_price = "2.00"
increment_s = 3600
vat_percent = "6"
account = "700300"
"""
# A new laser price from the middle of the month: it closes the first one.
PRICE_CHANGE = """
[[tariff]]
name = "Laser 2026-11-15"
machine_kind = "laser_cutter"
valid_from = 2026-11-15
basis = "busy"
hourly_price = "30.00"
minimum_s = 300
idle_hourly_price = "6.00"
session_fee = "1.50"
account = "700100"
"""


@contextmanager
def database(data_dir: Path) -> Iterator[sessionmaker[Session]]:
    """The database the CLI opens for `--data-dir data_dir`."""
    engine = make_engine(load_settings(data_dir=data_dir).database)
    try:
        migrate(engine)
        yield session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder whose database holds the cooperative and its November, but no prices."""
    folder = tmp_path / "hub"
    folder.mkdir()
    with database(folder) as sessions, sessions() as db:
        w.november(db, w.build(db))
    return folder


@pytest.fixture
def price_lists(tmp_path: Path) -> tuple[Path, Path]:
    base, change = tmp_path / "tariffs.toml", tmp_path / "tariffs-2026-11-15.toml"
    base.write_text(PRICE_LIST, encoding="utf-8")
    change.write_text(PRICE_CHANGE, encoding="utf-8")
    return base, change


@pytest.fixture
def priced(data_dir: Path, price_lists: tuple[Path, Path]) -> Path:
    for path in price_lists:
        succeeds(billing(data_dir, "tariffs", "load", str(path)))
    return data_dir


def billing(data_dir: Path, *args: str) -> Result:
    return runner.invoke(app, ["billing", *args, "--data-dir", str(data_dir)])


def succeeds(result: Result) -> str:
    """The output of a command that worked, less the blank line its progress bar leaves."""
    assert result.exit_code == 0, result.output
    return result.output.strip()


def fails(result: Result, message: str) -> None:
    """Exit code 1, a one-line `error:` naming the problem, no traceback."""
    assert result.exit_code == 1, result.output
    assert f"error: {message}" in result.stderr
    assert "Traceback" not in result.output


def stored(data_dir: Path) -> list[BillingDocument]:
    with database(data_dir) as sessions, sessions() as db:
        return service.documents(db, month=NOV)


def tariff_count(data_dir: Path) -> int:
    with database(data_dir) as sessions, sessions() as db:
        return db.scalar(select(func.count()).select_from(TariffRow)) or 0


def test_a_price_list_loaded_twice_adds_nothing_the_second_time(
    data_dir: Path, price_lists: tuple[Path, Path]
) -> None:
    base, _ = price_lists
    assert succeeds(billing(data_dir, "tariffs", "load", str(base))) == "3 tariff(s) added"
    assert succeeds(billing(data_dir, "tariffs", "load", str(base))) == "0 tariff(s) added"
    assert tariff_count(data_dir) == 3
    listed = succeeds(billing(data_dir, "tariffs", "list"))
    assert all(name in listed for name in ("Laser", "CNC", "Impression 3D"))


def test_the_example_price_list_loads_once_and_prices_every_buyer(data_dir: Path) -> None:
    tariffs = len(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["tariff"])
    load = ("tariffs", "load", str(EXAMPLE))
    assert succeeds(billing(data_dir, *load)) == f"{tariffs} tariff(s) added"
    assert succeeds(billing(data_dir, *load)) == "0 tariff(s) added"
    assert tariff_count(data_dir) == tariffs
    preview = succeeds(billing(data_dir, "run", "--month", NOV, "--dry-run"))
    for buyer in ("Pat Particulier", "Atelier Bois SRL", "Nordic Design AB", "École du Bois ASBL"):
        assert buyer in preview


def test_reloading_a_price_list_after_a_price_change_adds_nothing(
    data_dir: Path, price_lists: tuple[Path, Path]
) -> None:
    base, change = price_lists
    for path in (base, change):
        succeeds(billing(data_dir, "tariffs", "load", str(path)))
    assert succeeds(billing(data_dir, "tariffs", "load", str(base))) == "0 tariff(s) added"
    assert tariff_count(data_dir) == 4


def test_a_month_from_dry_run_to_the_accountants_zip(priced: Path, tmp_path: Path) -> None:
    with database(priced) as sessions, sessions() as db:
        expected = service.compute_month(db, NOV, BillingSettings())
    preview = succeeds(billing(priced, "run", "--month", NOV, "--dry-run"))
    assert "dry run, nothing stored" in preview
    for draft in expected.drafts:
        row = next(line for line in preview.splitlines() if draft.document.buyer.name in line)
        assert str(draft.document.totals().payable) in row
    total = next(line for line in preview.splitlines() if "Total" in line)
    assert str(expected.total_payable) in total
    assert "1 busy-time session(s) unmeasured" in preview
    assert stored(priced) == []

    succeeds(billing(priced, "run", "--month", NOV))
    drafts = stored(priced)
    assert len(drafts) == 5 and {d.status for d in drafts} == {DocumentStatus.DRAFT}

    issued = succeeds(billing(priced, "issue", "--month", NOV, "--date", "2026-12-02"))
    assert issued == f"issued 5 invoice(s): {NUMBERS[0]} … {NUMBERS[-1]}"
    listed = succeeds(billing(priced, "list", "--month", NOV))
    for document in stored(priced):
        number, reference = document.number, service.document_of(document).payment.reference
        assert number is not None and reference is not None
        assert document.status is DocumentStatus.ISSUED
        line = next(line for line in listed.splitlines() if number in line)
        assert document.buyer_name in line and "2026-12-02" in line and reference in line

    note = billing(
        priced,
        "credit-note",
        NUMBERS[0],
        "--line",
        "1",
        "--note",
        "Séance mal attribuée",
        "--date",
        "2026-12-03",
    )
    assert succeeds(note) == f"issued credit note NC2026-000001 for {NUMBERS[0]}"

    target = tmp_path / "novembre.zip"
    written = billing(priced, "export", "--month", NOV, "--out", str(target), "--preset", "odoo")
    assert "6 document(s), journal preset odoo" in succeeds(written)
    archive = zipfile.ZipFile(target)
    assert archive.testzip() is None
    documents = {str(r.number): r.ubl for r in stored(priced)}
    assert set(documents) == {*NUMBERS, "NC2026-000001"}
    for number, ubl in documents.items():
        assert archive.read(f"ubl/{number}.xml") == ubl
        assert archive.read(f"pdf/{number}.pdf").startswith(b"%PDF")
    journal = list(csv.DictReader(io.StringIO(archive.read("journal.csv").decode())))
    assert {r["ref"] for r in journal if r["ref"]} == set(documents)
    summary = archive.read("documents.csv").decode()
    assert all(number in summary for number in documents)


def test_an_issued_invoice_cannot_be_changed_through_the_cli(priced: Path) -> None:
    succeeds(billing(priced, "run", "--month", NOV))
    succeeds(billing(priced, "issue", "--month", NOV, "--date", "2026-12-02"))
    before = {r.number: (r.ubl, r.sha256, r.document) for r in stored(priced)}
    assert sorted(n for n in before if n) == NUMBERS

    rerun = succeeds(billing(priced, "run", "--month", NOV))
    assert "Total" in rerun and not any(name in rerun for name in ("Pat", "Atelier", "Nordic"))
    again = succeeds(billing(priced, "issue", "--month", NOV, "--date", "2026-12-04"))
    assert again == "nothing to issue"
    credit_all = ("credit-note", NUMBERS[0], "--date", "2026-12-03")
    succeeds(billing(priced, *credit_all))
    fails(billing(priced, *credit_all), "line(s) 1 of F2026-000001 are already credited")
    after = {r.number: (r.ubl, r.sha256, r.document) for r in stored(priced)}
    assert {n: after[n] for n in before} == before
    assert set(after) - set(before) == {"NC2026-000001"}


def test_mistakes_end_with_a_message(priced: Path, tmp_path: Path) -> None:
    fails(billing(priced, "run", "--month", "2026-13"), "'2026-13' is not a month like 2026-11")
    fails(billing(priced, "issue", "--month", "novembre"), "'novembre' is not a month")
    fails(
        billing(priced, "credit-note", "F2026-999999", "--date", "2026-12-03"),
        "no issued document numbered 'F2026-999999'",
    )
    fails(billing(priced, "credit-note", NUMBERS[0], "--date", "3/12/2026"), "'3/12/2026' is not")
    unknown = billing(priced, "export", "--month", NOV, "--preset", "sage")
    fails(unknown, "unknown journal preset 'sage': choose from generic, odoo, winbooks")
    missing = tmp_path / "nowhere.toml"
    fails(billing(priced, "tariffs", "load", str(missing)), "cannot read the price list")
    assert billing(priced, "export", "--out", str(tmp_path / "x.zip")).exit_code == 2
    assert not (tmp_path / "x.zip").exists()
    assert stored(priced) == []


def test_the_configuration_file_names_the_data_folder_and_the_billing_settings(
    priced: Path, tmp_path: Path
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'data_dir = "{priced}"\n\n[billing]\ninvoice_series = "FA"\njournal_preset = "winbooks"\n',
        encoding="utf-8",
    )
    for args in (("run", "--month", NOV), ("issue", "--month", NOV, "--date", "2026-12-02")):
        succeeds(runner.invoke(app, ["billing", *args, "-c", str(config)]))
    assert sorted(str(r.number) for r in stored(priced)) == [f"FA2026-{n:06d}" for n in range(1, 6)]
    target = tmp_path / "winbooks.zip"
    written = runner.invoke(
        app, ["billing", "export", "--month", NOV, "--out", str(target), "-c", str(config)]
    )
    assert "journal preset winbooks" in succeeds(written)
    assert zipfile.ZipFile(target).read("journal.csv").startswith(b"jnltype;jnl;number;")
