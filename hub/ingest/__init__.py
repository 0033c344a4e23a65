"""Ingest: events from the edge over MQTT into the ledger, acknowledged only once committed."""
