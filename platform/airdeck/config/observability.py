"""The ``observability:`` section of airdeck.yaml: StatsD, the metrics bridge, Prometheus, traces.

Example::

    observability:
      statsd: {port: 9125}                 # UDP port Airflow sends StatsD to (the bridge listens)
      bridge: {enabled: true, metrics_port: 9102}
      prometheus: {enabled: false, port: 9090, scrape_interval: 15s}
      tracing: {otlp_endpoint: http://127.0.0.1:4318}
      grafana_url: https://grafana.example.com

Every Airflow service sends its metrics to the bridge (``[metrics]`` is rendered from this section);
``airdeck up --with-prometheus`` also starts Prometheus, scraping the bridge.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airdeck.errors import AirdeckError
from airdeck.resources import ResourceNotFoundError, data_path, data_root
from airdeck.stack.errors import StackError

Port = Annotated[int, Field(ge=1, le=65535)]
_PROM_DURATION = re.compile(r"^(\d+(ms|s|m|h))+$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.-]+:\d{1,5}$")

#: The packaged data folder, laid out like the repository (``prometheus/…``). Only for
#: ``metrics/wiring.py``'s fallback path until it asks :mod:`airdeck.resources` itself; then remove it.
REPO_ROOT = data_root()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StatsdSettings(_Section):
    port: Port = Field(9125, description="UDP port on 127.0.0.1 where the bridge receives Airflow's StatsD.")


class BridgeSettings(_Section):
    enabled: bool = Field(True, description="Start the metrics bridge (StatsD → Prometheus) with the platform.")
    metrics_port: Port = Field(9102, description="TCP port of the bridge's /metrics (loopback only).")
    mapping: Path | None = Field(
        None,
        description="statsd_exporter mapping file. Default: prometheus/statsd-mapping.yml of airdeck.",
    )


class PrometheusSettings(_Section):
    enabled: bool = Field(
        False, description="Start Prometheus with the platform (also: `airdeck up --with-prometheus`)."
    )
    port: Port = Field(9090, description="TCP port of Prometheus (loopback only).")
    scrape_interval: str = Field("15s", description="How often Prometheus scrapes the bridge.")
    evaluation_interval: str = Field("1m", description="How often Prometheus evaluates the rules.")
    alertmanagers: list[str] = Field(
        default_factory=list, description="Alertmanager addresses (host:port) Prometheus sends alerts to."
    )

    @field_validator("scrape_interval", "evaluation_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _PROM_DURATION.match(value):
            raise ValueError(f"{value!r} is not a Prometheus duration; write e.g. 5s, 15s, 1m")
        return value

    @field_validator("alertmanagers")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for target in value:
            if not _HOST_PORT.match(target):
                raise ValueError(f"{target!r} is not host:port (e.g. 127.0.0.1:9093)")
        return value


class TracingSettings(_Section):
    otlp_endpoint: str | None = Field(
        None,
        description=(
            "OTLP collector that receives Airflow's traces, e.g. http://127.0.0.1:4318 (OTLP/HTTP) "
            "or http://127.0.0.1:4317 with protocol grpc. Unset: no traces."
        ),
    )
    protocol: Literal["http/protobuf", "grpc"] = Field("http/protobuf", description="OTLP transport.")

    @field_validator("otlp_endpoint")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:4318")
        return value.rstrip("/") if value else value


class ObservabilitySettings(_Section):
    statsd: StatsdSettings = Field(default_factory=StatsdSettings)
    bridge: BridgeSettings = Field(default_factory=BridgeSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    grafana_url: str | None = Field(None, description="Grafana's URL, shown by `airdeck up` and linked in docs.")

    def local_ports(self) -> list[tuple[str, int]]:
        """TCP ports of the observability services (the StatsD port is UDP and not listed)."""
        ports = []
        if self.bridge.enabled:
            ports.append(("observability.bridge.metrics_port", self.bridge.metrics_port))
        if self.prometheus.enabled:
            ports.append(("observability.prometheus.port", self.prometheus.port))
        return ports


class ObservabilityFileError(StackError, AirdeckError):
    """A file the observability services need is missing.

    Also a :class:`StackError` while the CLI catches that type (the base becomes ``AirdeckError`` alone
    once the CLI catches it).
    """


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
