"""Where telemetry goes and how the writer batches it: `[telemetry]` in the hub's TOML."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class TelemetrySettings(BaseModel):
    """An InfluxDB 2.x or 3.x bucket, or a 1.8+ database through its v2 compatibility API."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    url: str = "http://127.0.0.1:8086"
    # InfluxDB 2/3: an API token. InfluxDB 1.8: "user:password" (or empty without auth).
    token: SecretStr = SecretStr("")
    org: str = "machinerie"  # ignored by InfluxDB 1.8
    bucket: str = "machinerie"  # InfluxDB 1.8: "database/retention", or "database"
    batch_size: int = Field(default=5000, ge=1)  # lines per write request
    flush_interval_s: float = Field(default=1.0, gt=0)  # a partial batch waits at most this long
    # Bounded memory: beyond it the OLDEST lines are dropped (counted); ~220 bytes a line.
    max_buffer_points: int = Field(default=200_000, ge=1)
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)  # one write request
    # With hub replicas (`[mqtt] group`), a closed session is exported once it has been in the
    # ledger this long, so a replica's slower commit is never skipped (hub.telemetry.sessions).
    session_settle_s: float = Field(default=30.0, ge=0)
