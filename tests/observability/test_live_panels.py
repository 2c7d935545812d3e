"""Every panel proven, on the running platform.

One module-scoped stack (``airdeck up --with-prometheus``, free ports, a 2 s scrape interval) runs the
example DAGs (a TaskGroup with mapped tasks, retries, a DAG that fails on purpose) and the DAGs of
``dags/``: ``observability_probe`` (a deferred sensor, a task in its own pool, a missed Deadline
Alert), ``observability_held`` (task instances held scheduled, queued, running and deferred; a
trigger that fails and one that blocks the event loop), ``observability_ticker`` (scheduled every
minute) and ``observability_slow_parse`` (a file that outlives the parsing timeout). The fixture
then provokes, once each, the failures a healthy run does not make: a locked critical section, a
task state changed outside the executor, a worker that stops heartbeating, a broker that does not
take a publish in time, a malformed StatsD line; and it keeps the platform up until Prometheus
holds the 10 minutes of history the first-failure rules need (about 12 minutes in all). Airflow's
StatsD goes through a recording UDP tee to the bridge; its traces go to a local OTLP/HTTP
receiver. Then, against the real Prometheus over its HTTP API:

- every dashboard query (variables substituted) and every dashboard variable returns data,
- every recording rule's expression returns data and its recorded series exists (no exemptions);
- the bridge saw no unmapped, conflicting or malformed event from Airflow;
- every metric a dashboard or rule uses was in the live capture and mapped;
- spans arrived for DAG runs and their tasks (scheduler, api-server and worker spans, one trace).

``AIRDECK_WRITE_GOLDEN=1`` also rewrites ``golden/`` from this run's capture (see golden_capture.py).
Skips loudly when Prometheus is not installed (CI installs Debian ``prometheus``).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import redis
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

RUNS = [  # dag_id, conf, expected final state
    ("example_fanout", {"n": 5}, "success"),
    ("example_etl_daily", {}, "success"),
    ("example_fails_on_purpose", {}, "failed"),
    ("example_slow", {"seconds": 3}, "success"),
    ("observability_probe", {}, "success"),
]
PROBE_POOL = "observability_probe"
STARVED_POOL = "observability_starved"  # 0 slots: observability_held's task waits there for ever
#: Prometheus must hold this much bridge history before the 10-minute first-failure rules report a
#: series born inside their window (see airflow:dagrun_failed:increase10m); a minute more for the
#: rule group to be evaluated after it.
FIRST_FAILURE_HISTORY = 10 * 60 + 75
CRITICAL_SECTION_LOCK = 2  # airflow.utils.db.DBLocks.SCHEDULER_CRITICAL_SECTION.value in Airflow 3.3.2
MALFORMED = b"airdeck_live_test:not-a-number|c"  # sent once to the bridge: the pipeline's error panel


@dataclass
class Live:
    stack: Stack
    prometheus: str
    bridge: str
    tee: UdpTee
    otlp: OtlpReceiver
    runs: dict[str, str]  # dag_id -> run_id
    provoked: dict[str, float]  # what the fixture provoked on purpose -> seconds it took to show


def _dags_folder(folder: Path) -> Path:
    dags = folder / "dags"
    dags.mkdir()
    for source in (REPO / "platform" / "airdeck" / "example_dags").glob("*.py"):
        shutil.copy(source, dags / source.name)
    for source in (Path(__file__).resolve().parent / "dags").glob("*.py"):
        shutil.copy(source, dags / source.name)
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
            "extra_config": {
                "metrics": {"statsd_port": tee.port},
                # observability_held's BlockingTrigger, importable by the worker and the triggerer; and an
                # import timeout longer than the processor timeout: with the defaults (30 s < 50 s) the parsing
                # process's own import timeout ends observability_slow_parse.py first, as an import error, and
                # the dag-processor never has a processor to kill (no dag_processing.processor_timeouts).
                "core": {"plugins_folder": str(Path(__file__).resolve().parent / "plugins"),
                         "dagbag_import_timeout": "600"},
                "dag_processor": {"dag_file_processor_timeout": "20"},
                # observability_held's unserved task must stay queued for the whole test (default 600 s)
                "scheduler": {"task_queued_timeout": 3600},
            },
        },
    }
    try:
        with running_stack(folder, extra, up_args=("--with-prometheus",)) as stack:
            started = time.monotonic()  # Prometheus scrapes the bridge from here on
            settings = stack.settings["observability"]
            live = Live(stack, f"http://127.0.0.1:{settings['prometheus']['port']}",
                        f"http://127.0.0.1:{settings['bridge']['metrics_port']}", tee, otlp, {}, {})
            stack.wait_for_dag("observability_held")
            for pool, slots in ((PROBE_POOL, 1), (STARVED_POOL, 0)):
                stack.api("POST", "/pools", json={"name": pool, "slots": slots}).raise_for_status()
            live.runs["observability_held"] = stack.trigger("observability_held")
            for dag_id, conf, _ in RUNS:
                live.runs[dag_id] = stack.trigger(dag_id, conf)
            states = {dag_id: stack.wait_for_run(dag_id, live.runs[dag_id]) for dag_id, _, _ in RUNS}
            assert states == {dag_id: want for dag_id, _, want in RUNS}
            # a second run of the fan-out: histogram rates need more than the first observation
            stack.wait_for_run("example_fanout", stack.trigger("example_fanout", {"n": 3}))
            _provoke_error_paths(live, bridge_udp)
            # A second failure and a second missed deadline late enough that the 10-minute rules see one
            # inside their window once Prometheus holds 10 minutes of history.
            time.sleep(max(0.0, started + FIRST_FAILURE_HISTORY - 300 - time.monotonic()))
            for dag_id in ("example_fails_on_purpose", "observability_probe"):
                stack.wait_for_run(dag_id, stack.trigger(dag_id))
            time.sleep(max(0.0, started + FIRST_FAILURE_HISTORY - time.monotonic()))
            _wait_for_all_data(live)
            if os.environ.get("AIRDECK_WRITE_GOLDEN") == "1":
                write_capture(tee.lines())
            yield live
    finally:
        tee.stop()
        otlp.stop()
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------- provoking
def _db(stack: Stack) -> psycopg.Connection:
    password = (stack.home / "secrets" / "database_password").read_text().strip()
    return psycopg.connect(host="127.0.0.1", port=stack.settings["database"]["embedded"]["port"], user="airflow",
                           password=password, dbname="airflow", autocommit=True)


def _sent(live: Live, name: str) -> bool:
    """Airflow sent the tagged StatsD metric ``airflow.<name>`` (seen by the recording tee)."""
    return any(line.startswith((f"airflow.{name},", f"airflow.{name}:")) for line in live.tee.lines())


def _wait_sent(live: Live, name: str, timeout: float, while_waiting: Callable[[], None] | None = None) -> None:
    start = time.monotonic()
    while not _sent(live, name):
        if time.monotonic() - start > timeout:
            raise AssertionError(f"Airflow did not send {name} within {timeout:.0f}s of provoking it")
        if while_waiting is not None:
            while_waiting()
        else:
            time.sleep(1)
    live.provoked[name] = round(time.monotonic() - start, 1)


def _held_ti(live: Live, task_id: str, state: str, timeout: float = 240) -> None:
    run_id = live.runs["observability_held"]
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        response = live.stack.api("GET", f"/dags/observability_held/dagRuns/{run_id}/taskInstances/{task_id}")
        seen = response.json().get("state") if response.status_code == 200 else response.status_code
        if seen == state:
            return
        time.sleep(2)
    raise AssertionError(f"observability_held.{task_id} is {seen}, not {state}, after {timeout:.0f}s")


def _provoke_error_paths(live: Live, bridge_udp: int) -> None:
    """The failures a healthy run does not make, each provoked the way it happens in production."""
    stack, run_id = live.stack, live.runs["observability_held"]
    # A malformed line reaches the bridge (the pipeline's error panel).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(MALFORMED, ("127.0.0.1", bridge_udp))
    with _db(stack) as conn:
        # A second scheduler inside the critical section: on PostgreSQL the scheduler first tries the
        # transaction-scoped advisory lock airflow.utils.db.DBLocks.SCHEDULER_CRITICAL_SECTION (= 2) and
        # counts critical_section_busy when another session holds it.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CRITICAL_SECTION_LOCK,))
            _wait_sent(live, "scheduler.critical_section_busy", 60)
        # A task instance's state changed behind the executor's back while it runs.
        _held_ti(live, "changed_outside", "running")
        conn.execute("UPDATE task_instance SET state = 'queued' WHERE dag_id = 'observability_held' "
                     "AND run_id = %s AND task_id = 'changed_outside'", (run_id,))
        _wait_sent(live, "scheduler.tasks.killed_externally", 180)
        # A worker that stops heartbeating: the task's supervisor process (it heartbeats for the task) is
        # frozen, and the last heartbeat is moved past [scheduler] task_instance_heartbeat_timeout (300 s)
        # instead of waiting it out.
        _held_ti(live, "heartbeat_lost", "running")
        pid = conn.execute("SELECT pid FROM task_instance WHERE dag_id = 'observability_held' AND run_id = %s "
                           "AND task_id = 'heartbeat_lost'", (run_id,)).fetchone()
        assert pid is not None and pid[0], "observability_held.heartbeat_lost runs but has no pid"
        pid = pid[0]
        task = psutil.Process(pid)
        supervisor = task.parent()
        assert supervisor is not None and supervisor.cmdline()[0].startswith("airflow supervisor:"), (
            f"the parent of task pid {pid} is not its task supervisor: {supervisor and supervisor.cmdline()[:1]}")
        supervisor.suspend()
        try:
            conn.execute("UPDATE task_instance SET last_heartbeat_at = now() - interval '1 hour' "
                         "WHERE dag_id = 'observability_held' AND run_id = %s AND task_id = 'heartbeat_lost'",
                         (run_id,))
            _wait_sent(live, "task_instances_without_heartbeats_killed", 120)
        finally:
            for process in (task, supervisor):
                with contextlib.suppress(psutil.Error):
                    process.kill()
    # A broker that does not accept writes in time: Celery's publish times out ([celery] operation_timeout).
    password = (stack.home / "secrets" / "broker_password").read_text().strip()
    broker = redis.Redis(host="127.0.0.1", port=stack.settings["broker"]["embedded"]["port"], password=password)
    slow_run = stack.trigger("example_slow", {"seconds": 1})

    def pause_writes() -> None:
        broker.execute_command("CLIENT", "PAUSE", "3000", "WRITE")
        time.sleep(3.5)

    try:
        _wait_sent(live, "celery.task_timeout_error", 120, pause_writes)
    finally:
        broker.execute_command("CLIENT", "UNPAUSE")
        broker.close()
    assert stack.wait_for_run("example_slow", slow_run) == "success"  # the publish was retried
    # observability_held's triggers: one raises, one blocks the event loop.
    _wait_sent(live, "triggers.failed", 120)
    _wait_sent(live, "triggers.blocked_main_thread", 120)
    # observability_slow_parse.py outlives [dag_processor] dag_file_processor_timeout.
    _wait_sent(live, "dag_processing.processor_timeouts", 240)


def _wait_for_all_data(live: Live, timeout: float = 300) -> None:
    """Wait until every panel query and rule has data (the rule groups run every minute; the ticker DAG
    needs its second scheduled run). The tests then say which one did not."""
    exprs = [render_expr(q.expr) for q in QUERIES] + [e for _, e in RECORDS] + [name for name, _ in RECORDS]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_has_data(_query(live, expr)) for expr in exprs):
            return
        time.sleep(10)


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


# ------------------------------------------------------------------------------------------- panels
QUERIES = list(iter_queries())


@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.dashboard_uid}:{q.panel_title}:{q.ref_id}" for q in QUERIES])
def test_dashboard_query_returns_data(live: Live, query) -> None:  # type: ignore[no-untyped-def]
    result = _query(live, render_expr(query.expr))
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
def _bridge_self_metrics(live: Live) -> dict[str, float]:
    text = httpx.get(f"{live.bridge}/metrics", timeout=30).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("statsd_exporter_") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = values.get(name, 0.0) + float(value)
    return values


def test_bridge_saw_nothing_unmapped_or_broken(live: Live) -> None:
    # Airflow keeps sending (a processor times out every minute): compare at a moment both sides agree.
    for _ in range(20):
        values = _bridge_self_metrics(live)
        refused = _refused_decrements(live.tee.lines())
        errors = {k: v for k, v in values.items() if k.startswith("statsd_exporter_events_error_total")}
        if sum(errors.values()) == refused:
            break
        time.sleep(0.5)
    assert sum(v for k, v in values.items() if k.startswith("statsd_exporter_events_total")) > 1000
    for prefix in ("statsd_exporter_events_unmapped_total", "statsd_exporter_events_conflict_total",
                   "statsd_exporter_tag_errors_total", "statsd_exporter_udp_packet_drops_total"):
        assert sum(v for k, v in values.items() if k.startswith(prefix)) == 0, prefix
    assert set(errors) <= {'statsd_exporter_events_error_total{reason="illegal_negative_counter"}'}, errors
    assert sum(errors.values()) == refused, (errors, refused)


_DECREMENT = re.compile(r"airflow\.dag_processing\.processes[,:][^|]*:-")


def _refused_decrements(lines: list[str]) -> float:
    """The only events the bridge may refuse: Airflow decrements ``dag_processing.processes`` when it kills
    a parsing process (here the timed-out observability_slow_parse.py), and a StatsD counter cannot go
    down (see the mapping). How many of these lines the bridge's engine refuses."""
    return map_lines([line for line in lines if _DECREMENT.match(line)])[1]["errors"]


def test_live_capture_maps_everything_dashboards_and_rules_use(live: Live) -> None:
    lines = live.tee.lines()
    assert len(lines) > 1000
    series, stats = map_lines(trim(lines))
    assert stats["unmapped"] == 0 and stats["conflicts"] == 0, stats
    assert stats["errors"] == _refused_decrements(trim(lines)) > 0, stats  # the processor timeouts' decrements
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
