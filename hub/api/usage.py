"""Machine usage for billing: badge time per member, organisation or machine over a month.

Accountants and managers read it; members read their own through `/me/usage`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from hub.api.deps import SessionDep, UsageReader
from hub.api.errors import responses
from hub.api.types import Month
from hub.ledger.usage import UsageDetail, UsageGroup, UsageRow, usage, usage_detail

router = APIRouter(prefix="/usage", tags=["usage"])


class UsageRowPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    sessions: int
    badge_seconds: int
    hours: Decimal


class UsageDetailPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    member_id: str
    member_name: str
    organisation_id: int | None
    organisation_name: str | None
    machine_id: str
    machine_name: str
    sessions: int
    badge_seconds: int


@router.get(
    "",
    summary="Sessions and badge time in a month, grouped",
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
    summary="Badge time in a month per member and machine, with the organisation billed",
    response_model=list[UsageDetailPublic],
    responses=responses(401, 403, 422),
)
def monthly_detail(
    db: SessionDep, _reader: UsageReader, month: Annotated[Month, Query()]
) -> list[UsageDetail]:
    return usage_detail(db, month=month)
