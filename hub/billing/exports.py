"""What the accountant takes away: a month's UBL files, PDFs and sales journal in one zip.

The UBL files are the issued ones, byte for byte (what was sealed by its SHA-256); the PDFs are
rendered from the same frozen documents. Entries carry a fixed timestamp, so the same documents
always make the same zip.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence

from hub.billing.document import Document
from hub.billing.journal import PRESETS, AccountPlan, journal_csv, postings
from hub.billing.models import BillingDocument, DocumentStatus
from hub.billing.pdf import render_pdf
from hub.billing.service import Progress, no_progress
from hub.errors import Invalid

ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def issued(rows: Sequence[BillingDocument]) -> list[tuple[BillingDocument, Document]]:
    return [
        (row, Document.model_validate_json(row.document))
        for row in rows
        if row.status is DocumentStatus.ISSUED
    ]


def preset(name: str) -> str:
    if name not in PRESETS:
        raise Invalid(f"unknown journal preset {name!r}: choose from {', '.join(sorted(PRESETS))}")
    return name


def journal(rows: Sequence[BillingDocument], plan: AccountPlan, preset_name: str) -> bytes:
    docs = [doc for _, doc in issued(rows)]
    return journal_csv(postings(docs, plan), PRESETS[preset(preset_name)])


def summary_csv(pairs: Sequence[tuple[BillingDocument, Document]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(
        [
            "number",
            "kind",
            "issue_date",
            "buyer",
            "buyer_reference",
            "corrects",
            "total_excl_vat",
            "vat",
            "total_incl_vat",
            "payable",
            "structured_reference",
            "sha256",
        ]
    )
    for row, doc in pairs:
        totals = doc.totals()
        writer.writerow(
            [
                doc.number,
                doc.kind.value,
                doc.issue_date.isoformat() if doc.issue_date else "",
                doc.buyer.name,
                doc.buyer.reference,
                doc.corrects.number if doc.corrects else "",
                totals.tax_exclusive,
                totals.tax,
                totals.tax_inclusive,
                totals.payable,
                doc.payment.reference or "",
                row.sha256,
            ]
        )
    return out.getvalue().encode()


def month_zip(
    rows: Sequence[BillingDocument],
    plan: AccountPlan,
    *,
    preset_name: str = "generic",
    language: str = "fr",
    progress: Progress = no_progress,
) -> bytes:
    """`ubl/<number>.xml`, `pdf/<number>.pdf`, `journal.csv` and `documents.csv`."""
    pairs = issued(rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for done, (row, doc) in enumerate(pairs, start=1):
            assert row.ubl is not None and doc.number is not None  # issued rows carry both
            _add(archive, f"ubl/{doc.number}.xml", row.ubl)
            _add(archive, f"pdf/{doc.number}.pdf", render_pdf(doc, language=language))
            progress(done, len(pairs))
        _add(archive, "journal.csv", journal(rows, plan, preset_name))
        _add(archive, "documents.csv", summary_csv(pairs))
    return buffer.getvalue()


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)
