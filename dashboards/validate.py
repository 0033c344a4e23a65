"""Checks a dashboard's JSON the way Grafana would take it: through grafana-foundation-sdk's
schema types (read back with the SDK's `Dashboard.from_json` and written again, nothing may be
lost or changed: a misspelt or unknown key would be), panel ids unique, every datasource
reference on the provisioned InfluxDB datasource, every `$variable` defined.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard

from dashboards.grafana import DATASOURCE_TYPE, DATASOURCE_UID, register_influxdb_targets

# Grafana's own macros and the InfluxDB datasource's legend aliases.
BUILT_IN = frozenset({"timeFilter", "__interval", "__interval_ms", "__range", "__from", "__to"})
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_MAX_DIFFERENCES = 10


def plain(model: object) -> dict[str, Any]:
    """A model of the SDK as plain JSON values (enums become their values)."""
    data: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return data


def problems(data: dict[str, Any]) -> list[str]:
    """What is wrong with one dashboard's JSON; empty when Grafana would take it as meant."""
    found = _schema_problems(data)
    panels = list(_panels(data))
    found += _duplicate_ids(panels)
    found += _dangling_datasources(data, panels)
    found += _undefined_variables(data, panels)
    return found


def _schema_problems(data: dict[str, Any]) -> list[str]:
    register_default_plugins()
    register_influxdb_targets()
    try:
        again = plain(dashboard.Dashboard.from_json(data))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return [f"not a Grafana dashboard: {error!r}"]
    return [f"schema: {line}" for line in differences(data, again)][:_MAX_DIFFERENCES]


def differences(before: object, after: object, path: str = "$") -> list[str]:
    """Where two JSON values differ, as JSON paths (a key the schema dropped, a changed value)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = [f"{path}.{key}: unknown to the schema" for key in before if key not in after]
        found += [f"{path}.{key}: added by the schema" for key in after if key not in before]
        for key in before.keys() & after.keys():
            found += differences(before[key], after[key], f"{path}.{key}")
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            line
            for index, (one, other) in enumerate(zip(before, after, strict=True))
            for line in differences(one, other, f"{path}[{index}]")
        ]
    return [] if before == after else [f"{path}: {before!r} read back as {after!r}"]


def _panels(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in data.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def _duplicate_ids(panels: list[dict[str, Any]]) -> list[str]:
    seen: set[object] = set()
    found = []
    for panel in panels:
        number = panel.get("id")
        if number is None:
            found.append(f"panel {panel.get('title')!r} has no id")
        elif number in seen:
            found.append(f"panel id {number} is used twice")
        seen.add(number)
    return found


def _datasource_refs(
    data: dict[str, Any], panels: list[dict[str, Any]]
) -> Iterator[tuple[str, object]]:
    for variable in data.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            yield f"variable {variable.get('name')}", variable.get("datasource")
    for annotation in data.get("annotations", {}).get("list", []):
        yield f"annotation {annotation.get('name')}", annotation.get("datasource")
    for panel in panels:
        if panel.get("type") == "row":
            continue
        yield f"panel {panel.get('title')!r}", panel.get("datasource")
        for target in panel.get("targets", []):
            yield (
                f"panel {panel.get('title')!r} target {target.get('refId')}",
                target.get("datasource"),
            )


def _dangling_datasources(data: dict[str, Any], panels: list[dict[str, Any]]) -> list[str]:
    expected = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
    return [
        f"{where}: datasource {ref!r} is not the provisioned {DATASOURCE_UID}"
        for where, ref in _datasource_refs(data, panels)
        if ref != expected
    ]


def _texts(data: dict[str, Any], panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for variable in data.get("templating", {}).get("list", []):
        yield f"variable {variable.get('name')}", str(variable.get("query", ""))
    for panel in panels:
        yield f"panel {panel.get('title')!r}", str(panel.get("title", ""))
        if panel.get("repeat"):
            yield f"panel {panel.get('title')!r} repeat", f"${panel['repeat']}"
        for target in panel.get("targets", []):
            yield f"panel {panel.get('title')!r} query", str(target.get("query", ""))


def _undefined_variables(data: dict[str, Any], panels: list[dict[str, Any]]) -> list[str]:
    defined = {variable.get("name") for variable in data.get("templating", {}).get("list", [])}
    found = []
    for where, text in _texts(data, panels):
        for match in _VARIABLE.finditer(text):
            name = next(group for group in match.groups() if group)
            if name not in defined and name not in BUILT_IN:
                found.append(f"{where}: ${name} is not a variable of the dashboard")
    return found
