"""Machine usage for billing: badge time per member, organisation or machine over a month.

Beside badge time, the machine's own busy time and the energy it drew, where it measured them.
Accountants and managers read it; members read their own through `/me/usage`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import SessionDep, UsageReader
from hub.api.errors import responses
from hub.api.types import Month
from hub.ledger.usage import UsageDetail, UsageGroup, UsageRow, usage, usage_detail

router = APIRouter(prefix="/usage", tags=["usage"])


SESSIONS = "Closed sessions that started in the month (local time of their site)"
BADGE_SECONDS = "Whole seconds between badge-in and badge-out, summed: what is billed"
BUSY_SECONDS = (
    "Seconds the machine itself worked (spindle on, laser firing, printing), summed over the"
    " sessions whose machine reported it; 0 when none did"
)
MEASURED = "Sessions that reported a busy time; 0 means busy time was not measured"
ENERGY = "Energy drawn in watt-hours, to 0.1 Wh, over the metered sessions; null when none was"


class UsageRowPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str = Field(description="Member number, organisation id, 'private' or machine id")
    label: str = Field(description="Member, organisation or machine name")
    sessions: int = Field(description=SESSIONS)
    badge_seconds: int = Field(description=BADGE_SECONDS)
    hours: Decimal = Field(description="badge_seconds in hours, to hundredths")
    busy_seconds: int = Field(description=BUSY_SECONDS)
    busy_hours: Decimal = Field(description="busy_seconds in hours, to hundredths")
    measured_sessions: int = Field(description=MEASURED)
    energy_wh: Decimal | None = Field(description=ENERGY)


class UsageDetailPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    member_id: str = Field(description="Member number, like m-0042")
    member_name: str = Field(description="Member name, or the number if it is not registered")
    organisation_id: int | None = Field(
        description="Organisation billed; null for a private person"
    )
    organisation_name: str | None = Field(description="Name of that organisation")
    machine_id: str = Field(description="Machine id")
    machine_name: str = Field(description="Machine name")
    sessions: int = Field(description=SESSIONS)
    badge_seconds: int = Field(description=BADGE_SECONDS)
    busy_seconds: int = Field(description=BUSY_SECONDS)
    measured_sessions: int = Field(description=MEASURED)
    energy_wh: Decimal | None = Field(description=ENERGY)


@router.get(
    "",
    summary="Sessions, badge and busy time and energy in a month, grouped",
    response_model=list[UsageRowPublic],
    responses=responses(401, 403, 422),
)
def monthly_usage(
    db: SessionDep,
    _reader: UsageReader,
    month: Annotated[Month, Query()],
    group_by: Annotated[UsageGroup, Query()] = UsageGroup.MEMBER,
) -> list[UsageRow]:
    return usage(db, group_by=group_by, month=month)


@router.get(
    "/detail",
    summary="Badge and busy time and energy per member and machine, with who is billed",
    response_model=list[UsageDetailPublic],
    responses=responses(401, 403, 422),
)
def monthly_detail(
    db: SessionDep, _reader: UsageReader, month: Annotated[Month, Query()]
) -> list[UsageDetail]:
    return usage_detail(db, month=month)
