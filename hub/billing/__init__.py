"""Billing: tariffs, monthly invoices and credit notes, Peppol BIS 3.0 UBL, PDFs, the journal.

Pure domain code (`document`, `tariffs`, `pricing`, `invoicing`, `ubl`, `pdf`, `journal`) and the
database side (`inputs`, `catalog`, `service`, `exports`, `numbering`, `models`). docs/billing.md
tells the whole story.
"""
