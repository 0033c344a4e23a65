"""The billing pages' words (French, English) and their menu entries; pure data, so i18n and the
menu read them without importing the pages."""

from __future__ import annotations

FR: dict[str, str] = {
    "nav.billing": "Facturation",
    "billing.title": "Facturation",
    "billing.not_found": "Introuvable",
    "billing.back": "Tous les mois de facturation",
    "billing.run.title": "Préparer un mois",
    "billing.run.month": "Mois à facturer",
    "billing.run.submit": "Préparer",
    "billing.run.help": (
        "Calcule les factures du mois à partir des séances et des tarifs, et remplace ses "
        "brouillons. Rien n'est émis."
    ),
    "billing.months.caption": "Mois de facturation",
    "billing.months.empty": "Aucun mois n'a encore été préparé.",
    "billing.col.month": "Mois",
    "billing.col.state": "État",
    "billing.col.drafts": "Brouillons",
    "billing.col.invoices": "Factures émises",
    "billing.col.credit_notes": "Notes de crédit",
    "billing.col.buyer": "Client",
    "billing.col.net": "HTVA",
    "billing.col.vat": "TVA",
    "billing.col.total": "TVAC",
    "billing.col.payable": "À payer",
    "billing.col.sessions": "Séances",
    "billing.col.preview": "Aperçu",
    "billing.col.number": "Numéro",
    "billing.col.kind": "Type",
    "billing.col.date": "Date",
    "billing.col.files": "Fichiers",
    "billing.col.line": "Ligne",
    "billing.col.description": "Désignation",
    "billing.col.quantity": "Quantité",
    "billing.col.vat_rate": "Taux de TVA",
    "billing.count_amount": "{count} · {amount}",
    "billing.state.drafted": "Brouillons à vérifier",
    "billing.state.issued": "Émis",
    "billing.state.redrafted": "Émis, nouveaux brouillons à vérifier",
    "billing.state.empty": "Rien à facturer",
    "billing.month.title": "Facturation : {month}",
    "billing.done.run": "Le mois est préparé : vérifiez les brouillons avant d'émettre.",
    "billing.done.issue": "Les factures du mois sont émises.",
    "billing.done.credit": "La note de crédit est émise.",
    "billing.actions": "Préparer et émettre",
    "billing.prepare.help": (
        "Recalcule les brouillons du mois à partir des séances et des tarifs actuels."
    ),
    "billing.issue.submit": "Émettre",
    "billing.issue.what": "{count} facture(s), {amount} à payer",
    "billing.issue.help": (
        "Numérote et fige les brouillons tels qu'ils sont affichés ici. Une facture émise ne "
        "change plus : on la corrige par une note de crédit."
    ),
    "billing.issue.free_only": (
        "Ces brouillons ne portent que de l'usage gratuit : émettre ne crée aucune facture, "
        "mais règle leurs séances."
    ),
    "billing.issue.accountant_only": "Seul·e un·e comptable peut émettre les factures.",
    "billing.issue.changed": (
        "Les brouillons ont changé depuis l'affichage de cette page. Vérifiez-les, puis "
        "émettez à nouveau."
    ),
    "billing.issue.stale": (
        "Les tarifs, forfaits, crédits ou motifs de séance ont changé depuis la préparation : "
        "préparez le mois à nouveau avant d'émettre."
    ),
    "billing.drafts.title": "Brouillons",
    "billing.drafts.empty": "Aucun brouillon pour ce mois.",
    "billing.draft.free": "usage gratuit, pas de facture",
    "billing.draft.pdf": "Aperçu PDF du brouillon de {buyer}",
    "billing.documents.title": "Documents émis",
    "billing.documents.empty": "Rien n'est encore émis pour ce mois.",
    "billing.kind.invoice": "Facture",
    "billing.kind.credit_note": "Note de crédit",
    "billing.corrects": "corrige {number}",
    "billing.doc.pdf": "PDF de {number}",
    "billing.doc.ubl": "UBL (Peppol) de {number}",
    "billing.downloads.title": "Téléchargements",
    "billing.downloads.zip": "Télécharger le zip",
    "billing.downloads.zip_help": (
        "Fichiers UBL, PDF, journal des ventes et liste des documents ; journal au format {preset}."
    ),
    "billing.downloads.preset": "Format du journal",
    "billing.downloads.zip_with": "Zip dans ce format",
    "billing.downloads.journal": "Journal des ventes (CSV) seul",
    "billing.preset.generic": "générique",
    "billing.preset.odoo": "Odoo",
    "billing.preset.winbooks": "WinBooks",
    "billing.document.title": "{kind} {number}",
    "billing.doc.summary": "Résumé",
    "billing.doc.buyer": "Client",
    "billing.doc.month": "Mois de facturation",
    "billing.doc.issue_date": "Date d'émission",
    "billing.doc.due_date": "Échéance",
    "billing.doc.reference": "Communication structurée",
    "billing.doc.note": "Motif",
    "billing.doc.corrects": "Corrige",
    "billing.lines.title": "Lignes",
    "billing.line.credited": "déjà créditée",
    "billing.credit_notes.title": "Notes de crédit",
    "billing.credit_notes.empty": "Aucune note de crédit pour cette facture.",
    "billing.credit.title": "Émettre une note de crédit",
    "billing.credit.scope": "Que créditer ?",
    "billing.credit.whole": "Toute la facture",
    "billing.credit.some": "Les lignes cochées",
    "billing.credit.lines": "Lignes à créditer",
    "billing.credit.line": "Ligne {id} : {name} ({amount} HTVA)",
    "billing.credit.note": "Motif, imprimé sur la note de crédit (facultatif)",
    "billing.credit.submit": "Émettre la note de crédit",
    "billing.credit.no_lines": "Cochez au moins une ligne, ou choisissez toute la facture.",
    "billing.credit.long_note": "Le motif dépasse 500 caractères.",
    "billing.credit.cap": (
        "Cette facture porte une remise de plafond mensuel : elle ne se crédite qu'en entier."
    ),
    "billing.credit.all_done": "Toutes les lignes de cette facture sont déjà créditées.",
    "billing.credit.accountant_only": "Seul·e un·e comptable peut émettre une note de crédit.",
    "billing.error.404": "Introuvable.",
    "billing.error.409": "Refusé.",
    "billing.error.422": "Données refusées.",
    "billing.error.month": "Ce mois n'existe pas : un mois s'écrit comme 2026-11.",
    "billing.error.preset": "Format de journal inconnu : choisissez générique, Odoo ou WinBooks.",
    "billing.error.no_draft": (
        "Ce brouillon n'existe pas, ou plus : le mois a peut-être été préparé à nouveau ou émis."
    ),
    "billing.error.no_document": "Aucun document émis ne porte ce numéro.",
    "billing.error.no_drafts": "Ce mois n'a pas de brouillons : préparez-le d'abord.",
    "billing.error.changed_meanwhile": (
        "Des séances, forfaits ou crédits de ces brouillons ont changé pendant l'émission : "
        "préparez le mois à nouveau, vérifiez, puis émettez."
    ),
    "billing.error.already_credited": (
        "Une partie de ces lignes est déjà créditée : une note de crédit ne peut créditer plus "
        "que ce qui a été facturé."
    ),
    "billing.credit.not_invoice": "Seule une facture se crédite, pas une note de crédit.",
    "billing.credit.unknown_lines": "Cette facture n'a pas de ligne {lines}.",
    "action.billing.run": "Préparation d'un mois",
    "action.billing.issue": "Émission des factures",
    "action.billing.credit_note": "Note de crédit",
    "action.billing.export": "Export comptable",
}

EN: dict[str, str] = {
    "nav.billing": "Billing",
    "billing.title": "Billing",
    "billing.not_found": "Not found",
    "billing.back": "All billing months",
    "billing.run.title": "Prepare a month",
    "billing.run.month": "Month to bill",
    "billing.run.submit": "Prepare",
    "billing.run.help": (
        "Prices the month's sessions with the tariffs and replaces its drafts. Nothing is issued."
    ),
    "billing.months.caption": "Billing months",
    "billing.months.empty": "No month has been prepared yet.",
    "billing.col.month": "Month",
    "billing.col.state": "State",
    "billing.col.drafts": "Drafts",
    "billing.col.invoices": "Issued invoices",
    "billing.col.credit_notes": "Credit notes",
    "billing.col.buyer": "Buyer",
    "billing.col.net": "Net",
    "billing.col.vat": "VAT",
    "billing.col.total": "Incl. VAT",
    "billing.col.payable": "Payable",
    "billing.col.sessions": "Sessions",
    "billing.col.preview": "Preview",
    "billing.col.number": "Number",
    "billing.col.kind": "Kind",
    "billing.col.date": "Date",
    "billing.col.files": "Files",
    "billing.col.line": "Line",
    "billing.col.description": "Description",
    "billing.col.quantity": "Quantity",
    "billing.col.vat_rate": "VAT rate",
    "billing.count_amount": "{count} · {amount}",
    "billing.state.drafted": "Drafts to review",
    "billing.state.issued": "Issued",
    "billing.state.redrafted": "Issued, new drafts to review",
    "billing.state.empty": "Nothing to bill",
    "billing.month.title": "Billing: {month}",
    "billing.done.run": "The month is prepared: review the drafts before issuing.",
    "billing.done.issue": "The month's invoices are issued.",
    "billing.done.credit": "The credit note is issued.",
    "billing.actions": "Prepare and issue",
    "billing.prepare.help": "Computes the month's drafts again from the sessions and tariffs.",
    "billing.issue.submit": "Issue",
    "billing.issue.what": "{count} invoice(s), {amount} payable",
    "billing.issue.help": (
        "Numbers and freezes the drafts as shown here. An issued invoice never changes: a "
        "credit note corrects it."
    ),
    "billing.issue.free_only": (
        "These drafts hold free use only: issuing creates no invoice but settles their sessions."
    ),
    "billing.issue.accountant_only": "Only an accountant may issue the invoices.",
    "billing.issue.changed": (
        "The drafts changed since this page was shown. Review them, then issue again."
    ),
    "billing.issue.stale": (
        "Tariffs, packs, credit or session reasons changed since the month was prepared: "
        "prepare it again before issuing."
    ),
    "billing.drafts.title": "Drafts",
    "billing.drafts.empty": "No drafts for this month.",
    "billing.draft.free": "free use only, no invoice",
    "billing.draft.pdf": "PDF preview of the draft for {buyer}",
    "billing.documents.title": "Issued documents",
    "billing.documents.empty": "Nothing is issued for this month yet.",
    "billing.kind.invoice": "Invoice",
    "billing.kind.credit_note": "Credit note",
    "billing.corrects": "corrects {number}",
    "billing.doc.pdf": "PDF of {number}",
    "billing.doc.ubl": "UBL (Peppol) of {number}",
    "billing.downloads.title": "Downloads",
    "billing.downloads.zip": "Download the zip",
    "billing.downloads.zip_help": (
        "UBL files, PDFs, the sales journal and the list of documents; journal in the {preset} "
        "format."
    ),
    "billing.downloads.preset": "Journal format",
    "billing.downloads.zip_with": "Zip in this format",
    "billing.downloads.journal": "Sales journal (CSV) alone",
    "billing.preset.generic": "generic",
    "billing.preset.odoo": "Odoo",
    "billing.preset.winbooks": "WinBooks",
    "billing.document.title": "{kind} {number}",
    "billing.doc.summary": "Summary",
    "billing.doc.buyer": "Buyer",
    "billing.doc.month": "Billing month",
    "billing.doc.issue_date": "Issue date",
    "billing.doc.due_date": "Due date",
    "billing.doc.reference": "Structured communication",
    "billing.doc.note": "Reason",
    "billing.doc.corrects": "Corrects",
    "billing.lines.title": "Lines",
    "billing.line.credited": "already credited",
    "billing.credit_notes.title": "Credit notes",
    "billing.credit_notes.empty": "No credit note for this invoice.",
    "billing.credit.title": "Issue a credit note",
    "billing.credit.scope": "What to credit?",
    "billing.credit.whole": "The whole invoice",
    "billing.credit.some": "The lines ticked",
    "billing.credit.lines": "Lines to credit",
    "billing.credit.line": "Line {id}: {name} ({amount} net)",
    "billing.credit.note": "Reason, printed on the credit note (optional)",
    "billing.credit.submit": "Issue the credit note",
    "billing.credit.no_lines": "Tick at least one line, or choose the whole invoice.",
    "billing.credit.long_note": "The reason is longer than 500 characters.",
    "billing.credit.cap": "This invoice has a monthly cap allowance: it is credited whole only.",
    "billing.credit.all_done": "Every line of this invoice is credited already.",
    "billing.credit.accountant_only": "Only an accountant may issue a credit note.",
    "billing.error.404": "Not found.",
    "billing.error.409": "Refused.",
    "billing.error.422": "Input refused.",
    "billing.error.month": "No such month: a month is written like 2026-11.",
    "billing.error.preset": "Unknown journal format: choose generic, Odoo or WinBooks.",
    "billing.error.no_draft": (
        "This draft does not exist, or no longer: the month may have been prepared again or issued."
    ),
    "billing.error.no_document": "No issued document has this number.",
    "billing.error.no_drafts": "This month has no drafts: prepare it first.",
    "billing.error.changed_meanwhile": (
        "Sessions, prepaid hours or credit of these drafts changed while issuing: prepare the "
        "month again, review, then issue."
    ),
    "billing.error.already_credited": (
        "Some of these lines are credited already: a credit note cannot credit more than was "
        "invoiced."
    ),
    "billing.credit.not_invoice": "Only an invoice is credited, not a credit note.",
    "billing.credit.unknown_lines": "This invoice has no line {lines}.",
    "action.billing.run": "Month prepared",
    "action.billing.issue": "Invoices issued",
    "action.billing.credit_note": "Credit note",
    "action.billing.export": "Accounting export",
}
# (path, message id, roles that see the entry)
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/console/billing", "nav.billing", ("accountant", "manager")),
)
