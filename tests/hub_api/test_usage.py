"""Usage and sessions for accountants and maintainers; a member sees only its own.

Usage carries, beside badge time, the busy time and energy the machine measured.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from hub.api.models import UserRole
from hub.ledger.service import record_events
from hub.registry import service
from tests.hub.factories import T0, ended, started, workshop
from tests.hub_api.conftest import Api

ADA_1, ADA_2, BOB_1, DECEMBER = (uuid.uuid4() for _ in range(4))


def _november(db: Session) -> tuple[int, int]:
    """Ada (m-0001, private) badges twice in November; Bob (m-0002, of Atelier) once.

    Ada's first session has busy time and energy, Bob's busy time only, Ada's second neither.
    """
    ada = workshop(db).member_id
    organisation = service.create_organisation(db, name="Atelier", category="external")
    bob = service.create_member(db, name="Bob", organisation_id=organisation.id).id
    events = []
    for session_id, start, minutes, member, measured in (
        (ADA_1, T0, 30, "m-0001", {"busy_s": 1199.6, "energy_wh": 310.5}),
        (ADA_2, T0 + timedelta(hours=2), 90, "m-0001", None),
        (BOB_1, T0 + timedelta(hours=5), 45, "m-0002", {"busy_s": 600.0}),
        (DECEMBER, T0 + timedelta(days=10), 60, "m-0001", {"busy_s": 60.0, "energy_wh": 1.0}),
    ):
        end = start + timedelta(minutes=minutes)
        events += [
            started(session_id, start, member=member),
            ended(session_id, start, end, member=member, machine=measured),
        ]
    record_events(db, events, received_at=T0 + timedelta(days=11))
    db.commit()
    return ada, bob


def test_accountants_read_usage_grouped(api: Api, db: Session) -> None:
    _november(db)
    accountant = api.as_role(UserRole.ACCOUNTANT)

    def rows(group_by: str) -> list[tuple[Any, ...]]:
        response = api.client.get(f"/usage?month=2026-11&group_by={group_by}", headers=accountant)
        assert response.status_code == 200, response.text
        return [
            (r["key"], r["label"], r["sessions"], r["badge_seconds"], r["hours"], *_measured(r))
            for r in response.json()
        ]

    # Energy is a decimal string, like hours; null when no session of the row was metered.
    ada = ("m-0001", "Ada Lovelace", 2, 7200, "2.00", 1200, "0.33", 1, "310.5")
    bob = ("m-0002", "Bob", 1, 2700, "0.75", 600, "0.17", 1, None)
    assert rows("member") == [ada, bob]
    assert rows("organisation") == [
        ("1", "Atelier", *bob[2:]),
        ("private", "Private persons", *ada[2:]),
    ]
    assert rows("machine") == [
        ("laser-1", "Trotec Speedy 400", 3, 9900, "2.75", 1800, "0.50", 2, "310.5")
    ]
    detail = api.client.get("/usage/detail?month=2026-11", headers=accountant).json()
    assert [
        (d["member_id"], d["organisation_name"], d["busy_seconds"], d["measured_sessions"])
        for d in detail
    ] == [("m-0001", None, 1200, 1), ("m-0002", "Atelier", 600, 1)]
    assert [d["energy_wh"] for d in detail] == ["310.5", None]


def _measured(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["busy_seconds"], row["busy_hours"], row["measured_sessions"], row["energy_wh"]


def test_usage_fields_are_documented(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("UsageRowPublic", "UsageDetailPublic"):
        for field, spec in schemas[name]["properties"].items():
            assert spec.get("description"), (name, field)
    assert "measured_sessions" in schemas["UsageRowPublic"]["required"]


def test_a_month_must_look_like_one(api: Api) -> None:
    accountant = api.as_role(UserRole.ACCOUNTANT)
    for month in ("2026-13", "november", "9999-12", "2026-1"):
        response = api.client.get(f"/usage?month={month}", headers=accountant)
        assert response.status_code == 422, month
    unknown_group = api.client.get("/usage?month=2026-11&group_by=site", headers=accountant)
    assert unknown_group.status_code == 422


def test_maintainers_list_sessions_by_month_and_machine(api: Api, db: Session) -> None:
    _november(db)
    maintainer = api.as_role(UserRole.MAINTAINER)
    listed = api.client.get("/sessions?month=2026-11&machine_id=laser-1", headers=maintainer)
    assert [s["session_id"] for s in listed.json()] == [str(ADA_1), str(ADA_2), str(BOB_1)]
    elsewhere = api.client.get("/sessions?month=2026-11&machine_id=mill", headers=maintainer)
    assert elsewhere.json() == []
    december = api.client.get("/sessions?month=2026-12", headers=maintainer).json()
    assert [(s["session_id"], s["badge_seconds"]) for s in december] == [(str(DECEMBER), 3600)]
    one = api.client.get(f"/sessions/{BOB_1}", headers=maintainer).json()
    assert (one["member_id"], one["end_reason"]) == ("m-0002", "badge_out")
    assert api.client.get(f"/sessions/{uuid.uuid4()}", headers=maintainer).status_code == 404


def test_a_member_sees_only_its_own_usage_and_sessions(api: Api, db: Session) -> None:
    ada, bob = _november(db)
    member = api.as_role(UserRole.MEMBER, member_id=ada)
    usage = api.client.get("/me/usage?month=2026-11", headers=member).json()
    assert [
        (u["member_id"], u["sessions"], u["badge_seconds"], u["busy_seconds"], u["energy_wh"])
        for u in usage
    ] == [("m-0001", 2, 7200, 1200, "310.5")]
    sessions = api.client.get("/me/sessions?month=2026-11", headers=member).json()
    assert [s["session_id"] for s in sessions] == [str(ADA_1), str(ADA_2)]
    assert api.client.get(f"/me/sessions/{ADA_1}", headers=member).status_code == 200
    # Bob's session is not there for Ada, whichever way she asks.
    assert api.client.get(f"/me/sessions/{BOB_1}", headers=member).status_code == 404
    for path in (
        f"/sessions/{BOB_1}",
        f"/sessions?month=2026-11&member_id={bob}",
        "/usage?month=2026-11",
        "/usage/detail?month=2026-11",
        f"/members/{bob}",
    ):
        assert api.client.get(path, headers=member).status_code == 403, path
