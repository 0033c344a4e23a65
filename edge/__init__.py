"""The edge agent: a Raspberry Pi beside a machine that reads badges and gates the machine's power.

Access is decided locally from a signed, cached access list, so it works with the network down;
every fact goes to a local SQLite outbox first and reaches the hub over MQTT later.
"""

__version__ = "0.1.0"
