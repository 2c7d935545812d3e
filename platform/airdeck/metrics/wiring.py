"""The metrics concern: how metrics and traces plug into the platform.

* ``[metrics]`` points every Airflow component at the StatsD receiver (InfluxDB-style tags, so
  dag_id/task_id/pool travel as labels): the metrics bridge locally, the chart's statsd-exporter on
  Kubernetes. ``[traces]`` turns on OpenTelemetry when ``observability.tracing.otlp_endpoint`` is set.
* :func:`otel_env` is the environment that chooses the OTLP exporter (Airflow 3.3 reads it from
  ``OTEL_*`` variables only; its ``[traces] otel_host/otel_port`` are deprecated and gRPC-only).
* Locally the concern adds the ``metrics-bridge`` component and, when
  ``observability.prometheus.enabled`` (or ``airdeck up --with-prometheus``), a ``prometheus`` that
  scrapes it with airdeck's rules; both start before any Airflow component, so no start-up metric is
  lost. The Prometheus configuration is rendered from ``prometheus/prometheus.yml`` with the
  configured ports and absolute rule paths. With ``observability.grafana.enabled`` (or ``airdeck up
  --with-grafana``) a ``grafana`` follows Prometheus (:mod:`airdeck.metrics.grafana`).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from airdeck.config.base import parse_duration, prometheus_duration
from airdeck.config.model import AirdeckConfig
from airdeck.config.observability import DEFAULT_MAPPING, ObservabilityFileError, mapping_file, repo_file
from airdeck.metrics.grafana import check_grafana, grafana_component
from airdeck.plan.build import CLI
from airdeck.plan.concern import Check, Concern, Phase, PlanContext, Runtime
from airdeck.plan.endpoints import Endpoints, Target
from airdeck.plan.model import Component, FileSpec, Probe, Settings
from airdeck.resources import data_root
from airdeck.state.home import AirdeckHome

BRIDGE = "metrics-bridge"
PROMETHEUS = "prometheus"
#: Debian's prometheus package installs here; PATH is searched first.
PROMETHEUS_BIN = Path("/usr/bin/prometheus")
#: Per-run and per-job tags never become labels (``run_id`` also blocks ``dagrun_id``: Airflow
#: matches these as regular expressions anywhere in the tag key; listed for clarity).
DISABLED_TAGS = "job_id,run_id,dagrun_id"
#: The scrape job of the alert dispatcher (prometheus/rules/alerts.yml, group airdeck-alert-pipeline).
ALERTS_JOB = "airdeck-alerts"
#: The scrape job the rules and dashboards expect (prometheus/rules, grafana/dashboards_src).
SCRAPE_JOB = "airdeck-statsd"


# ---------------------------------------------------------------------------------------- Airflow
def airflow_settings(cfg: AirdeckConfig, endpoints: Endpoints, component: str) -> Settings:
    """``[metrics]`` and ``[traces]`` of one Airflow component."""
    obs = cfg.observability
    settings: Settings = {}
    if obs.bridge.enabled or endpoints.kubernetes:
        settings["metrics"] = {
            "statsd_on": "True",
            "statsd_host": endpoints.statsd_host,
            "statsd_port": str(endpoints.statsd_port),
            "statsd_prefix": "airflow",  # the mapping matches airflow.*
            "statsd_influxdb_enabled": "True",
            "statsd_disabled_tags": DISABLED_TAGS,
        }
    else:
        settings["metrics"] = {"statsd_on": "False"}
    # Traces need the OTEL_* environment of otel_env(), which only supervised components get; one-off
    # CLI commands would otherwise fall back to Airflow's deprecated localhost:8889 gRPC default.
    tracing = bool(obs.tracing.otlp_endpoint) and component != CLI
    settings["traces"] = {"otel_on": "True" if tracing else "False"}
    return settings


def otel_env(cfg: AirdeckConfig, component: str) -> dict[str, str]:
    """Environment of an Airflow component that sends its traces to ``tracing.otlp_endpoint``."""
    tracing = cfg.observability.tracing
    if not tracing.otlp_endpoint or component == CLI:
        return {}
    if tracing.protocol == "grpc":
        exporter, endpoint = "otlp_proto_grpc", tracing.otlp_endpoint
    else:
        exporter, endpoint = "otlp_proto_http", f"{tracing.otlp_endpoint}/v1/traces"
    return {
        "OTEL_TRACES_EXPORTER": exporter,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": tracing.protocol,
        "OTEL_SERVICE_NAME": "airflow",
        "OTEL_RESOURCE_ATTRIBUTES": f"airdeck.service={component}",
    }


# ---------------------------------------------------------------------------------------- bridge
def bridge_argv(cfg: AirdeckConfig) -> list[str]:
    obs = cfg.observability
    return [sys.executable, "-m", "airdeck.metrics.cli",
            "--statsd-listen", f"127.0.0.1:{obs.statsd.port}",
            "--web-listen", f"127.0.0.1:{obs.bridge.metrics_port}",
            "--mapping", str(_mapping_or_default(cfg)),
            "--udp-rcvbuf", "8M",
            "--max-series", str(obs.bridge.max_series)]


def _mapping_or_default(cfg: AirdeckConfig) -> Path:
    """The mapping path; a missing file is reported by the preflight check, not by status or down."""
    try:
        return mapping_file(cfg.observability)
    except ObservabilityFileError:
        return cfg.observability.bridge.mapping or data_root() / DEFAULT_MAPPING


def bridge_component(endpoints: Endpoints) -> Component:
    """The metrics bridge: healthy when its ``/-/healthy`` answers 200."""
    cfg = endpoints.cfg
    url = endpoints.bridge_url
    return Component(BRIDGE, "metrics", tuple(bridge_argv(cfg)), env={"PYTHONUNBUFFERED": "1"}, start_secs=2,
                     ports=(("observability.bridge.metrics_port", cfg.observability.bridge.metrics_port),),
                     probe=Probe("http", url=f"{url}/-/healthy"), url=f"{url}/metrics")


# ---------------------------------------------------------------------------------------- Prometheus
def prometheus_binary() -> Path | None:
    found = shutil.which("prometheus")
    if found:
        return Path(found)
    return PROMETHEUS_BIN if PROMETHEUS_BIN.exists() else None


def prometheus_config_path(home: AirdeckHome) -> Path:
    return home.root / "prometheus" / "prometheus.yml"


def prometheus_data(home: AirdeckHome) -> Path:
    return home.root / "data" / "prometheus"


def render_prometheus_config(cfg: AirdeckConfig) -> dict[str, Any]:
    """prometheus/prometheus.yml with this stack's ports, intervals and absolute rule paths."""
    source = repo_file("prometheus/prometheus.yml", "observability.prometheus.enabled (turn it off)")
    document: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    prom = cfg.observability.prometheus
    document.setdefault("global", {}).update(
        {"scrape_interval": prometheus_duration(prom.scrape_interval),
         "evaluation_interval": prometheus_duration(prom.evaluation_interval)})
    if prom.scrape_interval < parse_duration(document["global"].get("scrape_timeout", "10s")):
        document["global"]["scrape_timeout"] = prometheus_duration(prom.scrape_interval)
    document["rule_files"] = [str((source.parent / pattern).resolve()) for pattern in document.get("rule_files", [])]
    if prom.alertmanagers:
        document["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(prom.alertmanagers)}]}]}
    else:
        document.pop("alerting", None)  # no Alertmanager configured: do not send to a port nobody serves
    targets = {SCRAPE_JOB: f"127.0.0.1:{cfg.observability.bridge.metrics_port}",
               "prometheus": f"127.0.0.1:{prom.port}"}
    if cfg.alerts.enabled:  # the dispatcher's /metrics, where the alert-pipeline rules look
        targets[ALERTS_JOB] = Endpoints(cfg, Target.local()).dispatcher_url.split("://", 1)[1]
    else:
        document["scrape_configs"] = [job for job in document.get("scrape_configs", [])
                                      if job.get("job_name") != ALERTS_JOB]
    for job in document.get("scrape_configs", []):
        if job.get("job_name") in targets:
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return document


def prometheus_config_text(cfg: AirdeckConfig) -> str:
    return ("# Rendered by airdeck from prometheus/prometheus.yml and airdeck.yaml. "
            "Do not edit: it is rewritten at every start.\n"
            + yaml.safe_dump(render_prometheus_config(cfg), sort_keys=False))


def prometheus_component(endpoints: Endpoints, home: AirdeckHome) -> Component:
    """Prometheus scraping the bridge: healthy when its ``/-/ready`` answers 200."""
    cfg = endpoints.cfg
    port = cfg.observability.prometheus.port
    config = prometheus_config_path(home)
    binary = prometheus_binary() or PROMETHEUS_BIN
    argv = (str(binary), f"--config.file={config}", f"--storage.tsdb.path={prometheus_data(home)}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=15d",
            "--web.enable-lifecycle")
    url = endpoints.prometheus_url
    return Component(PROMETHEUS, "prometheus", argv, start_secs=2,
                     files=(FileSpec(str(config), prometheus_config_text(cfg)),),
                     ports=(("observability.prometheus.port", port),),
                     probe=Probe("http", url=f"{url}/-/ready"), url=url)


# ---------------------------------------------------------------------------------------- the concern
class MetricsConcern(Concern):
    name = "metrics"

    def settings(self, ctx: PlanContext, component: str) -> Settings:
        return airflow_settings(ctx.cfg, ctx.endpoints, component)

    def env(self, ctx: PlanContext, component: str) -> Mapping[str, str]:
        return otel_env(ctx.cfg, component)

    def components(self, ctx: PlanContext) -> list[Component]:
        if ctx.endpoints.kubernetes or not ctx.cfg.observability.bridge.enabled:
            return []  # on Kubernetes the chart runs the official statsd-exporter with the same mapping
        out = [bridge_component(ctx.endpoints)]
        if ctx.cfg.observability.prometheus.enabled:
            out.append(prometheus_component(ctx.endpoints, ctx.home))
        if ctx.cfg.observability.grafana.enabled:
            out.append(grafana_component(ctx.endpoints, ctx.home))
        return out

    def preflight(self, phase: Phase) -> list[Check]:
        return [check_files] if phase == "before_start" else []


def check_files(runtime: Runtime) -> None:
    """``airdeck up``: the bridge's mapping exists; Prometheus, when asked for, can run."""
    cfg = runtime.cfg
    if cfg.observability.bridge.enabled:
        mapping_file(cfg.observability)  # a missing file fails now, with the key to set
    if not cfg.observability.prometheus.enabled:
        return
    if prometheus_binary() is None:
        raise ObservabilityFileError(
            "Prometheus was asked for (--with-prometheus or observability.prometheus.enabled) but no "
            f"`prometheus` binary is on PATH or at {PROMETHEUS_BIN}. Install it (Debian/Ubuntu: "
            "apt-get install prometheus) or start without --with-prometheus.")
    if not cfg.observability.bridge.enabled:
        raise ObservabilityFileError(
            "observability.prometheus needs the metrics bridge it scrapes; set observability.bridge.enabled: true")
    prometheus_data(runtime.home).mkdir(parents=True, exist_ok=True)
    if cfg.observability.grafana.enabled:
        check_grafana(runtime.home)
