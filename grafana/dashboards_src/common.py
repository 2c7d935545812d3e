"""Shared panel and query helpers for the airdeck dashboards (grafana-foundation-sdk 0.0.21)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # 0.0.x marks the classic dashboard builder deprecated in favour of dashboardv2; Grafana 10-12
    # all import the classic JSON model, which is what file provisioning reads.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dash
    from grafana_foundation_sdk.builders import prometheus, stat, timeseries

from grafana_foundation_sdk.models.common import DataSourceRef
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    GridPos,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
TAGS = ["airdeck", "airflow"]


def new_dashboard(uid: str, title: str, description: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dash.DatasourceVariable("datasource").label("Data source").type("prometheus")
        )
        .link(
            dash.DashboardLink("airdeck dashboards")
            .type("dashboards")
            .tags(["airdeck"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


def query_variable(name: str, label: str, query: str, *, multi: bool = True) -> dash.QueryVariable:
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(True)
        .all_value(".*")
    )


def target(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).legend_format(legend or "__auto")
    if instant:
        q = q.instant(True).range(False)
    return q


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=v, color=c) for v, c in steps])
    )


class Panels:
    """Hands out panel ids in order so the generated JSON is stable."""

    def __init__(self) -> None:
        self._next = 1

    def _id(self) -> int:
        n = self._next
        self._next += 1
        return n

    def ts(
        self,
        title: str,
        description: str,
        targets: list[prometheus.Dataquery],
        *,
        unit: str = "short",
        w: int = 12,
        h: int = 8,
        min_zero: bool = True,
        max_one: bool = False,
    ) -> timeseries.Panel:
        p = (
            timeseries.Panel()
            .id(self._id())
            .title(title)
            .description(description)
            .datasource(DATASOURCE)
            .unit(unit)
            .span(w)
            .height(h)
            .fill_opacity(10)
            .line_width(1)
        )
        if min_zero:
            p = p.min(0)
        if max_one:
            p = p.max(1)
        for t in targets:
            p = p.with_target(t)
        return p

    def stat(
        self,
        title: str,
        description: str,
        targets: list[prometheus.Dataquery],
        *,
        unit: str = "short",
        w: int = 4,
        h: int = 4,
        steps: tuple[tuple[float | None, str], ...] = ((None, "green"),),
    ) -> stat.Panel:
        p = (
            stat.Panel()
            .id(self._id())
            .title(title)
            .description(description)
            .datasource(DATASOURCE)
            .unit(unit)
            .span(w)
            .height(h)
            .thresholds(thresholds(*steps))
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        )
        for t in targets:
            p = p.with_target(t)
        return p


def row(title: str) -> dash.Row:
    return dash.Row(title)


__all__ = ["DATASOURCE", "GridPos", "Panels", "new_dashboard", "query_variable", "row", "target"]
