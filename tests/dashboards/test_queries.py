"""Every panel's InfluxQL, run as Grafana sends it against a real InfluxDB holding the seeded
workshop (tests/dashboards/seed.py), gives the numbers worked out by hand below."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from dashboards import queries as q
from dashboards.export import load
from machinerie.servers import InfluxDB
from tests.dashboards import seed
from tests.dashboards.grafana_macros import render

# The whole seeded period, and the live telemetry's quarter hour (with an hour before it).
START, END = seed.local(11, 1, 0), seed.local(12, 31, 23, 59)
LIVE_START, LIVE_END = seed.LIVE_AT - timedelta(hours=1), seed.LIVE_AT + timedelta(minutes=15)
DONY = {"site": ["dony"]}
MINUTE_MS = 60_000


@pytest.fixture(scope="module")
def store() -> Iterator[InfluxDB]:
    """One InfluxDB for the module: the queries only read."""
    with InfluxDB() as server:
        server.create_database(seed.DATABASE)
        server.write(seed.lines(), seed.DATABASE)
        yield server


def run(
    store: InfluxDB,
    query: q.Query | str,
    variables: dict[str, list[str]] | None = None,
    *,
    start: datetime = START,
    end: datetime = END,
    interval: str = "5m",
) -> list[dict[str, Any]]:
    """The series of the answer, as InfluxDB returns them (empty when there is none)."""
    text = query.influxql if isinstance(query, q.Query) else query
    sent = render(text, start=start, end=end, interval=interval, variables=variables)
    result = store.query(sent, seed.DATABASE)["results"][0]
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per row, with the series' tags: what Grafana's table format shows."""
    return [
        {**one.get("tags", {}), **dict(zip(one["columns"], values, strict=True))}
        for one in series
        for values in one["values"]
    ]


def without_time(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in row.items() if key != "time"} for row in found]


def by_tag(series: list[dict[str, Any]], tag: str) -> dict[str, list[Any]]:
    """A time series per tag value: the values, in time order (Grafana's legend `$tag_x`)."""
    return {one["tags"][tag]: [values[1] for values in one["values"]] for one in series}


CHECKS: dict[str, Callable[[InfluxDB], None]] = {}


def checks(query: q.Query) -> Callable[[Callable[[InfluxDB], None]], Callable[[InfluxDB], None]]:
    def register(check: Callable[[InfluxDB], None]) -> Callable[[InfluxDB], None]:
        CHECKS[query.name] = check
        return check

    return register


# ---------------------------------------------------------------- live machines


@checks(q.LIVE_STATE)
def live_state(store: InfluxDB) -> None:
    found = without_time(rows(run(store, q.LIVE_STATE, DONY, start=LIVE_START, end=LIVE_END)))
    assert found == [
        # In alarm, no power; its progress is the last it reported, before the alarm.
        {"machine_id": "cnc-1", "state_code": 4, "power_w": 0, "progress_pct": 20},
        {"machine_id": "laser-1", "state_code": 2, "power_w": 1900, "progress_pct": 60},
        {"machine_id": "printer-1", "state_code": 0, "power_w": None, "progress_pct": None},
    ]
    one = run(store, q.LIVE_STATE, {"site": ["dony"], "machine": ["laser-1"]})
    assert [row["machine_id"] for row in rows(one)] == ["laser-1"]


def _count(series: list[dict[str, Any]]) -> int | None:
    return series[0]["values"][0][1] if series else None


@checks(q.MACHINES_RUNNING)
def machines_running(store: InfluxDB) -> None:
    assert _count(run(store, q.MACHINES_RUNNING, DONY)) == 1  # laser-1
    assert _count(run(store, q.MACHINES_RUNNING)) == 2  # and Kultura's laser-k
    # None running: no series at all, which the stat panel shows as its "no value", 0.
    assert _count(run(store, q.MACHINES_RUNNING, {"machine": ["printer-1"]})) is None


@checks(q.MACHINES_IN_ALARM)
def machines_in_alarm(store: InfluxDB) -> None:
    assert _count(run(store, q.MACHINES_IN_ALARM, DONY)) == 1  # cnc-1
    assert _count(run(store, q.MACHINES_IN_ALARM, {"machine": ["laser-1", "printer-1"]})) is None


@checks(q.STATE_TIMELINE)
def state_timeline(store: InfluxDB) -> None:
    series = run(store, q.STATE_TIMELINE, DONY, start=seed.LIVE_AT, end=LIVE_END, interval="5m")
    # Buckets of 5 minutes from 12:00 to 12:15; a state holds until the next one.
    assert by_tag(series, "machine_id") == {
        "cnc-1": [2, 2, 4, 4],
        "laser-1": [1, 2, 2, 2],
        "printer-1": [None, 0, 0, 0],
    }
    assert series[0]["values"][1][0] - series[0]["values"][0][0] == 5 * MINUTE_MS


@checks(q.POWER)
def power(store: InfluxDB) -> None:
    series = run(store, q.POWER, DONY, start=seed.LIVE_AT, end=LIVE_END, interval="5m")
    # printer-1 reported no power: it has no series.
    assert by_tag(series, "machine_id") == {
        "cnc-1": [3000, None, 0, None],
        "laser-1": [50, 1800, 1900, None],
    }
    ten = run(store, q.POWER, {"machine": ["laser-1"]}, start=seed.LIVE_AT, end=LIVE_END,
              interval="10m")  # fmt: skip
    assert by_tag(ten, "machine_id") == {"laser-1": [(50 + 1800) / 2, 1900]}


# ---------------------------------------------------------------- usage


def _grid(series: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    return {(row["weekday"], row["hour"]): row["hours"] for row in rows(series)}


@checks(q.HOUR_OF_WEEK)
def hour_of_week(store: InfluxDB) -> None:
    assert _grid(run(store, q.HOUR_OF_WEEK, DONY)) == {
        ("1", "00"): 1.0,  # printer-1 after midnight, Sunday to Monday
        ("1", "10"): 1.5,  # laser-1 10:00-11:00, cnc-1 10:30-11:00
        ("1", "11"): 0.5,
        ("1", "14"): 0.5,
        ("2", "09"): 0.75,  # cnc-1 from 09:15
        ("2", "10"): 1.75,  # cnc-1 until 10:45, laser-1 10:00-11:00
        ("2", "11"): 1.0,
        ("7", "23"): 0.5,  # printer-1 from 23:30 on Sunday
    }
    # The panel repeats per machine: one machine alone.
    assert _grid(run(store, q.HOUR_OF_WEEK, {"machine": ["laser-1"]})) == {
        ("1", "10"): 1.0,
        ("1", "11"): 0.5,
        ("1", "14"): 0.5,
        ("2", "10"): 1.0,
        ("2", "11"): 1.0,
    }


@checks(q.ORGANISATION_MONTHS)
def organisation_months(store: InfluxDB) -> None:
    found = {
        (row["month"], row["organisation"]): row["hours"]
        for row in rows(run(store, q.ORGANISATION_MONTHS, DONY))
    }
    assert found == {
        ("2026-11", "Atelier Bois"): 3.0,  # 1.5 h laser-1 + 1.5 h cnc-1
        ("2026-11", "Studio Nord"): 0.5,
        ("2026-11", "private"): 1.5,  # ended on 30 November, started on the 29th
        ("2026-12", "Studio Nord"): 2.5,
    }
    kultura = rows(run(store, q.ORGANISATION_MONTHS, {"site": ["kultura"]}))
    assert [(row["organisation"], row["hours"]) for row in kultura] == [
        ("Kultura asbl", 10 * sum(range(1, 13)) / 60)
    ]


@checks(q.TOP_MEMBERS)
def top_members(store: InfluxDB) -> None:
    found = [(row["member_id"], row["hours"]) for row in rows(run(store, q.TOP_MEMBERS, DONY))]
    assert found == [("m-1", 3.0), ("m-4", 2.0), ("m-3", 1.5), ("m-2", 1.0)]
    # Twelve Kultura members: the ten with the most hours, most first.
    kultura = rows(run(store, q.TOP_MEMBERS, {"site": ["kultura"]}))
    assert [row["member_id"] for row in kultura] == [f"k-{n:02d}" for n in range(12, 2, -1)]
    assert kultura[0]["hours"] == 2.0


@checks(q.MACHINE_USAGE)
def machine_usage(store: InfluxDB) -> None:
    found = {row.pop("machine_id"): row for row in without_time(rows(run(store, q.MACHINE_USAGE,
                                                                           DONY)))}  # fmt: skip
    assert found["laser-1"] == {
        "sessions": 3,
        "badge_hours": 4.0,  # 1.5 + 0.5 + 2
        "busy_hours": pytest.approx((3600 + 900 + 6000) / 3600),
        "busy_share": pytest.approx(10500 / 14400),
    }
    # The December session measured no busy time: the share is of both sessions' badge time.
    assert found["cnc-1"] == {
        "sessions": 2,
        "badge_hours": 2.0,
        "busy_hours": 1.25,
        "busy_share": 0.625,
    }
    assert found["printer-1"] == {
        "sessions": 1,
        "badge_hours": 1.5,
        "busy_hours": pytest.approx(5000 / 3600),
        "busy_share": pytest.approx(5000 / 5400),
    }


@checks(q.ENERGY)
def energy(store: InfluxDB) -> None:
    found = by_tag(run(store, q.ENERGY, DONY), "machine_id")
    # printer-1 has no meter: no bar.
    assert found == {"cnc-1": [3.5], "laser-1": [pytest.approx(3.6)]}
    december = run(store, q.ENERGY, DONY, start=seed.local(12, 1, 0))
    assert by_tag(december, "machine_id") == {"cnc-1": [0.5], "laser-1": [2.0]}


# ---------------------------------------------------------------- maintenance


@checks(q.MAINTENANCE_COUNTERS)
def maintenance_counters(store: InfluxDB) -> None:
    found = without_time(rows(run(store, q.MAINTENANCE_COUNTERS, DONY)))
    assert found == [
        {"counter": "badge_hours", "machine_id": "cnc-1", "plan": "spindle-bearings",
         "value": 510, "warning": 450, "limit": 500, "ratio": 1.02, "due_in_days": None},
        # The last of two points; due 14 February 09:00 UTC, from 7 December 11:00 UTC.
        {"counter": "busy_hours", "machine_id": "laser-1", "plan": "laser-tube",
         "value": 1803.5, "warning": 1800, "limit": 2000, "ratio": 1803.5 / 2000,
         "due_in_days": pytest.approx(68 + 22 / 24)},
        {"counter": "jobs", "machine_id": "printer-1", "plan": "nozzle",
         "value": 12, "warning": None, "limit": 100, "ratio": 0.12, "due_in_days": None},
    ]  # fmt: skip


@checks(q.MAINTENANCE_RATIO)
def maintenance_ratio(store: InfluxDB) -> None:
    series = run(store, q.MAINTENANCE_RATIO, DONY)
    found = {
        f"{one['tags']['machine_id']} {one['tags']['plan']} ({one['tags']['counter']})": one[
            "values"
        ][0][1]
        for one in series
    }
    assert found == {
        "cnc-1 spindle-bearings (badge_hours)": 1.02,
        "laser-1 laser-tube (busy_hours)": 0.90175,
        "printer-1 nozzle (jobs)": 0.12,
    }
    # Before the second laser-tube point, the first one's ratio.
    early = run(store, q.MAINTENANCE_RATIO, {"machine": ["laser-1"]}, end=seed.local(11, 30, 0))
    assert [one["values"][0][1] for one in early] == [0.75]


@checks(q.ALERTS)
def alerts(store: InfluxDB) -> None:
    found = rows(run(store, q.ALERTS, DONY))
    assert [(row["machine_id"], row["level"], row["value"], row["threshold"]) for row in found] == [
        ("laser-1", "warning", 1803.5, 1800),
        ("cnc-1", "limit", 510, 500),
        ("cnc-1", "warning", 452, 450),
    ]
    assert [row["time"] for row in found] == [
        int(alert.raised_at.timestamp() * 1000) for alert in reversed(seed.ALERTS[:3])
    ]
    assert found[1]["message"] == seed.ALERTS[1].message
    assert {row["plan"] for row in found} == {"laser-tube", "spindle-bearings"}
    assert {row["counter"] for row in found} == {"busy_hours", "badge_hours"}


@checks(q.ALERTS_BY_LEVEL)
def alerts_by_level(store: InfluxDB) -> None:
    found = {level: values[0] for level, values in by_tag(run(store, q.ALERTS_BY_LEVEL, DONY),
                                                             "level").items()}  # fmt: skip
    assert found == {"limit": 1, "warning": 2}
    november = run(store, q.ALERTS_BY_LEVEL, DONY, end=seed.local(11, 30, 0))
    assert by_tag(november, "level") == {"warning": [1]}


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_panel_query_gives_the_hand_computed_numbers(store: InfluxDB, name: str) -> None:
    CHECKS[name](store)


def _panel_queries() -> set[str]:
    return {
        target["query"]
        for board in load()
        for panel in board["panels"]
        for target in panel.get("targets", [])
    }


def test_every_query_of_every_panel_is_checked() -> None:
    # A panel added with a query of its own fails here until the query has a check above.
    assert _panel_queries() == {query.influxql for query in q.PANEL_QUERIES}
    assert set(CHECKS) == {query.name for query in q.PANEL_QUERIES}
    assert len({query.name for query in q.PANEL_QUERIES}) == len(q.PANEL_QUERIES)


def _values(series: list[dict[str, Any]]) -> list[str]:
    return [values[1] for one in series for values in one["values"]]


def test_template_variables_list_sites_and_the_chosen_sites_machines(store: InfluxDB) -> None:
    variables = {
        (board["uid"], variable["name"]): variable["query"]
        for board in load()
        for variable in board["templating"]["list"]
    }
    assert set(variables) == {
        (uid, name)
        for uid in ("machinerie-live", "machinerie-usage", "machinerie-maintenance")
        for name in ("site", "machine")
    }
    for (_, name), query in variables.items():
        if name == "site":
            assert _values(run(store, query)) == ["dony", "kultura"]
    machines = {uid: query for (uid, name), query in variables.items() if name == "machine"}
    assert _values(run(store, machines["machinerie-live"], DONY)) == [
        "cnc-1",
        "laser-1",
        "printer-1",
    ]
    assert _values(run(store, machines["machinerie-usage"], {"site": ["kultura"]})) == ["laser-k"]
    both = _values(run(store, machines["machinerie-maintenance"], {"site": ["dony", "kultura"]}))
    assert both == ["cnc-1", "laser-1", "laser-k", "printer-1"]


def test_a_machine_chosen_alone_does_not_match_its_longer_namesakes(influxdb: InfluxDB) -> None:
    # The variable sits between ^ and $: laser-1 must not take laser-10's sessions.
    influxdb.create_database(seed.DATABASE)
    at = seed.local(12, 7, 10)
    lines = []
    for machine, minutes in (("laser-1", 30), ("laser-10", 60), ("laser-1x", 90)):
        session = seed.Session("dony", machine, "m-9", None, at, at + timedelta(minutes=minutes))
        lines += seed.session_lines(session)
    influxdb.write(lines, seed.DATABASE)
    found = rows(run(influxdb, q.MACHINE_USAGE, {"machine": ["laser-1"]}))
    assert [(row["machine_id"], row["badge_hours"]) for row in found] == [("laser-1", 0.5)]
    both = rows(run(influxdb, q.MACHINE_USAGE, {"machine": ["laser-1", "laser-10"]}))
    assert [row["machine_id"] for row in both] == ["laser-1", "laser-10"]
