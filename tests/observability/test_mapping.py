"""Structural and semantic checks of prometheus/statsd-mapping.yml.

- Structure: only statsd_exporter v0.30 keys (no deprecated ones), valid globs, names and label keys,
  suffix rules per metric type, ttl on gauges, per-run tags blanked, catch-all drop last.
- Semantics against Airflow itself: every metric in the installed Airflow's metric registry
  (metrics_template.yaml) is mapped by its tagged name with the right type, and its legacy name is
  dropped (no double counting). Wire lines captured from Airflow 3.3.2 map to the expected series.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from mapping_model import MAPPING_PATH, apply, apply_line, declared_labels, load_mapping, parse_line

MAPPING = load_mapping()
RULES = MAPPING["mappings"]
MAP_RULES = [r for r in RULES if r.get("action", "map") == "map"]

MAPPING_KEYS = {
    "match", "name", "labels", "honor_labels", "help", "match_type", "match_metric_type",
    "action", "observer_type", "summary_options", "histogram_options", "ttl", "scale",
}
DEFAULT_KEYS = {
    "observer_type", "match_type", "glob_disable_ordering", "ttl", "summary_options", "histogram_options",
}
GLOB_RE = re.compile(r"^(\*|[a-zA-Z_][a-zA-Z0-9_-]*)(\.\*|\.[a-zA-Z0-9_][a-zA-Z0-9_-]*)*$")
NAME_RE = re.compile(r"^([a-zA-Z_]|\$\{?\d+\}?)([a-zA-Z0-9_]|\$\{?\d+\}?)*$")
LABEL_KEY_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]+$")
PER_RUN_TAGS = ("run_id", "dagrun_id")
DURATION_RE = re.compile(r"^\d+[smh]$")


def _registry_path() -> Path:
    import airflow

    base = Path(airflow.__file__).parent
    for candidate in (
        base / "_shared" / "observability" / "metrics" / "metrics_template.yaml",
        base / "metrics" / "metrics_template.yaml",
    ):
        if candidate.exists():
            return candidate
    pytest.fail(f"Airflow's metric registry (metrics_template.yaml) was not found under {base}")


REGISTRY = yaml.safe_load(_registry_path().read_text())["metrics"]
REGISTRY_TYPES = {"counter": "counter", "gauge": "gauge", "timer": "observer"}
WIRE_TYPE = {"counter": "c", "gauge": "g", "timer": "ms"}
# Sample values for name variables when building wire names from the registry.
SAMPLE_VARS = {
    "dag_id": "etl", "task_id": "load", "state": "success", "job_id": "42", "return_code": "0",
    "operator_name": "PythonOperator", "task_type": "PythonOperator", "file_name": "etl",
    "bundle_name": "dags-folder", "pool_name": "default_pool", "executor_class_name": "CeleryExecutor",
    "hostname": "host1", "queue": "default", "job_name": "job", "dag_file": "etl", "event_type": "start",
    "transport_type": "http", "worker_name": "edge1", "status": "200",
}
# Registry entries deliberately left to the catch-all drop, with the reason.
NOT_MAPPED = {
    "dag_file_processor_timeouts": (
        "deprecated duplicate of dag_processing.processor_timeouts; not emitted by 3.3"
    ),
    "task.queued_duration": (
        "emitted only by TaskInstance.check_and_change_state_before_execution, the Airflow 2 start path "
        "that Airflow 3.3 never calls (tasks start through the Execution API, which emits no timer)"
    ),
}


# --------------------------------------------------------------------------------------- structure
def test_only_current_statsd_exporter_keys():
    assert set(MAPPING) <= {"defaults", "mappings"}, "top-level keys: defaults and mappings only"
    assert set(MAPPING["defaults"]) <= DEFAULT_KEYS
    for rule in RULES:
        unknown = set(rule) - MAPPING_KEYS
        assert not unknown, f"{rule['match']}: deprecated or unknown keys {unknown} (timer_type, buckets…)"
        assert rule.get("match_metric_type") in (None, "counter", "gauge", "observer"), rule["match"]
        assert rule.get("observer_type", "histogram") == "histogram", f"{rule['match']}: histograms only"
    assert MAPPING["defaults"]["observer_type"] == "histogram"


def test_patterns_names_and_label_keys_are_valid():
    for rule in RULES:
        assert rule.get("name"), f"{rule['match']}: every rule needs a name, even drop rules"
        if rule.get("match_type", "glob") == "glob":
            assert GLOB_RE.match(rule["match"]), f"invalid glob {rule['match']!r}"
        else:
            re.compile(rule["match"])
        assert NAME_RE.match(rule["name"]), f"invalid name {rule['name']!r}"
        assert "$" not in rule["name"] or "${" in rule["name"], f"{rule['name']}: write ${{n}}, not $n"
        for key, value in (rule.get("labels") or {}).items():
            assert LABEL_KEY_RE.match(key), f"{rule['match']}: invalid label key {key!r}"
            if "$" in str(value):
                assert re.fullmatch(r"\$\{\d+\}", str(value)), f"{rule['match']}: label {key} must be ${{n}}"


def test_suffixes_follow_the_metric_type():
    for rule in MAP_RULES:
        kind, name = rule["match_metric_type"], rule["name"]
        assert name.startswith("airflow_"), name
        if kind == "counter":
            assert name.endswith("_total"), f"counter {name} must end in _total"
        elif kind == "observer":
            assert name.endswith("_seconds"), f"timer {name} must end in _seconds"
            assert "histogram_options" in rule or rule["name"] in {
                "airflow_task_duration_seconds", "airflow_dagrun_duration_seconds",
            }, f"{name}: choose buckets that fit it"
        else:
            assert not re.search(r"_(total|bucket|count|sum)$", name), f"gauge {name}: counter-like suffix"
            assert DURATION_RE.match(str(rule.get("ttl", ""))), f"gauge {name} needs a ttl"


def test_histogram_buckets_are_in_seconds_and_sorted():
    bucket_sets = [MAPPING["defaults"]["histogram_options"]["buckets"]]
    bucket_sets += [r["histogram_options"]["buckets"] for r in RULES if "histogram_options" in r]
    for buckets in bucket_sets:
        assert buckets == sorted(buckets) and len(set(buckets)) == len(buckets)
    assert max(MAPPING["defaults"]["histogram_options"]["buckets"]) >= 3600, "task/run durations reach hours"
    assert min(MAPPING["defaults"]["histogram_options"]["buckets"]) <= 1


def test_per_run_tags_never_become_labels():
    for rule in MAP_RULES:
        labels = rule.get("labels") or {}
        for tag in PER_RUN_TAGS + ("job_id",):
            assert labels.get(tag, "") == "", f"{rule['match']}: {tag} must not carry a value"
        if "dag_id" in declared_labels(rule):
            for tag in PER_RUN_TAGS:
                assert labels.get(tag) == "", f"{rule['match']} carries dag_id: blank {tag} (empty label)"
        assert not set(declared_labels(rule)) & {"run_id", "dagrun_id", "job_id"}


def test_catch_all_drop_is_last_and_unique():
    last = RULES[-1]
    assert last == {"match": ".", "match_type": "regex", "action": "drop", "name": "dropped"}
    assert [r for r in RULES if r.get("action") == "drop"] == [last]


def test_no_duplicate_or_prefix_shadowed_globs():
    globs = [r["match"] for r in RULES if r.get("match_type", "glob") == "glob"]
    assert len(globs) == len(set(globs)), "duplicate glob patterns"
    # statsd_exporter's FSM may never give a result to a pattern that is a segment prefix of a
    # pattern added before it (reference §3.10); airdeck avoids the situation entirely.
    segs = [g.split(".") for g in globs]
    for a in segs:
        for b in segs:
            if len(a) < len(b) and b[: len(a)] == a:
                pytest.fail(f"{'.'.join(a)} is a prefix of {'.'.join(b)}")


def test_every_name_has_one_type():
    types: dict[str, str] = {}
    for rule in MAP_RULES:
        assert types.setdefault(rule["name"], rule["match_metric_type"]) == rule["match_metric_type"]
    assert len({r["name"] for r in MAP_RULES}) == len(MAP_RULES) or all(
        r["name"].startswith("airflow_job_") for r in MAP_RULES if r.get("match_type") == "regex"
    )


def test_every_mapping_documents_its_labels():
    for rule in MAP_RULES:
        help_text = rule.get("help", "")
        assert re.search(r"\[labels: [^\]]+\]$", help_text), f"{rule['match']}: help lacks [labels: …]"


# ------------------------------------------------------------------------- against Airflow's registry
def _fill(template: str, variables: list[str]) -> str:
    return template.format(**{v: SAMPLE_VARS[v] for v in variables})


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e["name"])
def test_registry_metric_is_mapped_by_its_tagged_name(entry):
    name, kind = entry["name"], entry["type"]
    variables = entry.get("name_variables") or []
    wire_name = "airflow." + (_fill(name, variables) if "{" in name else name)
    tags = {} if "{" in name else {v: SAMPLE_VARS[v] for v in variables}
    result = apply(MAPPING, wire_name, tags, REGISTRY_TYPES[kind])
    if name in NOT_MAPPED:
        assert result.action == "drop", f"{name} is listed as not mapped ({NOT_MAPPED[name]})"
        return
    assert result.action == "map", f"{wire_name} ({kind}) is not mapped"
    assert result.metric_type == REGISTRY_TYPES[kind]
    suffix = {"counter": "_total", "timer": "_seconds"}.get(kind)
    if suffix:
        assert result.name.endswith(suffix), result.name


@pytest.mark.parametrize(
    "entry", [e for e in REGISTRY if e.get("legacy_name", "-") != "-"], ids=lambda e: e["legacy_name"]
)
def test_registry_legacy_name_is_dropped(entry):
    legacy = "airflow." + _fill(entry["legacy_name"], entry.get("name_variables") or [])
    result = apply(MAPPING, legacy, {}, REGISTRY_TYPES[entry["type"]])
    assert result.action == "drop", f"legacy name {legacy} must fall to the catch-all, got {result.name}"


def test_mapped_names_exist_in_airflow():
    """Every glob rule's Airflow name is in the registry (no typos, no metrics Airflow does not send)."""
    registry_names = {e["name"] for e in REGISTRY}
    registry_names |= {"dagrun.duration.*", "dag_processing.last_num_of_db_queries.*"}
    for rule in MAP_RULES:
        if rule.get("match_type", "glob") != "glob":
            continue
        airflow_name = rule["match"].removeprefix("airflow.")
        assert airflow_name in registry_names, f"{rule['match']} is not a metric of the installed Airflow"


# ------------------------------------------------------------------- wire lines seen from Airflow 3.3.2
WIRE_CASES = [
    ("airflow.ti.finish,dag_id=fanout,task_id=noop,state=success:1|c",
     "airflow_ti_finish_total", {"dag_id": "fanout", "task_id": "noop", "state": "success"}),
    ("airflow.task.duration,dag_id=fanout,task_id=noop:1245.355000|ms",
     "airflow_task_duration_seconds", {"dag_id": "fanout", "task_id": "noop"}),
    ("airflow.ti.start,dag_id=grp_dag,task_id=stage.noop:1|c",
     "airflow_ti_start_total", {"dag_id": "grp_dag", "task_id": "stage.noop"}),
    ("airflow.dagrun.duration.success,dag_id=fanout,run_type=manual:34429.942000|ms",
     "airflow_dagrun_duration_seconds", {"dag_id": "fanout", "run_type": "manual", "state": "success"}),
    ("airflow.pool.open_slots,pool_name=default_pool:128|g",
     "airflow_pool_open_slots", {"pool_name": "default_pool"}),
    ("airflow.ti.running,queue=default,dag_id=fanout,task_id=noop:13.0|g",
     "airflow_ti_running", {"queue": "default", "dag_id": "fanout", "task_id": "noop"}),
    ("airflow.operator_successes,dag_id=fanout,task_id=noop,operator_name=_PythonDecoratedOperator:1|c",
     "airflow_operator_successes_total",
     {"dag_id": "fanout", "task_id": "noop", "operator_name": "_PythonDecoratedOperator"}),
    ("airflow.dag_processing.last_duration,bundle_name=dags-folder,file_name=fanout:0.263400|ms",
     "airflow_dag_processing_last_duration_seconds", {"bundle_name": "dags-folder", "file_name": "fanout"}),
    ("airflow.executor.open_slots,status=open,executor_class_name=CeleryExecutor:16|g",
     "airflow_executor_open_slots", {"executor_class_name": "CeleryExecutor"}),
    ("airflow.deadline_alerts.deadline_missed,dag_id=report,dagrun_id=manual__2026-01-01:1|c",
     "airflow_deadline_alerts_deadline_missed_total", {"dag_id": "report"}),
    ("airflow.ti.finish,dag_id=a,task_id=b,state=failed,run_id=manual__1:1|c",
     "airflow_ti_finish_total", {"dag_id": "a", "task_id": "b", "state": "failed"}),
    ("airflow.scheduler_heartbeat:1|c", "airflow_scheduler_heartbeat_total", {}),
    ("airflow.schedulerjobrunner_end:1|c", "airflow_job_end_total", {"job_name": "schedulerjobrunner"}),
    ("airflow.job_heartbeat_failure:1|c", "airflow_job_heartbeat_failure_total", {"job_name": "job"}),
]
DROPPED_LINES = [
    "airflow.ti.finish.fanout.noop.success:1|c",
    "airflow.dag.fanout.noop.duration:1245.355000|ms",
    "airflow.ti.start.grp_dag.stage__noop:1|c",
    "airflow.dagrun.duration.success.fanout,run_type=manual:34429.942000|ms",
    "airflow.operator_successes__PythonDecoratedOperator,dag_id=fanout,task_id=noop:1|c",
    "airflow.executor.open_slots.CeleryExecutor:16|g",
    "airflow.triggers.running.host1:3|g",
    "airflow.dag.grp_dag.stage.noop.duration:10|ms",
    "airflow.something_new_in_airflow_3_4:1|c",
    # a counter name sent as a gauge does not create a conflicting series
    "airflow.ti.finish,dag_id=a,task_id=b,state=success:1|g",
]


@pytest.mark.parametrize(("line", "name", "labels"), WIRE_CASES, ids=[c[0].split(",")[0] for c in WIRE_CASES])
def test_wire_line_maps_to_series(line, name, labels):
    result = apply_line(MAPPING, line)
    assert (result.action, result.name, result.labels) == ("map", name, labels)


@pytest.mark.parametrize("line", DROPPED_LINES)
def test_legacy_and_unknown_lines_are_dropped(line):
    assert apply_line(MAPPING, line).action == "drop"


def test_metrics_table_in_docs_is_current():
    from metrics_doc import DOC_PATH, render_table, section_of

    current = section_of(DOC_PATH.read_text())
    assert current is not None, f"{DOC_PATH}: generated metrics table markers are missing"
    assert current == render_table(MAPPING), (
        "docs/observability.md metrics table is stale: run python tests/observability/metrics_doc.py --write"
    )


def test_airdeck_bridge_engine_agrees():
    """The airdeck bridge's own mapper (strict loader) accepts the file and maps the wire cases alike."""
    mapper_mod = pytest.importorskip("airdeck.metrics.mapper", reason="airdeck bridge engine not importable")
    mapping_mod = pytest.importorskip("airdeck.metrics.mapping")
    mapper = mapper_mod.Mapper(mapping_mod.load_mapping_file(MAPPING_PATH))
    assert not mapper.warnings, mapper.warnings
    for line, name, _labels in WIRE_CASES:
        metric, _tags, kind = parse_line(line)
        result = mapper.get_mapping(metric, kind)
        assert result is not None and result.mapping.action == "map" and result.name == name, line
    for line in DROPPED_LINES:
        metric, _tags, kind = parse_line(line)
        result = mapper.get_mapping(metric, kind)
        assert result is not None and result.mapping.action == "drop", line
