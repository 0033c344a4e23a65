"""`machinerie billing`: price lists, monthly runs, issuing, credit notes, the accountant's zip.

    machinerie billing tariffs load deploy/tariffs.example.toml
    machinerie billing run --month 2026-11 --dry-run     # preview, stores nothing
    machinerie billing run --month 2026-11               # store the drafts to review
    machinerie billing issue --month 2026-11             # number and freeze them
    machinerie billing credit-note F2026-000042 [--line 2]
    machinerie billing export --month 2026-11 --out nov.zip [--preset odoo]

Settings (seller, numbering, accounts) come from the hub's configuration, `[billing]`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.billing import catalog, exports, service
from hub.billing.document import Document
from hub.billing.models import DocumentStatus
from hub.cli import Config, DataDir, guard
from hub.db import make_engine, migrate, session_factory, writing
from hub.errors import Invalid
from hub.registry.models import DEFAULT_TIMEZONE, MachineKind
from hub.settings import HubSettings, load_settings

app = typer.Typer(help="Billing: tariffs, monthly invoices, credit notes, exports.")
tariffs_app = typer.Typer(help="The price list.", no_args_is_help=True)
app.add_typer(tariffs_app, name="tariffs")
T = TypeVar("T")
Month = Annotated[str, typer.Option("--month", help="The billing month, like 2026-11.")]
console = Console()


@contextmanager
def _database(
    config: Path | None, data_dir: Path | None
) -> Iterator[tuple[HubSettings, sessionmaker[Session]]]:
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    settings = guard(lambda: load_settings(config, **overrides))
    engine: Engine = make_engine(settings.database)
    try:
        migrate(engine)
        yield settings, session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def _bar(what: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn(what), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task(what, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _now() -> datetime:
    return datetime.now(UTC)


@tariffs_app.command("load")
def tariffs_load(
    path: Annotated[Path, typer.Argument(help="A TOML price list with [[tariff]] tables.")],
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Add the tariffs of a price list that are not there yet (new prices close old ones)."""
    with _database(config, data_dir) as (_, sessions), writing(sessions) as session:
        added = guard(lambda: catalog.load_price_list(session, path, now=_now()))
    typer.echo(f"{len(added)} tariff(s) added")


@tariffs_app.command("list")
def tariffs_list(config: Config = None, data_dir: DataDir = None) -> None:
    """Every tariff, old and current."""
    with _database(config, data_dir) as (_, sessions), sessions() as session:
        rows = catalog.tariffs(session)
        table = Table(title="Tariffs")
        for column in (
            "#",
            "Name",
            "Applies to",
            "Valid",
            "Basis",
            "€/h",
            "Step",
            "Min",
            "Fee",
            "VAT",
        ):
            table.add_column(column)
        for r in rows:
            scope = r.machine_id or (r.machine_kind.value if r.machine_kind else "any machine")
            who = r.category.value if r.category else "anyone"
            until = r.valid_until.isoformat() if r.valid_until else "…"
            table.add_row(
                str(r.id),
                r.name,
                f"{scope} / {who}",
                f"{r.valid_from} → {until}",
                r.basis.value,
                str(r.hourly_price),
                f"{r.increment_s}s",
                f"{r.minimum_s}s",
                str(r.session_fee),
                f"{r.vat_category.value} {r.vat_percent}%",
            )
    console.print(table)


@app.command()
def run(
    month: Month,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, store nothing.")] = False,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Price a month and make its draft invoices (checked against the Peppol rules)."""
    with _database(config, data_dir) as (settings, sessions), _bar("checking drafts") as bar:
        result = guard(
            lambda: service.draft_month(
                sessions, month, settings.billing, now=_now(), dry_run=dry_run, progress=bar
            )
        )
    console.print(_drafts_table(result, dry_run=dry_run))
    if result.skipped_zero:
        typer.echo(f"{len(result.skipped_zero)} buyer(s) with only free use: no invoice")
    if result.unmeasured:
        typer.echo(f"{result.unmeasured} busy-time session(s) unmeasured, billed on badge time")
    if result.unbillable:
        typer.echo(f"{len(result.unbillable)} session(s) of unknown members or machines left out")


def _drafts_table(result: service.RunResult, *, dry_run: bool) -> Table:
    title = f"Billing {result.month}" + (" (dry run, nothing stored)" if dry_run else " (drafts)")
    table = Table(title=title)
    table.add_column("Buyer")
    for column in ("Lines", "Sessions", "Excl. VAT", "VAT", "Payable"):
        table.add_column(column, justify="right")
    for draft in result.drafts:
        t = draft.document.totals()
        table.add_row(
            draft.document.buyer.name,
            str(len(draft.document.lines)),
            str(len(draft.sessions)),
            str(t.tax_exclusive),
            str(t.tax),
            str(t.payable),
        )
    table.add_section()
    table.add_row("Total", "", "", "", "", str(result.total_payable))
    return table


@app.command()
def issue(
    month: Month,
    on: Annotated[str | None, typer.Option("--date", help="Issue date [default: today].")] = None,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Number and freeze the month's drafts: they become invoices, immutable."""
    today = guard(lambda: _day(on))
    with _database(config, data_dir) as (settings, sessions), _bar("issuing") as bar:
        numbers = guard(
            lambda: service.issue_month(
                sessions, month, settings.billing, today=today, now=_now(), progress=bar
            )
        )
    if numbers:
        typer.echo(f"issued {len(numbers)} invoice(s): {numbers[0]} … {numbers[-1]}")
    else:
        typer.echo("nothing to issue")


@app.command("credit-note")
def credit_note(
    number: Annotated[str, typer.Argument(help="The invoice to correct, like F2026-000042.")],
    line: Annotated[
        list[str] | None, typer.Option("--line", help="A line to credit (repeat); all by default.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Why, printed on the credit note.")] = None,
    on: Annotated[str | None, typer.Option("--date", help="Issue date [default: today].")] = None,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Issue a credit note correcting an issued invoice."""
    today = guard(lambda: _day(on))
    with _database(config, data_dir) as (settings, sessions):
        issued = guard(
            lambda: service.issue_credit_note(
                sessions,
                number,
                settings.billing,
                today=today,
                now=_now(),
                line_ids=line,
                note=note,
            )
        )
    typer.echo(f"issued credit note {issued} for {number}")


@app.command()
def export(
    month: Annotated[
        str | None, typer.Option("--month", help="Documents of this billing month.")
    ] = None,
    issued_in: Annotated[
        str | None, typer.Option("--issued-in", help="Documents issued in this calendar month.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="The zip to write.")] = None,
    preset: Annotated[
        str | None, typer.Option(help="Journal layout: generic, odoo, winbooks.")
    ] = None,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Write the accountant's zip: UBL files, PDFs, the sales journal and a summary."""
    if (month is None) == (issued_in is None):
        typer.echo("error: give --month or --issued-in", err=True)
        raise typer.Exit(2)
    with _database(config, data_dir) as (settings, sessions), sessions() as session:
        billing = settings.billing
        rows = guard(lambda: service.documents(session, month=month, issued_in=issued_in))
        name = guard(lambda: exports.preset(preset or billing.journal_preset))
        with _bar("rendering") as bar:
            data = exports.month_zip(
                rows, billing.accounts, preset_name=name, language=billing.language, progress=bar
            )
    target = out or Path(f"machinerie-{month or issued_in}.zip")
    target.write_bytes(data)
    count = sum(1 for r in rows if r.status is DocumentStatus.ISSUED)
    typer.echo(f"wrote {target} ({count} document(s), journal preset {name})")


@app.command("list")
def list_documents(
    month: Month,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """The month's drafts and issued documents."""
    with _database(config, data_dir) as (_, sessions), sessions() as session:
        rows = guard(lambda: service.documents(session, month=month))
        table = Table(title=f"Documents of {month}")
        for column in ("Number", "Kind", "Status", "Buyer", "Issued", "Payable", "Reference"):
            # Numbers, amounts and references are read whole or not at all: the buyer's name
            # wraps instead when the output is narrow (80 columns when it is not a terminal).
            table.add_column(column, no_wrap=column != "Buyer")
        for row in rows:
            doc = Document.model_validate_json(row.document)
            table.add_row(
                row.number or "—",
                row.kind.value,
                row.status.value,
                row.buyer_name,
                str(row.issue_date or "—"),
                str(doc.totals().payable),
                doc.payment.reference or "",
            )
    console.print(table)


@app.command("pack")
def pack(
    buyer: Annotated[
        str, typer.Argument(help="org-<id>, or m-0042 for a member billed in person.")
    ],
    hours: Annotated[Decimal, typer.Option(help="Prepaid hours.")],
    valid_from: Annotated[str, typer.Option("--from", help="First day, like 2026-11-01.")],
    valid_until: Annotated[str, typer.Option("--until", help="Day it expires (excluded).")],
    machine: Annotated[str | None, typer.Option(help="Only this machine.")] = None,
    kind: Annotated[MachineKind | None, typer.Option(help="Only machines of this kind.")] = None,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Give a buyer a pack of prepaid machine hours."""
    first, end = guard(lambda: (_day(valid_from), _day(valid_until)))
    with _database(config, data_dir) as (_, sessions), writing(sessions) as session:
        made = guard(
            lambda: catalog.add_pack(
                session,
                buyer=buyer,
                hours=hours,
                valid_from=first,
                valid_until=end,
                now=_now(),
                machine_id=machine,
                machine_kind=kind,
            )
        )
    typer.echo(f"pack #{made.id}: {hours} h for {made.buyer}")


@app.command("credit")
def credit(
    buyer: Annotated[str, typer.Argument(help="org-<id>, or m-0042.")],
    amount: Annotated[Decimal, typer.Option(help="EUR; negative to take back.")],
    note: Annotated[str | None, typer.Option()] = None,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Add to (or take from) a buyer's prepaid balance."""
    with _database(config, data_dir) as (_, sessions), writing(sessions) as session:
        guard(
            lambda: catalog.add_credit(session, buyer=buyer, amount=amount, now=_now(), note=note)
        )
    typer.echo(f"credit of {amount} EUR recorded for {buyer}")


@app.command("reason")
def reason(
    session_id: Annotated[str, typer.Argument(help="The session's id.")],
    why: Annotated[str | None, typer.Argument(help="training, maintenance; none clears.")] = None,
    config: Config = None,
    data_dir: DataDir = None,
) -> None:
    """Mark a session as training or maintenance (free on most tariffs), until invoiced."""
    ident = guard(lambda: _uuid(session_id))
    with _database(config, data_dir) as (_, sessions), writing(sessions) as session:
        guard(
            lambda: catalog.set_reason(
                session, session_id=ident, reason=why, set_by="cli", now=_now()
            )
        )
    typer.echo(f"session {ident}: {why or 'no reason'}")


def _day(value: str | None) -> date:
    if value is None:
        # The seller's calendar day, not the server's UTC one.
        return datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(f"{value!r} is not a date like 2026-12-01") from exc


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise Invalid(f"{value!r} is not a session id") from exc
