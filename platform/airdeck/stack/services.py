"""The services of the local stack: how each starts, what it depends on, and how its health is judged."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from airdeck.config.model import AirdeckConfig
from airdeck.config.render import broker_url, service_names, worker_index
from airdeck.stack import health, postgres, valkey
from airdeck.stack.health import Health
from airdeck.stack.supervisor import Program
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore
from airdeck.tls.settings import ca_file as tls_ca_file

#: Marker put in the environment of every supervised process, to find orphans of a crashed run.
STACK_MARKER = "AIRDECK_STACK"


@dataclass
class Service:
    name: str
    kind: str
    wave: int  # services of one wave start together; a wave starts when the one before is healthy
    program: Program
    check: Callable[[], Health]
    url: str | None = None


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def airflow_env(home: AirdeckHome, service: str) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home.airflow_home),
        "AIRFLOW_CONFIG": str(home.service_config(service)),
        "PYTHONUNBUFFERED": "1",
    }


def worker_node(index: int) -> str:
    return f"worker-{index}@{socket.gethostname()}"


def build(cfg: AirdeckConfig, home: AirdeckHome, secrets: SecretStore) -> list[Service]:
    """Every service of the stack in start order."""
    marker = {STACK_MARKER: str(home.root)}
    base = cfg.api_server.public_url()
    # https when tls.enabled: health checks verify the api-server's certificate with the configured CA
    internal = f"{'https' if cfg.tls.enabled else 'http'}://127.0.0.1:{cfg.api_server.port}"
    ca = tls_ca_file(cfg, home)
    services: list[Service] = []
    if cfg.database.url is None:
        port = cfg.database.embedded.port
        password = secrets.get("database_password")
        services.append(Service(
            "postgres", "database", 0,
            Program("postgres", postgres.command(home.postgres_data, home.postgres_socket_dir, port,
                                                 cfg.database.embedded.max_connections),
                    env=marker, user=postgres.run_as_user(), stop_signal="INT", start_secs=2, priority=10),
            partial(health.postgres, port, password), f"postgresql://127.0.0.1:{port}/airflow"))
    if cfg.broker.url is None:
        url = broker_url(cfg, secrets)
        services.append(Service(
            "valkey", "broker", 0,
            Program("valkey", valkey.command(home.valkey_dir / "valkey.conf"), env=marker,
                    directory=home.valkey_dir, start_secs=2, priority=20),
            partial(health.valkey, url), f"redis://127.0.0.1:{cfg.broker.embedded.port}/0"))
    # observability: the metrics bridge (and Prometheus) start with wave 0, before any Airflow service
    from airdeck.metrics import wiring as metrics_wiring

    services += metrics_wiring.services(cfg, home, 0, marker)
    airflow = airflow_bin()
    for name in service_names(cfg):
        env = {**airflow_env(home, name), **metrics_wiring.otel_env(cfg, name), **marker}
        index = worker_index(name)
        if name == "api-server":
            argv = [airflow, "api-server", "--host", cfg.api_server.host, "--port", str(cfg.api_server.port),
                    "--workers", str(cfg.api_server.workers), "--worker-timeout", str(cfg.api_server.worker_timeout)]
            services.append(Service(name, "api-server", 1, Program(name, argv, env, priority=100),
                                    partial(health.api_server, internal, ca_file=ca), base))
        elif name == "scheduler":
            port = cfg.scheduler.health_check_port
            services.append(Service(name, "scheduler", 2, Program(name, [airflow, "scheduler"], env, priority=200),
                                    partial(health.scheduler, internal, port, ca_file=ca), f"http://127.0.0.1:{port}/health"))
        elif name == "dag-processor":
            services.append(Service(name, "dag-processor", 2,
                                    Program(name, [airflow, "dag-processor"], env, priority=200),
                                    partial(health.heartbeat, internal, "dag_processor", ca_file=ca)))
        elif name == "triggerer":
            services.append(Service(name, "triggerer", 2, Program(name, [airflow, "triggerer"], env, priority=200),
                                    partial(health.heartbeat, internal, "triggerer", ca_file=ca)))
        elif index is not None:
            node = worker_node(index)
            argv = [airflow, "celery", "worker", "--celery-hostname", f"worker-{index}@%h",
                    "--concurrency", str(cfg.workers.concurrency), "--without-mingle", "--without-gossip"]
            broker = broker_url(cfg, secrets)
            services.append(Service(name, "worker", 3, Program(name, argv, env, priority=300),
                                    partial(health.celery_worker, broker, node),
                                    f"http://127.0.0.1:{cfg.workers.log_server_port + index - 1}"))
    if cfg.alerts.enabled:  # alerting (docs/alerting.md): its own wave, after the workers
        from airdeck.alerts.wiring import service as alert_dispatcher

        services.append(alert_dispatcher(cfg, home, secrets, 4, marker))
    return services
