"""Every panel proven, on the running platform.

One module-scoped stack (``airdeck up --with-prometheus``, free ports, a 2 s scrape interval) runs the
example DAGs (a TaskGroup with mapped tasks, retries, a DAG that fails on purpose) and
``dags/observability_probe.py`` (a deferred sensor, a task in its own pool, a missed Deadline
Alert). Airflow's StatsD goes through a recording UDP tee to the bridge; its traces go to a local
OTLP/HTTP receiver. Then, against the real Prometheus over its HTTP API:

- every dashboard query (variables substituted) and every dashboard variable returns data,
- every recording rule's expression returns data and its recorded series exists,
  unless the query is on ``ALLOWED_EMPTY`` below with the reason it cannot have data here;
- the bridge saw no unmapped, conflicting or malformed event from Airflow;
- every metric a dashboard or rule uses was in the live capture and mapped;
- spans arrived for DAG runs and their tasks (scheduler, api-server and worker spans, one trace).

``AIRDECK_WRITE_GOLDEN=1`` also rewrites ``golden/`` from this run's capture (see golden_capture.py).
Skips loudly when Prometheus is not installed (CI installs Debian ``prometheus``).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from airdeck.metrics.wiring import prometheus_binary

from tests.harness import REPO, Stack, free_port, running_stack

sys.path.insert(0, str(REPO / "grafana"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboards_src import iter_queries, iter_variable_queries, render_expr  # noqa: E402
from golden_capture import NOT_IN_CAPTURE, map_lines, referenced_metrics, trim, write_capture  # noqa: E402
from receivers import OtlpReceiver, UdpTee, dump_spans  # noqa: E402

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.timeout(1800)]

if prometheus_binary() is None:
    pytest.skip("PROMETHEUS IS NOT INSTALLED: the live panel test needs the `prometheus` binary "
                "(Debian package prometheus; CI installs it). Nothing was proven here.", allow_module_level=True)

#: Queries and metrics that cannot have data on a healthy local stack, with the reason. Each is
#: still parsed and linted by test_dashboards.py and its rules are unit-tested by promtool.
_MUTED_10M = ("first-failure-safe 10-minute window: the branch that counts series born inside the window is "
              "muted until Prometheus holds 10 minutes of bridge history (else a fresh Prometheus would count every "
              "old series as new), and this test's Prometheus is younger. Positive and negative cases are in "
              "prometheus/tests/recording_test.yml; test_first_failure_ingredients_are_live proves the input series.")
ALLOWED_EMPTY: dict[str, str] = {
    "airflow:dagrun_failed:increase10m": _MUTED_10M,
    "airflow:deadline_missed:increase10m": _MUTED_10M,
    "airdeck-overview:Failed DAG runs (last 10 min), by DAG:A": _MUTED_10M,
    "airdeck-overview:Deadline misses (last 10 min), by DAG:A": _MUTED_10M,
    # Error paths a healthy run does not provoke (the counter has no series before its first event).
    "airdeck-scheduler:Critical section busy / min:A": NOT_IN_CAPTURE["airflow_scheduler_critical_section_busy_total"],
    "airdeck-scheduler:Task state changes outside the executor:A":
        NOT_IN_CAPTURE["airflow_scheduler_tasks_killed_externally_total"],
    "airdeck-scheduler:Task state changes outside the executor:B":
        NOT_IN_CAPTURE["airflow_task_instances_without_heartbeats_killed_total"],
    "airdeck-scheduler:Import errors and processor timeouts:B":
        NOT_IN_CAPTURE["airflow_dag_processing_processor_timeouts_total"],
    "airdeck-workers:Celery publish timeouts / min:A": NOT_IN_CAPTURE["airflow_celery_task_timeout_error_total"],
    "airdeck-workers:Trigger outcomes / min:B": NOT_IN_CAPTURE["airflow_triggers_failed_total"],
    "airdeck-workers:Trigger outcomes / min:C": NOT_IN_CAPTURE["airflow_triggers_blocked_main_thread_total"],
    "airdeck-pipeline:Errors / s:A": "the bridge received no malformed line: the error counters have no series yet",
    "airdeck-workers:Starving tasks:A": "sent only while tasks starve for pool slots; its 1m ttl empties it after",
    # Point-in-time task-state gauges (every ti_metrics_interval = 30 s, only for states that exist then).
    **{f"airdeck-workers:Task instances by state:{ref}": NOT_IN_CAPTURE["airflow_ti_queued"] for ref in "ABCD"},
    **{f"airdeck-workers:Queued and running by queue:{ref}": NOT_IN_CAPTURE["airflow_ti_queued"] for ref in "AB"},
    "airdeck-scheduler:Queued task instances, by queue:A": NOT_IN_CAPTURE["airflow_ti_queued"],
    # One observation per series: p95 of rate(_bucket[1h]) needs a second observation after the series was born.
    "airdeck-dag:Schedule delay (trailing hour), by DAG:A": "one scheduled run per DAG here: a histogram "
        "rate over a series born with its only observation is 0 (NaN quantile); proven on a long-running platform",
    "airdeck-dag:First task scheduling delay (trailing hour), by DAG:A": "same as the schedule delay: one "
        "observation per DAG series in this run",
}

RUNS = [  # dag_id, conf, expected final state
    ("example_fanout", {"n": 5}, "success"),
    ("example_etl_daily", {}, "success"),
    ("example_fails_on_purpose", {}, "failed"),
    ("example_slow", {"seconds": 3}, "success"),
    ("observability_probe", {}, "success"),
]
PROBE_POOL = "observability_probe"


@dataclass
class Live:
    stack: Stack
    prometheus: str
    bridge: str
    tee: UdpTee
    otlp: OtlpReceiver
    runs: dict[str, str]  # dag_id -> run_id


def _dags_folder(folder: Path) -> Path:
    dags = folder / "dags"
    dags.mkdir()
    for source in (REPO / "platform" / "airdeck" / "example_dags").glob("*.py"):
        shutil.copy(source, dags / source.name)
    shutil.copy(Path(__file__).resolve().parent / "dags" / "observability_probe.py", dags)
    return dags


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    # not under pytest's basetemp: a concurrent pytest run prunes old basetemp folders under our stack
    folder = Path(tempfile.mkdtemp(prefix="airdeck-live-observability-"))
    bridge_udp = free_port()
    tee = UdpTee(("127.0.0.1", bridge_udp)).start()
    otlp = OtlpReceiver().start()
    extra = {
        "observability": {
            "statsd": {"port": bridge_udp},
            "prometheus": {"scrape_interval": "2s", "evaluation_interval": "5s"},
            "tracing": {"otlp_endpoint": otlp.endpoint},
        },
        "airflow": {
            "dags_folder": str(_dags_folder(folder)),
            # Airflow sends to the recording tee, which forwards every datagram to the bridge.
            "extra_config": {"metrics": {"statsd_port": tee.port}},
        },
    }
    try:
        with running_stack(folder, extra, up_args=("--with-prometheus",)) as stack:
            settings = stack.settings["observability"]
            live = Live(stack, f"http://127.0.0.1:{settings['prometheus']['port']}",
                        f"http://127.0.0.1:{settings['bridge']['metrics_port']}", tee, otlp, {})
            stack.wait_for_dag("observability_probe")
            stack.api("POST", "/pools", json={"name": PROBE_POOL, "slots": 1}).raise_for_status()
            for dag_id, conf, _ in RUNS:
                live.runs[dag_id] = stack.trigger(dag_id, conf)
            states = {dag_id: stack.wait_for_run(dag_id, live.runs[dag_id]) for dag_id, _, _ in RUNS}
            assert states == {dag_id: want for dag_id, _, want in RUNS}
            # a second run of the fan-out: histogram rates need more than the first observation
            stack.wait_for_run("example_fanout", stack.trigger("example_fanout", {"n": 3}))
            _wait_for_recording_rules(live)
            if os.environ.get("AIRDECK_WRITE_GOLDEN") == "1":
                write_capture(tee.lines())
            yield live
    finally:
        tee.stop()
        otlp.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _query(live: Live, expr: str) -> list[dict]:
    response = httpx.get(f"{live.prometheus}/api/v1/query", params={"query": expr}, timeout=30)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", f"{expr}\n{body}"
    result = body["data"]["result"]
    return result if isinstance(result, list) else [{"value": result}]


def _has_data(result: list[dict]) -> bool:
    return any(not math.isnan(float(item["value"][1])) for item in result)


def _recording_rules() -> list[tuple[str, str]]:
    return [(rule["record"], rule["expr"])
            for path in sorted((REPO / "prometheus" / "rules").glob("*.yml"))
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "record" in rule]


def _wait_for_recording_rules(live: Live, timeout: float = 180) -> None:
    """Rule groups run every minute: wait until each recorded series has been written once with data."""
    wanted = [name for name, _ in _recording_rules() if name not in ALLOWED_EMPTY]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_has_data(_query(live, name)) for name in wanted):
            return
        time.sleep(5)


# ------------------------------------------------------------------------------------------- panels
QUERIES = list(iter_queries())


@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.dashboard_uid}:{q.panel_title}:{q.ref_id}" for q in QUERIES])
def test_dashboard_query_returns_data(live: Live, query) -> None:  # type: ignore[no-untyped-def]
    key = f"{query.dashboard_uid}:{query.panel_title}:{query.ref_id}"
    result = _query(live, render_expr(query.expr))
    if key in ALLOWED_EMPTY:
        return
    assert _has_data(result), f"panel {query.panel_title!r} of {query.dashboard_uid} has no data:\n{query.expr}"


def _variable_expr(query: str) -> str:
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip(), re.S)
    assert match, f"unsupported variable query {query!r}"
    return f"count by ({match.group(2)}) ({render_expr(match.group(1))})"


@pytest.mark.parametrize("variable", list(iter_variable_queries()), ids=lambda v: f"{v.dashboard_uid}:{v.name}")
def test_dashboard_variable_has_values(live: Live, variable) -> None:  # type: ignore[no-untyped-def]
    result = _query(live, _variable_expr(variable.query))
    values = {item["metric"].get(_variable_expr(variable.query).split("(")[1].split(")")[0]) for item in result}
    assert values - {None, ""}, f"variable {variable.name} of {variable.dashboard_uid} has no values"


def test_dashboard_variables_see_the_example_dags(live: Live) -> None:
    dag_ids = {item["metric"]["dag_id"] for item in _query(live, "count by (dag_id) (airflow_ti_finish_total)")}
    assert {dag_id for dag_id, _, _ in RUNS} <= dag_ids
    task_ids = {item["metric"]["task_id"] for item in
                _query(live, 'count by (task_id) (airflow_ti_finish_total{dag_id="example_fanout"})')}
    assert "process.work" in task_ids  # a TaskGroup task id keeps its dot; mapped instances share it
    pools = {item["metric"]["pool_name"] for item in _query(live, "count by (pool_name) (airflow_pool_open_slots)")}
    assert {"default_pool", PROBE_POOL} <= pools


# ------------------------------------------------------------------------------------------- rules
RECORDS = _recording_rules()


@pytest.mark.parametrize(("record", "expr"), RECORDS, ids=[name for name, _ in RECORDS])
def test_recording_rule_returns_data(live: Live, record: str, expr: str) -> None:
    if record in ALLOWED_EMPTY:
        return
    assert _has_data(_query(live, expr)), f"recording rule {record} has no data:\n{expr}"
    assert _has_data(_query(live, record)), f"Prometheus has not recorded {record} (rule evaluation failed?)"


def test_first_failure_ingredients_are_live(live: Live) -> None:
    """What the allow-listed 10-minute rules count is in Prometheus: the failed run and the missed deadline."""
    failed = _query(live, 'airflow_dagrun_duration_seconds_count{state="failed"}')
    assert {item["metric"]["dag_id"] for item in failed} == {"example_fails_on_purpose"}
    missed = _query(live, "airflow_deadline_alerts_deadline_missed_total")
    assert "observability_probe" in {item["metric"]["dag_id"] for item in missed}


def test_rules_loaded_without_errors(live: Live) -> None:
    groups = httpx.get(f"{live.prometheus}/api/v1/rules", timeout=30).json()["data"]["groups"]
    unhealthy = [(rule["name"], rule.get("lastError")) for g in groups for rule in g["rules"]
                 if rule.get("health") not in ("ok", "unknown")]
    assert groups and not unhealthy


def test_prometheus_scrapes_the_bridge(live: Live) -> None:
    up = _query(live, 'up{job="airdeck-statsd"}')
    assert [item["value"][1] for item in up] == ["1"]


# ------------------------------------------------------------------------------------------- mapping
def test_bridge_saw_nothing_unmapped_or_broken(live: Live) -> None:
    text = httpx.get(f"{live.bridge}/metrics", timeout=30).text
    values = {}
    for line in text.splitlines():
        if line.startswith("statsd_exporter_") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = values.get(name, 0.0) + float(value)
    assert sum(v for k, v in values.items() if k.startswith("statsd_exporter_events_total")) > 1000
    for prefix in ("statsd_exporter_events_unmapped_total", "statsd_exporter_events_conflict_total",
                   "statsd_exporter_events_error_total", "statsd_exporter_tag_errors_total",
                   "statsd_exporter_udp_packet_drops_total"):
        assert sum(v for k, v in values.items() if k.startswith(prefix)) == 0, prefix


def test_live_capture_maps_everything_dashboards_and_rules_use(live: Live) -> None:
    lines = live.tee.lines()
    assert len(lines) > 1000
    series, stats = map_lines(trim(lines))
    assert stats["unmapped"] == 0 and stats["conflicts"] == 0 and stats["errors"] == 0, stats
    produced = {name for name, _ in series}
    missing = {metric: sorted(where)[:3] for metric, where in referenced_metrics().items()
               if metric.startswith("airflow_") and metric not in produced and metric not in NOT_IN_CAPTURE}
    assert not missing, f"used by dashboards/rules but not in the live capture: {missing}"


# ------------------------------------------------------------------------------------------- traces
def test_traces_for_dag_run_and_tasks(live: Live) -> None:
    run_id = live.runs["example_fanout"]

    def complete(spans: list) -> bool:  # type: ignore[type-arg]
        names = {s.name for s in spans if s.attributes.get("airflow.dag_run.run_id") == run_id
                 or s.attributes.get("airflow.dag_id") == "example_fanout"}
        return "dag_run.example_fanout" in names and any(n.startswith("worker.process.work[") for n in names)

    assert live.otlp.wait_for(complete, timeout=120), dump_spans(live.otlp.spans)
    assert all("protobuf" in content_type for content_type in live.otlp.requests)  # OTLP/HTTP protobuf
    dag_run = next(s for s in live.otlp.spans if s.name == "dag_run.example_fanout"
                   and s.attributes.get("airflow.dag_run.run_id") == run_id)
    in_trace = [s for s in live.otlp.spans if s.trace_id == dag_run.trace_id]
    names = {s.name for s in in_trace}
    # the scheduler's DAG-run span, the api-server's task spans and the workers' task spans share one trace
    assert {"task_run.partitions", "task_run.combine"} <= names, sorted(names)
    assert {f"task_run.process.work[{i}]" for i in range(5)} <= names, sorted(names)
    assert any(n.startswith("worker.process.work[") for n in names), sorted(names)
    task_runs = [s for s in in_trace if s.name.startswith("task_run.")]
    assert all(s.parent_span_id == dag_run.span_id for s in task_runs)
    services = {s.resource.get("airdeck.service") for s in in_trace}
    assert {"scheduler", "api-server", "worker-1"} <= services, services
