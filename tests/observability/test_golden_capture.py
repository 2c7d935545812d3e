"""Golden tests: what Airflow 3.3.2 really sent, through the bridge with the repository's mapping.

The capture (``golden/airflow-3.3.2-statsd.txt``, see golden_capture.py) was recorded from a real
airdeck stack running the example DAGs and the observability probe. These tests need no stack:

- the capture is well-formed and trimmed (sorted, distinct, no host name);
- through the bridge's engine every line is either mapped or dropped on purpose (legacy twins):
  nothing unmapped, no type conflict, no parse error;
- the resulting series are exactly ``golden/expected-series.txt``;
- the facts the mapping exists for hold on real traffic: TaskGroup ids keep their dots, mapped
  instances share one series, failures carry ``state="failed"``, pools are labelled, the missed
  deadline is counted, per-run ids never become labels, legacy names are dropped;
- every metric a dashboard or a rule uses is produced by the capture (or listed in
  ``NOT_IN_CAPTURE`` with the reason);
- the golden series are anchored outside our own engine: every series (name and label names) the
  capture yields is one that ``golden/statsd-exporter-semantics.yml`` (statsd_exporter's behaviour,
  written by hand from its code, see test_statsd_exporter_semantics.py) expects for the same kind of
  line, so ``expected-series.txt`` cannot drift with a bridge bug that the snapshot would just record.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import yaml
from golden_capture import (
    CAPTURE,
    HOST,
    NOT_IN_CAPTURE,
    format_series,
    map_lines,
    read_capture,
    read_expected_series,
    referenced_metrics,
)

if not CAPTURE.exists():
    pytest.fail(f"{CAPTURE} is missing; record it with "
                "AIRDECK_WRITE_GOLDEN=1 pytest tests/observability/test_live_panels.py")

LINES = read_capture()
SERIES, STATS = map_lines(LINES)
FORMATTED = {format_series(s) for s in SERIES}


def _series(name: str) -> list[dict[str, str]]:
    return [dict(labels) for n, labels in SERIES if n == name]


def test_capture_is_trimmed_and_well_formed() -> None:
    assert len(LINES) > 200
    assert LINES == sorted(set(LINES))
    keys = [re.sub(r":[^:|]+\|", "|", line.split("|@")[0]) for line in LINES]
    assert len(keys) == len(set(keys)), "one line per distinct name+tags+type"
    line_re = re.compile(r"^airflow\.[^:\s]+:-?[0-9.e+-]+\|(c|g|ms)(\|@[0-9.]+)?$")
    assert [line for line in LINES if not line_re.match(line)] == []
    assert all(socket.gethostname() not in line for line in LINES) or socket.gethostname() == HOST


def test_every_line_is_mapped_or_dropped_on_purpose() -> None:
    assert STATS["unmapped"] == 0, STATS
    assert STATS["conflicts"] == 0, STATS
    assert STATS["dropped"] > 0  # the legacy twins
    # The only refused events: the dag-processor decrements dag_processing.processes when it kills a parsing
    # process (action=timeout, the timed-out observability_slow_parse.py), and a counter cannot go down.
    decrements = [line for line in LINES if re.match(r"airflow\.dag_processing\.processes[,:][^|]*:-", line)]
    assert decrements and STATS["errors"] == len(decrements), (STATS, decrements)


def test_series_match_the_expected_snapshot() -> None:
    expected = read_expected_series()
    assert FORMATTED == expected, (
        f"new: {sorted(FORMATTED - expected)[:20]}\ngone: {sorted(expected - FORMATTED)[:20]}\n"
        "If the mapping changed on purpose, regenerate golden/ (see golden_capture.py).")


def test_task_groups_mapped_tasks_pools_failures_and_deadlines() -> None:
    finished = _series("airflow_ti_finish_total")
    # a TaskGroup task keeps its dotted id; its mapped instances share one series (no map_index label)
    assert {"dag_id": "example_fanout", "task_id": "process.work", "state": "success"}.items() <= {
        k: v for s in finished if s.get("task_id") == "process.work" for k, v in s.items()}.items()
    assert not any("map_index" in s for s in finished)
    assert any(s.get("dag_id") == "example_fails_on_purpose" and s.get("state") == "failed" for s in finished)
    assert {s.get("pool_name") for s in _series("airflow_pool_open_slots")} >= {"default_pool", "observability_probe"}
    missed = _series("airflow_deadline_alerts_deadline_missed_total")
    assert any(s.get("dag_id") == "observability_probe" for s in missed)
    assert any(s.get("dag_id") == "example_fails_on_purpose" for s in _series("airflow_dagrun_duration_seconds"))


def test_per_run_ids_never_become_labels() -> None:
    for name, labels in SERIES:
        for key, value in labels:
            assert not (key in ("run_id", "dagrun_id", "job_id") and value), (name, key, value)


def test_legacy_names_are_in_the_capture_and_dropped() -> None:
    legacy = [line for line in LINES if line.startswith("airflow.ti.finish.example_fanout.")]
    assert legacy, "Airflow sends legacy twins by default; the capture should show them"
    assert any("process__work" in line for line in legacy)  # Airflow replaces the dots of ids in legacy names
    assert not any(name.startswith("airflow_ti_finish_example") for name, _ in SERIES)


def test_everything_dashboards_and_rules_use_is_in_the_capture() -> None:
    produced = {name for name, _ in SERIES}
    used = referenced_metrics()
    missing = {metric: sorted(where)[:3] for metric, where in used.items()
               if metric.startswith("airflow_") and metric not in produced and metric not in NOT_IN_CAPTURE}
    assert not missing, f"used by dashboards/rules but absent from the live capture: {missing}"
    stale = set(NOT_IN_CAPTURE) & produced
    assert not stale, f"NOT_IN_CAPTURE lists metrics the capture now has; remove them: {stale}"
    unused = set(NOT_IN_CAPTURE) - set(used)
    assert not unused, f"NOT_IN_CAPTURE lists metrics nothing uses: {unused}"


SEMANTICS = Path(__file__).resolve().parent / "golden" / "statsd-exporter-semantics.yml"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def _fold(name: str) -> str:
    """A histogram's ``_count``/``_sum``/``_bucket`` samples under the histogram's own name."""
    return re.sub(r"_(count|sum|bucket)$", "", name)


def _anchored_shapes() -> set[tuple[str, frozenset[str]]]:
    """(metric, label names) of every sample statsd_exporter is expected to expose in the hand-written file
    (histogram parts folded into the histogram's name, ``le`` and empty labels left out)."""
    data = yaml.safe_load(SEMANTICS.read_text(encoding="utf-8"))
    shapes = set()
    for case in data["semantics"] + data["rules"]:
        for line in case["expect"]:
            match = _SAMPLE.match(line)
            assert match, f"{SEMANTICS.name}: not a sample: {line!r}"
            labels = _LABEL.findall(match.group(2) or "")
            shapes.add((_fold(match.group(1)), frozenset(k for k, v in labels if v and k != "le")))
    return shapes


def test_golden_series_are_anchored_to_statsd_exporter_semantics() -> None:
    anchored = _anchored_shapes()
    golden = {(_fold(name), frozenset(k for k, v in labels if v)) for name, labels in SERIES}
    unanchored = sorted(f"{name}{{{','.join(sorted(keys))}}}" for name, keys in golden - anchored)
    assert not unanchored, (
        f"series of the golden capture that {SEMANTICS.name} (statsd_exporter's behaviour, by hand) has no case "
        f"for: {unanchored}; add a case with the capture's line and the samples statsd_exporter exposes for it")
