"""How often the hub looks at maintenance counters: `[maintenance]` in the hub's TOML."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.maintenance.plans import DEFAULT_FORECAST_WINDOW_DAYS


class MaintenanceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Counters move when sessions close; the ingest wakes the monitor then, this is the floor.
    interval_s: float = Field(default=60.0, gt=0)
    # Wake-ups come after every ingest batch: evaluations are at least this far apart, so a
    # busy ingest does not keep the monitor reading the ledger without pause.
    min_gap_s: float = Field(default=2.0, ge=0)
    # The due date is forecast from the pace of use over this many days.
    forecast_window_days: float = Field(default=DEFAULT_FORECAST_WINDOW_DAYS, gt=0)
    # Lock commands of locked machines are sent again this often (and on every reconnect to
    # the broker): a device that missed one catches up; one already locked ignores it.
    resend_s: float = Field(default=600.0, gt=0)
