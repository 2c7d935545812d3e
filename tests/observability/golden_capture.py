"""The golden StatsD capture of Airflow 3.3.2 and what the bridge makes of it.

``golden/airflow-3.3.2-statsd.txt`` holds every distinct StatsD line (name, tags, type) Airflow
3.3.2 sent during a run of ``tests/observability/test_live_panels.py`` on a real airdeck stack: the
example DAGs and the DAGs of ``dags/`` (task groups, mapped tasks, pools, a deferred sensor, missed
deadlines, failures, task instances held scheduled, queued, running and deferred, a file that outlives
the parsing timeout) and the failures that test provokes (critical section busy, a task killed
externally and one without heartbeat, a Celery publish timeout, triggers failing and blocking). To
record it again::

    AIRDECK_WRITE_GOLDEN=1 flock /tmp/airdeck-stack.lock .venv/bin/pytest tests/observability/test_live_panels.py

The
trimming keeps it deterministic: one line per distinct name+tags+type (the first value seen),
the host name replaced by ``HOST``, sorted. ``golden/expected-series.txt`` is the set of series the
mapping turns it into (name and labels, ``_bucket``/``_sum``/``_count`` folded into the histogram).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
CAPTURE = GOLDEN / "airflow-3.3.2-statsd.txt"
EXPECTED_SERIES = GOLDEN / "expected-series.txt"
HOST = "HOST"
_HEADER = ("# StatsD lines sent by Airflow 3.3.2 (statsd_influxdb_enabled, prefix airflow) during the live panel\n"
           "# test (example DAGs, held and provoked states); one per distinct name+tags+type, host name as HOST.\n"
           "# Recorded by tests/observability/test_live_panels.py (AIRDECK_WRITE_GOLDEN=1). Do not edit by hand.\n")
#: Metrics a dashboard or rule uses that Airflow 3.3.2 cannot emit in the capture run, and why (naming the
#: Airflow code). Empty: the live panel test holds every task state the state gauges sample and provokes
#: every error path a dashboard or rule counts, so the capture has them all.
NOT_IN_CAPTURE: dict[str, str] = {}
_LINE = re.compile(r"^(?P<name>[^:]+):(?P<value>[^|]+)\|(?P<type>[a-z]+)(?P<rest>\|.*)?$")
_HIST_SUFFIX = re.compile(r"_(bucket|sum|count)$")
_METRIC_TOKEN = re.compile(r"\b((?:airflow|statsd_exporter|statsd_metric_mapper)_[a-zA-Z0-9_]+)\b")


def trim(lines: list[str], hostname: str | None = None) -> list[str]:
    """One line per distinct name+tags+type, host names replaced, sorted."""
    host = hostname or socket.gethostname()
    seen: dict[tuple[str, str], str] = {}
    for line in lines:
        line = line.strip()
        match = _LINE.match(line)
        if not match:
            continue
        name = match.group("name").replace(host, HOST)
        key = (name, match.group("type"))
        if key not in seen:
            seen[key] = f"{name}:{match.group('value')}|{match.group('type')}{match.group('rest') or ''}"
    return sorted(seen.values())


def write_capture(lines: list[str]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    CAPTURE.write_text(_HEADER + "\n".join(trim(lines)) + "\n", encoding="utf-8")
    EXPECTED_SERIES.write_text(
        "# Series the bridge makes of golden/airflow-3.3.2-statsd.txt with prometheus/statsd-mapping.yml.\n"
        "# Regenerated with the capture; do not edit by hand.\n"
        + "\n".join(format_series(s) for s in sorted(map_lines(read_capture())[0])) + "\n", encoding="utf-8")


def read_capture() -> list[str]:
    return [line for line in CAPTURE.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


def read_expected_series() -> set[str]:
    return {line for line in EXPECTED_SERIES.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")}


Series = tuple[str, frozenset[tuple[str, str]]]


def format_series(series: Series) -> str:
    name, labels = series
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels) if k != "le" and v)  # empty = absent
    return f"{name}{{{inner}}}"


def map_lines(lines: list[str]) -> tuple[set[Series], dict[str, float]]:
    """Feed the lines through the bridge's engine with the repository's mapping.

    Returns the Airflow series (histogram parts folded, ``le`` dropped) and the bridge's self-metrics
    (``unmapped``, ``dropped``, ``errors``, ``conflicts``, ``sample_errors``)."""
    from airdeck.metrics.exporter import Exporter
    from airdeck.metrics.mapping import load_mapping_file

    from tests.metrics.bridge_helpers import FakeClock, parse_exposition, render, types_of

    exporter = Exporter(load_mapping_file(REPO / "prometheus" / "statsd-mapping.yml"), FakeClock())
    for line in lines:
        exporter.handle_packet(line.encode())
    text = render(exporter)
    histograms = {name for name, kind in types_of(text).items() if kind == "histogram"}
    series: set[Series] = set()
    stats = {"unmapped": 0.0, "dropped": 0.0, "errors": 0.0, "conflicts": 0.0, "sample_errors": 0.0, "events": 0.0}
    for (name, labels), value in parse_exposition(text).items():
        if name.startswith("airflow_"):
            if name.endswith("_created"):
                continue
            base = _HIST_SUFFIX.sub("", name)
            series.add((base if base in histograms else name, frozenset((k, v) for k, v in labels if k != "le")))
        elif name == "statsd_exporter_events_unmapped_total":
            stats["unmapped"] += value
        elif name == "statsd_exporter_events_actions_total" and ("action", "drop") in labels:
            stats["dropped"] += value
        elif name == "statsd_exporter_events_error_total":
            stats["errors"] += value
        elif name == "statsd_exporter_events_conflict_total":
            stats["conflicts"] += value
        elif name == "statsd_exporter_sample_errors_total":
            stats["sample_errors"] += value
        elif name == "statsd_exporter_events_total":
            stats["events"] += value
    return series, stats


def referenced_metrics() -> dict[str, set[str]]:
    """Every metric name a dashboard panel, dashboard variable or Prometheus rule uses -> where."""
    import sys

    sys.path.insert(0, str(REPO / "grafana"))
    from dashboards_src import iter_queries, iter_variable_queries

    used: dict[str, set[str]] = {}

    def note(expr: str, where: str) -> None:
        for token in _METRIC_TOKEN.findall(expr):
            used.setdefault(_HIST_SUFFIX.sub("", token), set()).add(where)

    for q in iter_queries():
        note(q.expr, f"dashboard {q.dashboard_uid} / {q.panel_title}")
    for v in iter_variable_queries():
        note(v.query, f"dashboard {v.dashboard_uid} variable {v.name}")
    for path in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                note(rule["expr"], f"rule {rule.get('record') or rule.get('alert')}")
    return used
