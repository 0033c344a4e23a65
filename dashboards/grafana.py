"""What the dashboards share, in grafana-foundation-sdk's types: the InfluxDB datasource, an
InfluxQL target (the SDK has builders for Prometheus, Loki and others, none for InfluxDB), the
`site` and `machine` template variables, and the colours of thresholds and machine states.
"""

from __future__ import annotations

from typing import Any, Self

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

from dashboards.queries import Format, Query, machine_values, site_values

DATASOURCE_TYPE = "influxdb"
DATASOURCE_UID = "machinerie-influxdb"
DATASOURCE_NAME = "Machinerie InfluxDB"
FOLDER_UID = "machinerie"
FOLDER_TITLE = "Machinerie"
# A regular expression every tag value matches: Grafana sends it for "All" instead of a list
# of every value, which keeps the query short on a site with many machines.
ALL_VALUE = ".*"


def datasource() -> dashboard.DataSourceRef:
    return dashboard.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class InfluxQLTarget(cogvariants.Dataquery):
    """A raw InfluxQL query as Grafana's InfluxDB datasource stores it in a panel."""

    _KEYS = frozenset({"refId", "datasource", "query", "rawQuery", "resultFormat", "alias"})

    def __init__(
        self, ref_id: str, query: Query, source: dashboard.DataSourceRef | None = None
    ) -> None:
        self.ref_id = ref_id
        self.query = query
        self.source = source or datasource()

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": self.source,
            "query": self.query.influxql,
            "rawQuery": True,
            "resultFormat": self.query.format.value,
        }
        if self.query.alias:
            payload["alias"] = self.query.alias
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Strict: a key Grafana's InfluxQL editor does not write, or a query built in the
        visual editor instead of raw InfluxQL, is refused."""
        unknown = set(data) - cls._KEYS
        if unknown or data.get("rawQuery") is not True:
            raise ValueError(f"not a raw InfluxQL target: {sorted(unknown) or data}")
        query = Query(
            name="",
            influxql=str(data["query"]),
            format=Format(data["resultFormat"]),
            alias=str(data.get("alias", "")),
        )
        return cls(str(data["refId"]), query, dashboard.DataSourceRef.from_json(data["datasource"]))


def register_influxdb_targets() -> None:
    """Teach the SDK's JSON decoder InfluxDB targets (it keeps unknown ones as raw dicts)."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(
            identifier=DATASOURCE_TYPE, from_json_hook=InfluxQLTarget.from_json
        )
    )


class Target(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: Query, ref_id: str = "A") -> None:
        self._target = InfluxQLTarget(ref_id, query)

    def build(self) -> cogvariants.Dataquery:
        return self._target


def _all_selected() -> dashboard.VariableOption:
    return dashboard.VariableOption(selected=True, text=["All"], value=["$__all"])


def site_variable(measurement: str) -> dashboard_builders.QueryVariable:
    return _tag_variable("site", "Site", site_values(measurement))


def machine_variable(measurement: str) -> dashboard_builders.QueryVariable:
    return _tag_variable("machine", "Machine", machine_values(measurement))


def _tag_variable(name: str, label: str, influxql: str) -> dashboard_builders.QueryVariable:
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(datasource())
        .query(influxql)
        .refresh(dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(ALL_VALUE)
        .current(_all_selected())
    )


def steps(*pairs: tuple[float | None, str]) -> dashboard_builders.ThresholdsConfig:
    """Absolute thresholds: the first pair's value is None (from minus infinity)."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard.ThresholdsMode.ABSOLUTE)
        .steps([dashboard.Threshold(value=value, color=colour) for value, colour in pairs])
    )


# The colours of hub/telemetry/points.py STATE_CODES.
STATES: tuple[tuple[int, str, str], ...] = (
    (0, "offline", "text"),
    (1, "idle", "blue"),
    (2, "running", "green"),
    (3, "paused", "yellow"),
    (4, "alarm", "red"),
)


def state_mappings() -> list[dashboard.ValueMapping]:
    """State codes shown as their names, in their colours."""
    options = {
        str(code): dashboard.ValueMappingResult(text=name, color=colour, index=code)
        for code, name, colour in STATES
    }
    return [dashboard.ValueMap(options=options)]


def transformation(kind: str, options: dict[str, object]) -> dashboard.DataTransformerConfig:
    return dashboard.DataTransformerConfig(id_val=kind, options=options)


def custom_value(key: str, value: object) -> dashboard.DynamicConfigValue:
    return dashboard.DynamicConfigValue(id_val=key, value=value)
