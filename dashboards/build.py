"""The three dashboards, built with grafana-foundation-sdk: live machines, usage, maintenance.

Each panel runs one query of dashboards/queries.py; docs/dashboards.md says what each shows.
"""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders import (
    barchart,
    bargauge,
    common,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard

from dashboards import queries as q
from dashboards.grafana import (
    Target,
    custom_value,
    datasource,
    machine_variable,
    site_variable,
    state_mappings,
    steps,
    transformation,
)

TAGS = ["machinerie"]
BOTTOM = common_models.LegendPlacement.BOTTOM
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _skeleton(uid: str, title: str, measurement: str) -> dashboard_builders.Dashboard:
    return (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .tags(TAGS)
        .timezone("browser")
        .week_start("monday")
        .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
        .with_variable(site_variable(measurement))
        .with_variable(machine_variable(measurement))
    )


def _hide_time(extra: dict[str, bool] | None = None) -> dashboard.DataTransformerConfig:
    # InfluxQL puts the start of the range in a Time column of every aggregate row.
    return transformation("organize", {"excludeByName": {"Time": True, **(extra or {})}})


def _last_value() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


# ---------------------------------------------------------------- live machines


def live() -> dashboard.Dashboard:
    return (
        _skeleton("machinerie-live", "Machinerie: machines live", "machine")
        .description("The state every machine reported last, its power and its progress.")
        .time("now-6h", "now")
        .refresh("30s")
        .with_panel(_machines_in_state("Machines running", q.MACHINES_RUNNING, "green"))
        .with_panel(_machines_in_state("Machines in alarm", q.MACHINES_IN_ALARM, "red"))
        .with_panel(_live_state())
        .with_panel(_state_timeline())
        .with_panel(_power())
        .build()
    )


def _machines_in_state(title: str, query: q.Query, colour: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .datasource(datasource())
        .with_target(Target(query))
        .span(4)
        .height(4)
        .no_value("0")
        .reduce_options(_last_value())
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .thresholds(steps((None, "text"), (1, colour)))
    )


def _live_state() -> table.Panel:
    return (
        table.Panel()
        .title("Machines now")
        .description(
            "Last state per machine, and the last power and progress each reported "
            "(each field's own last value)."
        )
        .datasource(datasource())
        .with_target(Target(q.LIVE_STATE))
        .span(16)
        .height(8)
        .with_transformation(_hide_time())
        .override_by_name(
            "state_code",
            [
                custom_value("displayName", "state"),
                custom_value("mappings", state_mappings()),
                custom_value("custom.cellOptions", {"type": "color-background"}),
            ],
        )
        .override_by_name("power_w", [custom_value("unit", "watt")])
        .override_by_name(
            "progress_pct", [custom_value("unit", "percent"), custom_value("max", 100)]
        )
        .sort_by([common.TableSortByFieldState().display_name("machine_id")])
    )


def _state_timeline() -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title("State over time")
        .datasource(datasource())
        .with_target(Target(q.STATE_TIMELINE))
        .span(24)
        .height(8)
        .mappings(state_mappings())
        .merge_values(True)
        .show_value(common_models.VisibilityMode.NEVER)
        .fill_opacity(80)
        .line_width(0)
    )


def _power() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Power")
        .datasource(datasource())
        .with_target(Target(q.POWER))
        .span(24)
        .height(8)
        .unit("watt")
        .span_nulls(False)
        .legend(common.VizLegendOptions().show_legend(True).placement(BOTTOM))
    )


# ---------------------------------------------------------------- usage


def usage() -> dashboard.Dashboard:
    return (
        _skeleton("machinerie-usage", "Machinerie: usage", "session")
        .description("Badge hours per machine, organisation and member; busy time and energy.")
        .time("now-90d", "now")
        .with_panel(_machine_usage())
        .with_panel(_energy())
        .with_panel(_organisation_months())
        .with_panel(_top_members())
        .with_panel(_hour_of_week())
        .build()
    )


def _machine_usage() -> table.Panel:
    return (
        table.Panel()
        .title("Sessions per machine")
        .description(
            "Badge hours are billed; busy hours are the machine's own (spindle on, laser firing, "
            "printing), from the sessions that measured them."
        )
        .datasource(datasource())
        .with_target(Target(q.MACHINE_USAGE))
        .span(14)
        .height(8)
        .with_transformation(_hide_time())
        .override_by_name("badge_hours", [custom_value("unit", "h"), custom_value("decimals", 1)])
        .override_by_name("busy_hours", [custom_value("unit", "h"), custom_value("decimals", 1)])
        .override_by_name("busy_share", [custom_value("unit", "percentunit")])
        .sort_by([common.TableSortByFieldState().display_name("badge_hours").desc(True)])
    )


def _energy() -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title("Energy per machine")
        .description("Energy drawn during the sessions that ended in the range (metered ones).")
        .datasource(datasource())
        .with_target(Target(q.ENERGY))
        .span(10)
        .height(8)
        .unit("kwatth")
        .decimals(1)
        .reduce_options(_last_value())
        .display_mode(common_models.BarGaugeDisplayMode.BASIC)
        .orientation(common_models.VizOrientation.HORIZONTAL)
    )


def _organisation_months() -> barchart.Panel:
    return (
        barchart.Panel()
        .title("Hours per organisation per month")
        .description("Badge hours by the month a session started in, the month that bills it.")
        .datasource(datasource())
        .with_target(Target(q.ORGANISATION_MONTHS))
        .span(14)
        .height(9)
        .with_transformation(
            transformation(
                "groupingToMatrix",
                {
                    "rowField": "month",
                    "columnField": "organisation",
                    "valueField": "hours",
                    "emptyValue": "zero",
                },
            )
        )
        .unit("h")
        .stacking(common_models.StackingMode.NORMAL)
        .fill_opacity(80)
        .legend(common.VizLegendOptions().show_legend(True).placement(BOTTOM))
    )


def _top_members() -> table.Panel:
    return (
        table.Panel()
        .title("Top members")
        .description("The ten members with the most badge hours in the range.")
        .datasource(datasource())
        .with_target(Target(q.TOP_MEMBERS))
        .span(10)
        .height(9)
        .with_transformation(_hide_time())
        .override_by_name("hours", [custom_value("unit", "h"), custom_value("decimals", 1)])
        .sort_by([common.TableSortByFieldState().display_name("hours").desc(True)])
    )


def _hour_of_week() -> table.Panel:
    weekday_names = dashboard.ValueMap(
        options={
            str(day): dashboard.ValueMappingResult(text=name, index=day)
            for day, name in enumerate(WEEKDAYS, start=1)
        }
    )
    return (
        table.Panel()
        .title("Utilisation by hour of the week: $machine")
        .description("Badge hours per local weekday (rows) and hour (columns), one grid a machine.")
        .datasource(datasource())
        .with_target(Target(q.HOUR_OF_WEEK))
        .span(24)
        .height(8)
        .repeat("machine")
        .repeat_direction("v")
        .show_header(True)
        .with_transformation(
            transformation(
                "groupingToMatrix",
                {
                    "rowField": "weekday",
                    "columnField": "hour",
                    "valueField": "hours",
                    "emptyValue": "zero",
                },
            )
        )
        .unit("h")
        .decimals(1)
        .color_scheme(
            dashboard_builders.FieldColor().mode(dashboard.FieldColorModeId.CONTINUOUS_GR_YL_RD)
        )
        .override_by_field_type(
            "number", [custom_value("custom.cellOptions", {"type": "color-background"})]
        )
        .override_by_name(
            "weekday\\hour",
            [custom_value("mappings", [weekday_names]), custom_value("displayName", "")],
        )
    )


# ---------------------------------------------------------------- maintenance


def maintenance() -> dashboard.Dashboard:
    return (
        _skeleton("machinerie-maintenance", "Machinerie: maintenance", "maintenance")
        .description("Maintenance counters against their thresholds, and the alerts raised.")
        .time("now-1y", "now")
        .with_panel(_alerts_by_level())
        .with_panel(_maintenance_ratio())
        .with_panel(_maintenance_counters())
        .with_panel(_alerts())
        .build()
    )


def _ratio_steps() -> dashboard_builders.ThresholdsConfig:
    # Plans set their own warning; 80 % and the limit are the common marks across plans.
    return steps((None, "green"), (0.8, "orange"), (1, "red"))


def _alerts_by_level() -> stat.Panel:
    return (
        stat.Panel()
        .title("Alerts raised")
        .datasource(datasource())
        .with_target(Target(q.ALERTS_BY_LEVEL))
        .span(6)
        .height(8)
        .no_value("0")
        .reduce_options(_last_value())
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .color_mode(common_models.BigValueColorMode.VALUE)
        .override_by_name("warning", [custom_value("color", _fixed("orange"))])
        .override_by_name("limit", [custom_value("color", _fixed("red"))])
    )


def _fixed(colour: str) -> dict[str, str]:
    return {"mode": "fixed", "fixedColor": colour}


def _maintenance_ratio() -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title("Counters against their limit")
        .datasource(datasource())
        .with_target(Target(q.MAINTENANCE_RATIO))
        .span(18)
        .height(8)
        .unit("percentunit")
        .min(0)
        .max(1.2)
        .thresholds(_ratio_steps())
        .reduce_options(_last_value())
        .display_mode(common_models.BarGaugeDisplayMode.LCD)
        .orientation(common_models.VizOrientation.HORIZONTAL)
    )


def _maintenance_counters() -> table.Panel:
    gauge = {"type": "gauge", "mode": "basic"}
    return (
        table.Panel()
        .title("Maintenance counters")
        .description("Each plan's counter since its last intervention, its warning and its limit.")
        .datasource(datasource())
        .with_target(Target(q.MAINTENANCE_COUNTERS))
        .span(24)
        .height(8)
        .with_transformation(_hide_time())
        .override_by_name(
            "ratio",
            [
                custom_value("unit", "percentunit"),
                custom_value("min", 0),
                custom_value("max", 1),
                custom_value("thresholds", _ratio_steps().build()),
                custom_value("custom.cellOptions", gauge),
            ],
        )
        .override_by_name("due_in_days", [custom_value("unit", "d"), custom_value("decimals", 0)])
        .sort_by([common.TableSortByFieldState().display_name("ratio").desc(True)])
    )


def _alerts() -> table.Panel:
    levels = dashboard.ValueMap(
        options={
            "warning": dashboard.ValueMappingResult(color="orange", index=0),
            "limit": dashboard.ValueMappingResult(color="red", index=1),
        }
    )
    return (
        table.Panel()
        .title("Alerts")
        .description("Maintenance thresholds crossed, newest first.")
        .datasource(datasource())
        .with_target(Target(q.ALERTS))
        .span(24)
        .height(10)
        .show_header(True)
        .override_by_name(
            "level",
            [
                custom_value("mappings", [levels]),
                custom_value("custom.cellOptions", {"type": "color-text"}),
            ],
        )
    )


# ---------------------------------------------------------------- all of them

DASHBOARDS: tuple[Callable[[], dashboard.Dashboard], ...] = (live, usage, maintenance)


def numbered(board: dashboard.Dashboard) -> dashboard.Dashboard:
    """Panel ids 1, 2, 3... in grid order: Grafana needs them unique within a dashboard."""
    for number, panel in enumerate(board.panels or [], start=1):
        panel.id_val = number
    return board


def dashboards() -> list[dashboard.Dashboard]:
    return [numbered(build()) for build in DASHBOARDS]
