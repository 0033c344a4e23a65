"""The wire contract between edge agents, firmware bridges and the hub.

Topic builders and parsers, versioned payload models, signing of access lists and the JSON
Schema export live here; no other package formats a topic or serialises a payload.
"""
