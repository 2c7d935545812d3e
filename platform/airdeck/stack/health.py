"""Health checks, one per kind of probe in the plan. Each returns (healthy, detail) and never raises."""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airdeck.plan.model import Probe
from airdeck.stack import valkey as valkey_server


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str


def _get(url: str, timeout: float, ca_file: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - plan URL
    # https (tls.enabled): verify the api-server's certificate with the configured CA
    context = ssl.create_default_context(cafile=ca_file) if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return response.status, response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1 << 20)


def api_health_document(base_url: str, timeout: float = 5.0, ca_file: str | None = None) -> dict[str, Any] | None:
    """The JSON of ``/api/v2/monitor/health``, or None when the api-server does not answer."""
    try:
        status, body = _get(f"{base_url}/api/v2/monitor/health", timeout, ca_file)
    except (OSError, ValueError):
        return None
    if status != 200:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def api_server(base_url: str, ca_file: str | None = None) -> Health:
    """Healthy when the health JSON says the metadata database is healthy (HTTP 200 alone is not enough)."""
    document = api_health_document(base_url, ca_file=ca_file)
    if document is None:
        return Health(False, f"no health JSON at {base_url}/api/v2/monitor/health")
    status = (document.get("metadatabase") or {}).get("status")
    return Health(status == "healthy", f"metadatabase {status}")


def heartbeat(base_url: str, component: str, ca_file: str | None = None) -> Health:
    """scheduler / triggerer / dag_processor heartbeat as reported by the api-server."""
    document = api_health_document(base_url, ca_file=ca_file)
    if document is None:
        return Health(False, "api-server not answering, heartbeat unknown")
    entry = document.get(component) or {}
    status = entry.get("status")
    beat = next((value for key, value in entry.items() if key.startswith("latest_")), None)
    return Health(status == "healthy", f"heartbeat {status or 'never'}" + (f" at {beat}" if beat else ""))


def scheduler(base_url: str, health_url: str, ca_file: str | None = None) -> Health:
    """The scheduler's own ``/health`` server answers 200 and its heartbeat is current."""
    try:
        status, _ = _get(health_url, 3.0)
    except (OSError, ValueError):
        return Health(False, f"no answer at the scheduler health server {health_url}")
    if status != 200:
        return Health(False, f"scheduler /health answered {status}")
    return heartbeat(base_url, "scheduler", ca_file)


def http(url: str) -> Health:
    """Healthy when ``url`` answers 200; the first bytes of the answer are the detail."""
    try:
        status, body = _get(url, 3.0)
    except (OSError, ValueError) as exc:
        return Health(False, f"no answer at {url} ({getattr(exc, 'reason', exc)})")
    text = body[:200].decode("utf-8", errors="replace").strip()
    return Health(status == 200, text or f"{url} answered {status}")


def tcp(port: int, host: str = "127.0.0.1") -> Health:
    try:
        with socket.create_connection((host, port), timeout=2):
            return Health(True, f"listening on {host}:{port}")
    except OSError as exc:
        return Health(False, f"{host}:{port}: {exc.strerror or exc}")


def postgres(address: str, password: str) -> Health:
    import psycopg

    host, _, port = address.rpartition(":")
    try:
        with psycopg.connect(host=host, port=int(port), user="airflow", password=password,
                             dbname="postgres", connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return Health(True, f"accepting connections on {address}")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Health(False, first)


def valkey(url: str) -> Health:
    try:
        valkey_server.ping(url)
        return Health(True, "PONG")
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        return Health(False, str(exc).replace(url, "<broker>"))


def celery_worker(broker: str, node: str) -> Health:
    """Ping one Celery worker node through the broker."""
    from celery import Celery

    app = Celery(broker=broker, set_as_current=False)
    try:
        replies = app.control.ping(destination=[node], timeout=3.0)
    except Exception as exc:  # noqa: BLE001
        return Health(False, f"ping failed: {type(exc).__name__}")
    finally:
        app.close()
    if any(node in reply for reply in replies):
        return Health(True, f"{node} answered ping")
    return Health(False, f"{node} did not answer ping")


def check(probe: Probe, secret: Callable[[str], str]) -> Health:
    """Judge one component by its plan probe; secrets (passwords, the broker URL) come from ``secret``."""
    try:
        value = probe.secret.apply(secret(probe.secret.name)) if probe.secret is not None else ""
    except Exception as exc:  # noqa: BLE001 - a missing secret means unhealthy, never a traceback
        return Health(False, f"cannot check: {exc}")
    if probe.kind == "api-health":
        return api_server(probe.url, ca_file=probe.ca_file)
    if probe.kind == "scheduler":
        return scheduler(probe.url, probe.detail, ca_file=probe.ca_file)
    if probe.kind == "heartbeat":
        return heartbeat(probe.url, probe.detail, ca_file=probe.ca_file)
    if probe.kind == "http":
        return http(probe.url)
    if probe.kind == "postgres":
        return postgres(probe.url, value)
    if probe.kind == "valkey":
        return valkey(value)
    if probe.kind == "celery-ping":
        return celery_worker(value, probe.detail.replace("%h", socket.gethostname()))
    host, _, port = probe.url.rpartition(":")
    return tcp(int(port), host or "127.0.0.1")
