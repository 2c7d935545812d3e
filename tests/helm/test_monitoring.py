"""The chart's monitoring objects work for any release name and for a Prometheus and Grafana of the user's.

The rules and dashboards select the StatsD exporter's series by ``job="airdeck-statsd"`` and the alert
dispatcher's by ``job="airdeck-alerts"`` (the local stack's scrape job names). A Prometheus Operator names a
ServiceMonitor target's job after its Service (``<release>-statsd-exporter``) unless the ServiceMonitor says
otherwise; these tests derive each endpoint's job the way the operator does (Service name, ``jobLabel``,
then the endpoint's ``relabelings``) for several release names, then run the rendered PrometheusRule through
promtool with series carrying that job: the metrics-pipeline alerts must see the exporter as up.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import NAMESPACE, by_kind, render

RELEASES = ["airdeck", "obs-prod", "team-b"]
CHANNELS = {"airdeck": {"alerts": {"channels": {"ops": {"type": "slack", "connection": "slack_ops"}}}}}


def _relabel(labels: dict[str, str], rule: dict[str, Any]) -> None:
    """Apply one Prometheus relabel_config (the actions the chart uses; anything else fails the test)."""
    action = rule.get("action", "replace")
    assert action == "replace", f"relabel action {action!r} is not modelled here"
    sources = rule.get("sourceLabels", [])
    value = rule.get("separator", ";").join(labels.get(s, "") for s in sources)
    match = re.fullmatch(rule.get("regex", "(.*)"), value)
    if match is None:
        return
    labels[rule["targetLabel"]] = match.expand(rule.get("replacement", "$1").replace("$", "\\"))


def scrape_jobs(objects: list[dict[str, Any]]) -> dict[str, str]:
    """Service name -> the job label its targets get from the rendered ServiceMonitor."""
    monitor = by_kind(objects, "ServiceMonitor")[0]["spec"]
    selected = []
    for service in by_kind(objects, "Service"):
        labels = service["metadata"].get("labels", {})
        if all(labels.get(e["key"]) in e["values"] for e in monitor["selector"]["matchExpressions"]):
            selected.append(service)
    jobs = {}
    for service in selected:
        ports = {p["name"] for p in service["spec"]["ports"]}
        for endpoint in monitor["endpoints"]:
            if endpoint["port"] not in ports:
                continue
            job_label = monitor.get("jobLabel")
            labels = {"job": service["metadata"]["labels"].get(job_label) if job_label
                      else service["metadata"]["name"]}
            for rule in endpoint.get("relabelings", []):
                _relabel(labels, rule)
            jobs[service["metadata"]["name"]] = labels["job"]
    return jobs


@pytest.mark.parametrize("release", RELEASES)
def test_scrape_jobs_do_not_depend_on_the_release_name(release: str) -> None:
    jobs = scrape_jobs(render(CHANNELS, name=release))
    assert jobs == {f"{release}-statsd-exporter": "airdeck-statsd", f"{release}-alert-dispatcher": "airdeck-alerts"}


def _rule_jobs(objects: list[dict[str, Any]]) -> set[str]:
    rule = by_kind(objects, "PrometheusRule")[0]
    return set(re.findall(r'job="([^"]+)"', yaml.safe_dump(rule["spec"])))


@pytest.mark.parametrize("release", RELEASES)
def test_every_job_the_rules_select_is_scraped(release: str) -> None:
    objects = render(CHANNELS, name=release)
    assert _rule_jobs(objects) <= set(scrape_jobs(objects).values())


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("!!! promtool NOT FOUND: install it with: apt-get install -y prometheus !!!")
    return path


@pytest.mark.parametrize("release", ["obs-prod"])
def test_rendered_rules_see_the_exporter_scraped_under_another_release(release: str, tmp_path: Path) -> None:
    objects = render(CHANNELS, name=release)
    jobs = scrape_jobs(objects)
    statsd, alerts = jobs[f"{release}-statsd-exporter"], jobs[f"{release}-alert-dispatcher"]
    groups = by_kind(objects, "PrometheusRule")[0]["spec"]["groups"]
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    unmapped = next(r for g in groups for r in g["rules"] if r.get("alert") == "AirdeckMetricsUnmapped")
    annotations = {k: v.replace('{{ $value | printf "%.0f" }}', "5") for k, v in unmapped["annotations"].items()}
    where = f'instance="10.0.0.7:9102", namespace="airflow", service="{release}-statsd-exporter"'
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": f'up{{job="{statsd}", {where}}}', "values": "1x30"},
                {"series": f'statsd_exporter_events_unmapped_total{{job="{statsd}", {where}}}',
                 "values": "0 0 0 0 0 5x25"},
                {"series": f'up{{job="{alerts}", instance="10.0.0.8:9465"}}', "values": "1x30"},
                {"series": f'airdeck_alerts_dispatcher_up{{job="{alerts}", instance="10.0.0.8:9465"}}',
                 "values": "1x30"},
            ],
            "alert_rule_test": [
                {"eval_time": "12m", "alertname": "AirdeckMetricsPipelineDown", "exp_alerts": []},
                {"eval_time": "12m", "alertname": "AirdeckAlertDispatcherDown", "exp_alerts": []},
                {"eval_time": "12m", "alertname": "AirdeckMetricsUnmapped", "exp_alerts": [{
                    "exp_labels": {"severity": "warning", "component": "metrics-pipeline", "job": statsd,
                                   "instance": "10.0.0.7:9102", "namespace": NAMESPACE},
                    "exp_annotations": annotations,
                }]},
            ],
        }],
    }
    path = tmp_path / "release_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run([_promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rendered_prometheus_rule_is_one_valid_rule_file(tmp_path: Path) -> None:
    """The operator loads a PrometheusRule's groups as one rule file: group names must be unique in it."""
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": by_kind(render(CHANNELS), "PrometheusRule")[0]["spec"]["groups"]}))
    done = subprocess.run([_promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_names_the_release_namespace() -> None:
    """An AlertmanagerConfig routes only alerts labelled with its namespace (the operator's default matcher
    strategy); aggregated (sum by) and absent() alerts carry no namespace of their own."""
    groups = by_kind(render(CHANNELS), "PrometheusRule")[0]["spec"]["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert len(alerts) > 10
    assert all(r["labels"]["namespace"] == NAMESPACE for r in alerts), [r["alert"] for r in alerts]
    assert all("namespace" not in r.get("labels", {}) for g in groups for r in g["rules"] if "record" in r)
