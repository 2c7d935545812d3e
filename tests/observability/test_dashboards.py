"""Grafana dashboards as code: generated JSON is current, and every query is sound.

- The committed grafana/dashboards/*.json equal what grafana/dashboards_src generates.
- Every panel query (and every recording rule) parses (promtool), refers only to series that the
  StatsD mapping, the recording rules, the bridge's self-metrics or Prometheus itself produce, and
  avoids statistically wrong forms: no aggregated quantiles, no averaged ratios, quantiles only from
  bucket rates summed by (le, ...), rate()/increase() only on counters and histogram parts.
- The docs list every dashboard and panel.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "grafana"))

from dashboards_src import build_all, iter_queries, iter_variable_queries, render_expr  # noqa: E402
from dashboards_src.generate import main as generate_main  # noqa: E402
from mapping_model import load_mapping  # noqa: E402

QUERIES = list(iter_queries())
RULE_EXPRS = [
    (r.get("record") or r.get("alert"), r["expr"])
    for path in sorted((REPO / "prometheus" / "rules").glob("*.yml"))
    for g in yaml.safe_load(path.read_text())["groups"]
    for r in g["rules"]
]
# statsd_exporter's self-metrics, which the airdeck bridge keeps (reference §3.9).
BRIDGE_SELF_METRICS = {
    "statsd_exporter_events_total", "statsd_exporter_events_unmapped_total", "statsd_exporter_events_conflict_total",
    "statsd_exporter_events_error_total", "statsd_exporter_events_actions_total", "statsd_exporter_samples_total",
    "statsd_exporter_sample_errors_total", "statsd_exporter_tag_errors_total", "statsd_exporter_udp_packet_drops_total",
    "statsd_exporter_loaded_mappings", "statsd_exporter_config_reloads_total", "statsd_exporter_metrics_total",
    "statsd_metric_mapper_cache_length", "statsd_metric_mapper_cache_gets_total",
    "statsd_metric_mapper_cache_hits_total",
}
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "ALERTS"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
            "inf", "nan"}


def known_series() -> set[str]:
    names = set(BRIDGE_SELF_METRICS | PROMETHEUS_SERIES)
    for rule in load_mapping()["mappings"]:
        if rule.get("action") == "drop":
            continue
        names.add(rule["name"])
        if rule["match_metric_type"] == "observer":
            names |= {rule["name"] + s for s in ("_bucket", "_sum", "_count")}
    names |= {name for name, _ in RULE_EXPRS if name and ":" in name}
    names |= dispatcher_series()
    names |= bridge_series()
    return names


def bridge_series() -> set[str]:
    """The bridge's own metrics as it exports them (statsd_exporter's and airdeck's), from its own collector."""
    from airdeck.metrics.selfmetrics import SelfMetrics

    return {sample.name for family in SelfMetrics(udp_drops=lambda: 0).collect() for sample in family.samples}


def dispatcher_series() -> set[str]:
    """What the alert dispatcher's /metrics exports (job airdeck-alerts), from its own registry."""
    from airdeck.alerts.metrics import AlertMetrics

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {family.name + suffix for family in AlertMetrics().registry.collect()
            for suffix in suffixes.get(family.type, ("",))}


def series_in(expr: str) -> set[str]:
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    found = set()
    for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)", e):
        token = m.group(1)
        if token.lower() in KEYWORDS or re.match(r"\s*\(", e[m.end():]):
            continue
        found.add(token)
    return found


def lint(expr: str) -> list[str]:
    problems = []
    flat = " ".join(expr.split())
    for m in re.finditer(r"histogram_quantile\(", flat):
        rest = flat[m.end():]
        hq = re.match(r"\s*[\d.]+\s*,\s*sum by \(([^)]*)\)\s*\(\s*rate\(\s*[\w:]+_bucket\b", rest)
        if not hq or "le" not in [x.strip() for x in hq.group(1).split(",")]:
            problems.append("histogram_quantile must take sum by (le, …) (rate(<histogram>_bucket[…]))")
    if re.search(r"\b(sum|avg|min|max|quantile)\b\s*(by\s*\([^)]*\)\s*)?\(\s*histogram_quantile", flat):
        problems.append("aggregating quantiles is meaningless")
    if re.search(r"\bavg(_over_time)?\b", flat):
        problems.append("averages of averages/ratios: use sum(rate(_sum))/sum(rate(_count)) or a ratio of sums")
    if re.search(r"\b(sum|avg|min|max)\b\s*(by\s*\([^)]*\)\s*)?\(\s*[\w:]*(_ratio:|:ratio\b)", flat):
        problems.append("aggregating a ratio is wrong: aggregate numerator and denominator")
    for m in re.finditer(r"\b(rate|increase|irate)\(\s*([a-zA-Z_:][\w:]*)", flat):
        if not re.search(r"(_total|_bucket|_sum|_count)$", m.group(2)):
            problems.append(f"{m.group(1)}() of non-counter {m.group(2)}")
    return problems


# ---------------------------------------------------------------------------------------------- tests
def test_generated_json_is_current(capsys):
    assert generate_main(["--check"]) == 0, capsys.readouterr().err


def test_there_are_queries_for_every_dashboard():
    uids = {q.dashboard_uid for q in QUERIES}
    assert uids == set(build_all()), "every dashboard has queries"
    assert {"airdeck-overview", "airdeck-scheduler", "airdeck-dag", "airdeck-workers", "airdeck-pipeline"} <= uids


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.dashboard_uid}/{q.panel_title}/{q.ref_id}")
def test_query_refers_only_to_produced_series(query):
    unknown = series_in(render_expr(query.expr)) - known_series()
    assert not unknown, f"{query.panel_title}: unknown series {unknown}"


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.dashboard_uid}/{q.panel_title}/{q.ref_id}")
def test_query_is_statistically_sound(query):
    assert lint(query.expr) == []


@pytest.mark.parametrize(("name", "expr"), RULE_EXPRS, ids=[n for n, _ in RULE_EXPRS])
def test_rule_is_statistically_sound_and_uses_produced_series(name, expr):
    assert lint(expr) == []
    assert series_in(expr) - known_series() == set()


def test_lint_catches_known_mistakes():
    assert lint("sum(histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))))")
    assert lint("histogram_quantile(0.95, sum by (dag_id) (rate(x_bucket[5m])))")
    assert lint("histogram_quantile(0.95, rate(x_bucket[5m]))")
    assert lint("avg(airflow:pool_utilisation:ratio)")
    assert lint("sum(airflow:pool_utilisation:ratio)")
    assert lint("max by (dag_id) (airflow:ti_failure_ratio:1h)")
    assert not lint("max(scrape_duration_seconds)")
    assert lint("rate(airflow_pool_open_slots[5m])")
    assert series_in('sum by (le) (rate(foo_bucket{a="b"}[5m])) offset 10m') == {"foo_bucket"}


def test_variables_query_produced_series():
    for var in iter_variable_queries():
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", var.query)
        assert m, f"{var.dashboard_uid}:{var.name}: use label_values(<series>, <label>)"
        assert series_in(render_expr(m.group(1))) <= known_series()


def test_panels_are_described_and_use_the_datasource_variable():
    for uid, model in build_all().items():
        ids = [p["id"] for p in model["panels"] if p["type"] != "row"]
        assert len(ids) == len(set(ids)), uid
        assert any(v["name"] == "datasource" for v in model["templating"]["list"]), uid
        for panel in model["panels"]:
            if panel["type"] == "row":
                continue
            assert panel.get("description"), f"{uid}: {panel['title']} needs a description"
            assert panel["datasource"]["uid"] == "${datasource}", f"{uid}: {panel['title']}"


def test_queries_parse_with_promtool(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("!!! promtool NOT FOUND: dashboard queries were not parsed; "
                    "install it with: apt-get install -y prometheus !!!")
    rules = [{"record": f"dashboard:query_{i}", "expr": render_expr(q.expr)} for i, q in enumerate(QUERIES)]
    rules += [{"record": f"dashboard:variable_{i}", "expr": render_expr(re.match(r"label_values\((.*),\s*\w+\)",
                                                                               v.query).group(1))}
              for i, v in enumerate(iter_variable_queries())]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dashboards_section_in_docs_is_current():
    from metrics_doc import DASH_BEGIN, DASH_END, DOC_PATH, render_dashboards, section_of

    current = section_of(DOC_PATH.read_text(), DASH_BEGIN, DASH_END)
    assert current is not None, f"{DOC_PATH}: generated dashboards list markers are missing"
    assert current == render_dashboards(), "run python tests/observability/metrics_doc.py --write"
