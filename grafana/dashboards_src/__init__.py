"""airdeck Grafana dashboards as code (grafana-foundation-sdk 0.0.21).

Each module builds one dashboard; ``grafana/generate.py`` (or ``python -m dashboards_src`` from
``grafana/``) writes them to ``grafana/dashboards/<uid>.json``. ``iter_queries()`` lists every PromQL
query of every panel so tests can lint them and an end-to-end test can evaluate them against a live
Prometheus (``render_expr()`` replaces Grafana's variables with concrete values first).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from . import dag_detail, overview, pipeline, scheduler, workers

MODULES = (overview, scheduler, dag_detail, workers, pipeline)


@dataclass(frozen=True)
class Query:
    dashboard_uid: str
    dashboard_title: str
    panel_title: str
    ref_id: str
    expr: str
    legend: str
    panel_type: str


@dataclass(frozen=True)
class VariableQuery:
    dashboard_uid: str
    name: str
    query: str


def build_all() -> dict[str, dict]:
    """uid -> dashboard JSON model (a plain dict), in a stable order."""
    out = {}
    for module in MODULES:
        model = json.loads(JSONEncoder(sort_keys=True).encode(module.build().build()))
        out[module.UID] = model
    return out


def to_json(model: dict) -> str:
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


def _panels(model: dict) -> Iterator[dict]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def iter_queries() -> Iterator[Query]:
    for uid, model in build_all().items():
        for panel in _panels(model):
            for t in panel.get("targets", []):
                yield Query(uid, model["title"], panel["title"], t.get("refId", ""), t["expr"],
                            t.get("legendFormat", ""), panel["type"])


def iter_variable_queries() -> Iterator[VariableQuery]:
    for uid, model in build_all().items():
        for var in model.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                q = var["query"]
                yield VariableQuery(uid, var["name"], q if isinstance(q, str) else q.get("query", ""))


GRAFANA_DEFAULTS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


def render_expr(expr: str, values: dict[str, str] | None = None) -> str:
    """Replace Grafana variables: built-ins by durations, dashboard variables by ``.*`` (or values)."""
    values = {**GRAFANA_DEFAULTS, **(values or {})}

    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, ".*")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)
