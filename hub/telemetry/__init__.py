"""Telemetry to an InfluxDB-compatible store: line protocol points and a batching writer.

Telemetry is best effort: when the store is gone for long, only telemetry is dropped (and
counted), never an event of the ledger.
"""
