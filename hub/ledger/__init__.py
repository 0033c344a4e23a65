"""The ledger: every accepted device event recorded exactly once, and the sessions built from them.

Billing and reports read sessions; the raw events stay as the audit trail.
"""
