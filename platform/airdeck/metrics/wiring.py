"""How metrics and traces plug into the local platform.

* :func:`airflow_settings` is the ``config/render.py`` contributor: ``[metrics]`` points every
  Airflow service at the bridge (InfluxDB-style tags, so dag_id/task_id/pool travel as labels) and
  ``[traces]`` turns on OpenTelemetry when ``observability.tracing.otlp_endpoint`` is set.
* :func:`otel_env` is the environment that chooses the OTLP exporter (Airflow 3.3 reads it from
  ``OTEL_*`` variables only; its ``[traces] otel_host/otel_port`` are deprecated and gRPC-only).
* :func:`bridge_service` and :func:`prometheus_service` are services of the local stack. The bridge
  starts in wave 0, with PostgreSQL and Valkey, so no start-up metric of an Airflow service is lost.
* :func:`before_start` applies ``airdeck up --with-prometheus``.

The Prometheus configuration is rendered from the repository's ``prometheus/prometheus.yml`` into
``$AIRDECK_HOME/prometheus/prometheus.yml`` with the configured ports and absolute rule paths. That
file exists exactly while Prometheus is part of the stack, so ``airdeck status`` and ``down`` (other
invocations, without the flag) still know about it.
"""

from __future__ import annotations

import re
import shutil
import sys
import urllib.error
import urllib.request
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from airdeck.config.observability import REPO_ROOT, ObservabilityFileError, mapping_file, repo_file

if TYPE_CHECKING:
    from airdeck.config.model import AirdeckConfig
    from airdeck.stack.health import Health
    from airdeck.stack.services import Service
    from airdeck.state.home import AirdeckHome

BRIDGE = "metrics-bridge"
PROMETHEUS = "prometheus"
#: Debian's prometheus package installs here; PATH is searched first.
PROMETHEUS_BIN = Path("/usr/bin/prometheus")
#: Per-run and per-job tags never become labels (``run_id`` also blocks ``dagrun_id``: Airflow
#: matches these as regular expressions anywhere in the tag key; listed for clarity).
DISABLED_TAGS = "job_id,run_id,dagrun_id"
#: The scrape job the rules and dashboards expect (prometheus/rules, grafana/dashboards_src).
SCRAPE_JOB = "airdeck-statsd"


# ---------------------------------------------------------------------------------------- Airflow
def airflow_settings(cfg: AirdeckConfig, home: AirdeckHome, service: str) -> dict[str, dict[str, str]]:
    """Contributor for config/render.py: ``[metrics]`` and ``[traces]`` of one service."""
    obs = cfg.observability
    settings: dict[str, dict[str, str]] = {}
    if obs.bridge.enabled:
        settings["metrics"] = {
            "statsd_on": "True",
            "statsd_host": "127.0.0.1",
            "statsd_port": str(obs.statsd.port),
            "statsd_prefix": "airflow",  # the mapping matches airflow.*
            "statsd_influxdb_enabled": "True",
            "statsd_disabled_tags": DISABLED_TAGS,
        }
    else:
        settings["metrics"] = {"statsd_on": "False"}
    # Traces need the OTEL_* environment of otel_env(), which only supervised services get; one-off
    # CLI commands ("cli") would otherwise fall back to Airflow's deprecated localhost:8889 gRPC default.
    tracing = bool(obs.tracing.otlp_endpoint) and service != "cli"
    settings["traces"] = {"otel_on": "True" if tracing else "False"}
    return settings


def otel_env(cfg: AirdeckConfig, service: str) -> dict[str, str]:
    """Environment of an Airflow service that sends its traces to ``tracing.otlp_endpoint``."""
    tracing = cfg.observability.tracing
    if not tracing.otlp_endpoint:
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
        "OTEL_RESOURCE_ATTRIBUTES": f"airdeck.service={service}",
    }


# ---------------------------------------------------------------------------------------- bridge
def bridge_url(cfg: AirdeckConfig) -> str:
    return f"http://127.0.0.1:{cfg.observability.bridge.metrics_port}"


def bridge_argv(cfg: AirdeckConfig) -> list[str]:
    obs = cfg.observability
    return [sys.executable, "-m", "airdeck.metrics.cli",
            "--statsd-listen", f"127.0.0.1:{obs.statsd.port}",
            "--web-listen", f"127.0.0.1:{obs.bridge.metrics_port}",
            "--mapping", str(_mapping_or_default(cfg)),
            "--udp-rcvbuf", "8M"]


def _mapping_or_default(cfg: AirdeckConfig) -> Path:
    """The mapping path; a missing file is reported by :func:`before_start`, not by status or down."""
    try:
        return mapping_file(cfg.observability)
    except ObservabilityFileError:
        return cfg.observability.bridge.mapping or REPO_ROOT / "prometheus" / "statsd-mapping.yml"


def bridge_service(cfg: AirdeckConfig, wave: int, env: dict[str, str]) -> Service:
    """The metrics bridge: healthy when its ``/-/healthy`` answers 200."""
    from airdeck.stack.services import Service
    from airdeck.stack.supervisor import Program

    url = bridge_url(cfg)
    program = Program(BRIDGE, bridge_argv(cfg), {**env, "PYTHONUNBUFFERED": "1"}, start_secs=2, priority=5)
    return Service(BRIDGE, "metrics", wave, program, partial(http_health, f"{url}/-/healthy"), f"{url}/metrics")


def http_health(url: str) -> Health:
    from airdeck.stack.health import Health

    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback URL
            return Health(response.status == 200, f"{url} answered {response.status}")
    except urllib.error.HTTPError as exc:
        return Health(False, f"{url} answered {exc.code}")
    except (OSError, ValueError) as exc:
        return Health(False, f"no answer at {url} ({getattr(exc, 'reason', exc)})")


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


def prometheus_wanted(cfg: AirdeckConfig, home: AirdeckHome) -> bool:
    """Prometheus is part of this stack: enabled in airdeck.yaml or by the last ``up --with-prometheus``."""
    return cfg.observability.prometheus.enabled or prometheus_config_path(home).exists()


def render_prometheus_config(cfg: AirdeckConfig) -> dict[str, Any]:
    """prometheus/prometheus.yml with this stack's ports, intervals and absolute rule paths."""
    source = repo_file("prometheus/prometheus.yml", "observability.prometheus.enabled (turn it off)")
    document: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    prom = cfg.observability.prometheus
    document.setdefault("global", {}).update(
        {"scrape_interval": prom.scrape_interval, "evaluation_interval": prom.evaluation_interval})
    if _seconds(prom.scrape_interval) < _seconds(document["global"].get("scrape_timeout", "10s")):
        document["global"]["scrape_timeout"] = prom.scrape_interval
    document["rule_files"] = [str((source.parent / pattern).resolve()) for pattern in document.get("rule_files", [])]
    if prom.alertmanagers:
        document["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(prom.alertmanagers)}]}]}
    else:
        document.pop("alerting", None)  # no Alertmanager configured: do not send to a port nobody serves
    targets = {SCRAPE_JOB: f"127.0.0.1:{cfg.observability.bridge.metrics_port}",
               "prometheus": f"127.0.0.1:{prom.port}"}
    for job in document.get("scrape_configs", []):
        if job.get("job_name") in targets:
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return document


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", duration))


def write_prometheus_config(cfg: AirdeckConfig, home: AirdeckHome) -> Path:
    path = prometheus_config_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ("# Rendered by airdeck from prometheus/prometheus.yml and airdeck.yaml. "
            "Do not edit: it is rewritten at every start.\n"
            + yaml.safe_dump(render_prometheus_config(cfg), sort_keys=False))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(".yml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def prometheus_service(cfg: AirdeckConfig, home: AirdeckHome, wave: int, env: dict[str, str]) -> Service:
    """Prometheus scraping the bridge: healthy when its ``/-/ready`` answers 200."""
    from airdeck.stack.services import Service
    from airdeck.stack.supervisor import Program

    port = cfg.observability.prometheus.port
    config = prometheus_config_path(home)
    if home.root.exists() and cfg.observability.prometheus.enabled:
        write_prometheus_config(cfg, home)
    binary = prometheus_binary() or PROMETHEUS_BIN
    argv = [str(binary), f"--config.file={config}", f"--storage.tsdb.path={prometheus_data(home)}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=15d",
            "--web.enable-lifecycle"]
    url = f"http://127.0.0.1:{port}"
    return Service(PROMETHEUS, "prometheus", wave, Program(PROMETHEUS, argv, env, start_secs=2, priority=6),
                   partial(http_health, f"{url}/-/ready"), url)


def before_start(cfg: AirdeckConfig, home: AirdeckHome, with_prometheus: bool) -> None:
    """``airdeck up``: check the bridge's mapping and apply ``--with-prometheus`` before anything starts."""
    if cfg.observability.bridge.enabled:
        mapping_file(cfg.observability)  # a missing file fails now, with the key to set
    if with_prometheus:
        cfg.observability.prometheus.enabled = True
    if not cfg.observability.prometheus.enabled:
        prometheus_config_path(home).unlink(missing_ok=True)
        return
    if prometheus_binary() is None:
        raise ObservabilityFileError(
            "Prometheus was asked for (--with-prometheus or observability.prometheus.enabled) but no "
            f"`prometheus` binary is on PATH or at {PROMETHEUS_BIN}. Install it (Debian/Ubuntu: "
            "apt-get install prometheus) or start without --with-prometheus.")
    if not cfg.observability.bridge.enabled:
        raise ObservabilityFileError(
            "observability.prometheus needs the metrics bridge it scrapes; set observability.bridge.enabled: true")
    prometheus_data(home).mkdir(parents=True, exist_ok=True)
    write_prometheus_config(cfg, home)


def services(cfg: AirdeckConfig, home: AirdeckHome, wave: int, env: dict[str, str]) -> list[Service]:
    """The observability services of the stack, all in ``wave`` (before the Airflow services)."""
    out = []
    if cfg.observability.bridge.enabled:
        out.append(bridge_service(cfg, wave, env))
        if prometheus_wanted(cfg, home):
            out.append(prometheus_service(cfg, home, wave, env))
    return out


__all__ = ["ObservabilityFileError", "airflow_settings", "before_start", "otel_env", "services"]
