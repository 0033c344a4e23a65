"""`[devices]` settings: how the hub watches its devices' health."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DeviceWatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Follow devices' statuses and samples for the console (device page, job progress).
    watch: bool = True
    # A device saying "online" but silent this long is shown as silent: edges repeat their
    # status every 60 s by default, so three missed ones.
    stale_after_s: float = Field(default=180.0, gt=0)
    # A sample older than this no longer shows a job's progress on the live board.
    sample_fresh_s: float = Field(default=120.0, gt=0)
