"""The hub: ingest, ledger, registry, access lists, billing and the web console.

Not built yet; until it is, machinerie.ackhub and machinerie.control stand in for it.
"""
