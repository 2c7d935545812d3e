"""How components address each other, per target: the one place every internal URL is built.

Locally every component listens on loopback (or the address ``api_server.host`` names) and the
others reach it there; on Kubernetes each component is reached through its Service,
``<release>-<component>``. A listener on a wildcard address (``0.0.0.0``, ``::``) is reached through
loopback locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from airdeck.config.model import AirdeckConfig

WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - names of wildcard addresses, not a bind
LOOPBACK = "127.0.0.1"

#: Ports of the components the Kubernetes chart adds itself (the official statsd-exporter image).
STATSD_EXPORTER_UDP_PORT = 9125


@dataclass(frozen=True)
class Target:
    """Where a plan is applied: ``local`` (supervisord on one machine) or ``kubernetes`` (the chart)."""

    kind: Literal["local", "kubernetes"] = "local"
    release: str = "airdeck"  # Kubernetes: the Helm release, prefix of every Service name

    @classmethod
    def local(cls) -> Target:
        return cls("local")

    @classmethod
    def kubernetes(cls, release: str) -> Target:
        return cls("kubernetes", release)


def reach(host: str) -> str:
    """The address a client uses for a listener bound to ``host``."""
    return LOOPBACK if host in WILDCARDS else host


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Endpoints:
    """Every address of one platform on one target."""

    cfg: AirdeckConfig
    target: Target

    @property
    def kubernetes(self) -> bool:
        return self.target.kind == "kubernetes"

    def service_host(self, component: str) -> str:
        """Kubernetes: the Service of a component."""
        return f"{self.target.release}-{component}"

    # ------------------------------------------------------------------ api-server
    @property
    def api_scheme(self) -> str:
        return "https" if self.cfg.tls.enabled else "http"

    @property
    def api_bind_host(self) -> str:
        """The address the api-server listens on (all addresses in a container)."""
        return "0.0.0.0" if self.kubernetes else self.cfg.api_server.host  # noqa: S104 - a pod's own network

    @property
    def api_internal_url(self) -> str:
        """The api-server as every other component reaches it (health checks, workers, dispatcher)."""
        port = self.cfg.api_server.port
        host = self.service_host("api-server") if self.kubernetes else reach(self.cfg.api_server.host)
        return f"{self.api_scheme}://{_url_host(host)}:{port}"

    @property
    def api_public_url(self) -> str:
        """The URL people open (links in alerts, the UI): ``api_server.base_url`` or the internal URL."""
        return self.cfg.api_server.base_url or self.api_internal_url

    @property
    def execution_api_url(self) -> str:
        return f"{self.api_internal_url}/execution/"

    # ------------------------------------------------------------------ scheduler
    @property
    def scheduler_health_bind(self) -> str:
        return "0.0.0.0" if self.kubernetes else LOOPBACK  # noqa: S104 - kubelet probes the pod address

    @property
    def scheduler_health_url(self) -> str:
        host = self.service_host("scheduler") if self.kubernetes else LOOPBACK
        return f"http://{host}:{self.cfg.scheduler.health_check_port}/health"

    # ------------------------------------------------------------------ workers
    def worker_log_port(self, index: int) -> int:
        """Log server port of worker ``index`` (1-based); every pod uses the first one on Kubernetes."""
        return self.cfg.workers.log_server_port + (0 if self.kubernetes else index - 1)

    def worker_log_url(self, index: int) -> str:
        return f"http://{LOOPBACK}:{self.worker_log_port(index)}"

    # ------------------------------------------------------------------ embedded servers (local only)
    @property
    def database_host(self) -> str:
        return LOOPBACK

    @property
    def broker_host(self) -> str:
        return LOOPBACK

    # ------------------------------------------------------------------ metrics
    @property
    def statsd_host(self) -> str:
        return self.service_host("statsd-exporter") if self.kubernetes else LOOPBACK

    @property
    def statsd_port(self) -> int:
        return STATSD_EXPORTER_UDP_PORT if self.kubernetes else self.cfg.observability.statsd.port

    @property
    def bridge_url(self) -> str:
        return f"http://{LOOPBACK}:{self.cfg.observability.bridge.metrics_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{LOOPBACK}:{self.cfg.observability.prometheus.port}"

    @property
    def grafana_url(self) -> str:
        return f"http://{LOOPBACK}:{self.cfg.observability.grafana.port}"

    # ------------------------------------------------------------------ alerts
    @property
    def dispatcher_bind_host(self) -> str:
        return "0.0.0.0" if self.kubernetes else self.cfg.alerts.dispatcher.host  # noqa: S104

    @property
    def dispatcher_url(self) -> str:
        port = self.cfg.alerts.dispatcher.port
        host = self.service_host("alert-dispatcher") if self.kubernetes else reach(self.cfg.alerts.dispatcher.host)
        return f"http://{_url_host(host)}:{port}"


def path_segment(value: str) -> str:
    """``value`` (a DAG, run or task id) as one path segment of an api-server REST URL: every reserved
    character percent-encoded, and its dots too, so that an id of ``.`` or ``..`` names that object
    instead of moving up the URL's path (HTTP clients and proxies resolve literal dot segments before
    the request leaves). The api-server decodes it back to the id."""
    return quote(value, safe="").replace(".", "%2E")
