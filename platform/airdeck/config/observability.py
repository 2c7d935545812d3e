"""The ``observability:`` section of airdeck.yaml: StatsD, the metrics bridge, Prometheus, traces.

Example::

    observability:
      statsd: {port: 9125}                 # UDP port Airflow sends StatsD to (the bridge listens)
      bridge: {enabled: true, metrics_port: 9102}
      prometheus: {enabled: false, port: 9090, scrape_interval: 15s, evaluation_interval: 1m}
      grafana: {enabled: false, port: 3000}  # a Grafana found on this machine, provisioned by airdeck
      tracing: {otlp_endpoint: http://127.0.0.1:4318}
      grafana_url: https://grafana.example.com

Every Airflow service sends its metrics to the bridge (``[metrics]`` is rendered from this section);
``airdeck up --with-prometheus`` also starts Prometheus, scraping the bridge; ``airdeck up --with-grafana``
also starts a Grafana found on the machine (with Prometheus as its datasource).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from airdeck.config.base import Between, Duration, HostPort, HttpUrl, Port, Section
from airdeck.errors import AirdeckError
from airdeck.resources import ResourceNotFoundError, data_path


class StatsdSettings(Section):
    """Where Airflow sends its StatsD metrics."""

    port: Port = Field(9125, description="UDP port on 127.0.0.1 where the bridge receives Airflow's StatsD.")


class BridgeSettings(Section):
    """The metrics bridge: StatsD in, Prometheus /metrics out."""

    enabled: bool = Field(True, description="Start the metrics bridge (StatsD → Prometheus) with the platform.")
    metrics_port: Port = Field(9102, description="TCP port of the bridge's /metrics (loopback only).")
    mapping: Path | None = Field(
        None,
        description="statsd_exporter mapping file. Default: prometheus/statsd-mapping.yml of airdeck.",
    )
    max_series: int = Field(
        50_000, ge=100, le=10_000_000,
        description="Most series the bridge holds (about 1.1 KiB each for a counter, 1.6 KiB for a histogram). "
                    "A sample that would create one more is dropped and counted in "
                    "airdeck_metrics_bridge_dropped_samples_total (alert AirdeckMetricsSeriesLimit); existing "
                    "series keep updating. Bounds the memory any local process can make the bridge use through "
                    "the loopback StatsD port.",
    )


class PrometheusSettings(Section):
    """The Prometheus airdeck can start, scraping the bridge."""

    enabled: bool = Field(
        False, description="Start Prometheus with the platform (also: `airdeck up --with-prometheus`)."
    )
    port: Port = Field(9090, description="TCP port of Prometheus (loopback only).")
    scrape_interval: Annotated[Duration, Between("1s")] = Field(
        timedelta(seconds=15), description="How often Prometheus scrapes the bridge.")
    evaluation_interval: Annotated[Duration, Between("1s")] = Field(
        timedelta(minutes=1), description="How often Prometheus evaluates the rules.")
    alertmanagers: list[HostPort] = Field(
        default_factory=list, description="Alertmanager addresses (host:port) Prometheus sends alerts to."
    )


class GrafanaSettings(Section):
    """The Grafana airdeck can start: one installed on this machine, provisioned with the dashboards."""

    enabled: bool = Field(
        False, description="Start Grafana with the platform (also: `airdeck up --with-grafana`); turns on "
                           "observability.prometheus, its datasource. Grafana itself is not bundled: install it "
                           "(docs/observability.md).")
    port: Port = Field(3000, description="TCP port of Grafana (loopback only).")


class TracingSettings(Section):
    """Where Airflow sends its OpenTelemetry traces."""

    otlp_endpoint: HttpUrl | None = Field(
        None,
        description=(
            "OTLP collector that receives Airflow's traces, e.g. http://127.0.0.1:4318 (OTLP/HTTP) "
            "or http://127.0.0.1:4317 with protocol grpc. Unset: no traces."
        ),
    )
    protocol: Literal["http/protobuf", "grpc"] = Field("http/protobuf", description="OTLP transport.")


class ObservabilitySettings(Section):
    """Metrics, traces and the Grafana that shows them."""

    statsd: StatsdSettings = Field(default_factory=StatsdSettings)
    bridge: BridgeSettings = Field(default_factory=BridgeSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    grafana_url: HttpUrl | None = Field(
        None, description="Grafana's base URL: alert messages link to the DAG dashboard there.")

    @model_validator(mode="after")
    def _grafana_needs_prometheus(self) -> ObservabilitySettings:
        """Grafana's datasource is the bundled Prometheus: enabling Grafana enables it."""
        if self.grafana.enabled and not self.prometheus.enabled:
            self.prometheus.enabled = True
        return self

    def local_ports(self) -> list[tuple[str, int]]:
        """TCP ports of the observability services (the StatsD port is UDP and not listed)."""
        ports = []
        if self.bridge.enabled:
            ports.append(("observability.bridge.metrics_port", self.bridge.metrics_port))
        if self.prometheus.enabled:
            ports.append(("observability.prometheus.port", self.prometheus.port))
        if self.grafana.enabled:
            ports.append(("observability.grafana.port", self.grafana.port))
        return ports


class ObservabilityFileError(AirdeckError):
    """A file the observability services need is missing."""


#: The mapping airdeck ships (packaged from the repository's prometheus/statsd-mapping.yml).
DEFAULT_MAPPING = "prometheus/statsd-mapping.yml"


def mapping_file(settings: ObservabilitySettings) -> Path:
    """The mapping file the bridge reads: the configured one, else the one airdeck ships."""
    if settings.bridge.mapping is not None:
        path = settings.bridge.mapping.expanduser().absolute()
        if not path.is_file():
            raise ObservabilityFileError(
                f"observability.bridge.mapping: {path} does not exist; point it at a statsd_exporter mapping file"
            )
        return path
    return repo_file(DEFAULT_MAPPING, "observability.bridge.mapping")


def repo_file(relative: str, key: str) -> Path:
    """A file airdeck ships from its ``prometheus/`` folder, or an error naming the key that replaces it."""
    try:
        path = data_path(relative)
    except ResourceNotFoundError as exc:
        raise ObservabilityFileError(f"{exc}. Or set {key} in airdeck.yaml to a copy of that file.") from None
    if not path.is_file():
        raise ObservabilityFileError(
            f"airdeck's packaged {relative} is not a file ({path}); reinstall airdeck, or set {key} in airdeck.yaml"
        )
    return path
