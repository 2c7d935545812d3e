"""Render the Airflow settings of each airdeck service from airdeck.yaml.

Every service gets its own ``airflow.cfg`` (mode 0600, passed through ``AIRFLOW_CONFIG``), so
secrets never travel in environment variables or command lines. Each value below is set on
purpose; docs/configuration.md explains why.
"""

from __future__ import annotations

import configparser
import io
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from airdeck.config.model import AirdeckConfig
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore, write_private

Settings = dict[str, dict[str, str]]

AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
MASK = "***"

#: (section, key) pairs whose values are secrets: masked when shown, only in 0600 files.
SECRET_OPTIONS = frozenset({
    ("core", "fernet_key"),
    ("api_auth", "jwt_secret"),
    ("api", "secret_key"),
    ("database", "sql_alchemy_conn"),
    ("celery", "broker_url"),
    ("celery", "result_backend"),
    ("secrets", "backend_kwargs"),
    ("workers", "secrets_backend_kwargs"),
})


def service_names(cfg: AirdeckConfig) -> list[str]:
    """Airflow services in start order: api-server first (workers need its Execution API)."""
    return [*AIRFLOW_SERVICES, *(f"worker-{n}" for n in range(1, cfg.workers.replicas + 1))]


def bundled_dags_folder() -> Path:
    return Path(str(resources.files("airdeck") / "example_dags"))


def database_url(cfg: AirdeckConfig, secrets: SecretStore) -> str:
    """The SQLAlchemy URL of the metadata database, with the psycopg (v3) driver named explicitly."""
    if cfg.database.url is not None:
        url = cfg.database.url.get_secret_value()
        scheme, rest = url.split("://", 1)
        if scheme == "postgresql":
            scheme = "postgresql+psycopg"
        return f"{scheme}://{rest}"
    password = quote(secrets.get("database_password"), safe="")
    return f"postgresql+psycopg://airflow:{password}@127.0.0.1:{cfg.database.embedded.port}/airflow"


def broker_url(cfg: AirdeckConfig, secrets: SecretStore) -> str:
    if cfg.broker.url is not None:
        return cfg.broker.url.get_secret_value()
    password = quote(secrets.get("broker_password"), safe="")
    return f"redis://:{password}@127.0.0.1:{cfg.broker.embedded.port}/0"


def mask_url(url: str) -> str:
    """The URL with its password replaced, fit for errors and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{netloc}"))


def worker_index(service: str) -> int | None:
    if service.startswith("worker-") and service[len("worker-"):].isdigit():
        return int(service[len("worker-"):])
    return None


def airflow_settings(cfg: AirdeckConfig, home: AirdeckHome, secrets: SecretStore, service: str) -> Settings:
    """The complete Airflow settings of one service (secrets included)."""
    if service not in service_names(cfg) and service != "cli":
        raise KeyError(f"unknown service {service!r}; services: {', '.join(service_names(cfg))}")
    api = cfg.api_server
    internal_api = f"http://127.0.0.1:{api.port}" if api.host in ("0.0.0.0", "127.0.0.1", "::") else (  # noqa: S104
        f"http://{api.host}:{api.port}")
    db_url = database_url(cfg, secrets)
    dags_folder = cfg.airflow.dags_folder or bundled_dags_folder()
    settings: Settings = {
        "core": {
            "executor": "CeleryExecutor",
            "auth_manager": FAB_AUTH_MANAGER,
            "dags_folder": str(Path(dags_folder).absolute()),
            "load_examples": "False",
            "parallelism": str(cfg.airflow.parallelism),
            "max_active_tasks_per_dag": str(cfg.airflow.max_active_tasks_per_dag),
            "dags_are_paused_at_creation": str(cfg.airflow.dags_are_paused_at_creation),
            "default_timezone": cfg.airflow.default_timezone,
            "fernet_key": secrets.get("fernet_key"),
            "execution_api_server_url": f"{internal_api}/execution/",
        },
        "database": {
            "sql_alchemy_conn": db_url,
            "sql_alchemy_pool_size": str(cfg.database.pool_size),
            "sql_alchemy_pool_pre_ping": "True",
        },
        "celery": {
            "broker_url": broker_url(cfg, secrets),
            "result_backend": f"db+{db_url}",
            "worker_concurrency": str(cfg.workers.concurrency),
            "worker_prefetch_multiplier": "1",
            "task_acks_late": "True",
        },
        # Redelivery of an unacknowledged task after a lost worker; must exceed the longest task.
        "celery_broker_transport_options": {"visibility_timeout": "21600"},
        "api": {
            "server_type": "gunicorn",
            "host": api.host,
            "port": str(api.port),
            "workers": str(api.workers),
            "worker_timeout": str(api.worker_timeout),
            "base_url": api.public_url(),
            "secret_key": secrets.get("api_secret_key"),
            "expose_config": "False",
            "expose_stacktrace": "False",
        },
        "api_auth": {
            "jwt_secret": secrets.get("jwt_secret"),
            "jwt_issuer": "airdeck",
        },
        "fab": {
            "config_file": str(home.webserver_config),
            "expose_hostname": "False",
        },
        "logging": {
            "base_log_folder": str(home.task_logs),
            "dag_processor_child_process_log_directory": str(home.logs / "dag-processor"),
            "worker_log_server_port": str(cfg.workers.log_server_port + (worker_index(service) or 1) - 1),
        },
        "scheduler": {
            "enable_health_check": "True",
            "scheduler_health_check_server_host": "127.0.0.1",
            "scheduler_health_check_server_port": str(cfg.scheduler.health_check_port),
        },
        "dag_processor": {
            "parsing_processes": str(cfg.dag_processor.parsing_processes),
            "refresh_interval": str(cfg.dag_processor.refresh_interval),
            "min_file_process_interval": str(cfg.dag_processor.min_file_process_interval),
        },
        "triggerer": {
            "capacity": str(cfg.triggerer.capacity),
        },
    }
    for contribute in _contributors():
        for section, options in contribute(cfg, home, service).items():
            settings.setdefault(section, {}).update(options)
    for section, extra in cfg.airflow.extra_config.items():
        target = settings.setdefault(section.lower(), {})
        for key, value in extra.items():
            target[key.lower()] = str(value)
    return settings


def _contributors() -> list[Callable[[AirdeckConfig, AirdeckHome, str], Settings]]:
    """Settings each concern adds for a service (metrics, auth, secrets, alerts), applied in this order.

    Each is ``f(cfg, home, service) -> {section: {key: value}}``; ``airflow.extra_config`` wins over all."""
    from airdeck.alerts.wiring import airflow_settings as alerts_settings  # cluster policies, SLAs
    from airdeck.auth.settings import auth_airflow_settings
    from airdeck.metrics.wiring import airflow_settings as metrics_settings  # [metrics] to the bridge, [traces]
    from airdeck.secrets.settings import contribute as secrets_settings  # Vault backend, HTTPS

    return [auth_airflow_settings, secrets_settings, alerts_settings, metrics_settings]


def masked(settings: Mapping[str, Mapping[str, str]]) -> Settings:
    """A copy with every secret replaced by ``***`` (URLs keep their non-secret parts)."""
    out: Settings = {}
    for section, options in settings.items():
        out[section] = {}
        for key, value in options.items():
            if (section, key) in SECRET_OPTIONS:
                # URLs keep their non-secret parts; JSON (e.g. Vault backend_kwargs) is hidden whole
                out[section][key] = mask_url(value) if "://" in value and not value.startswith("{") else MASK
            else:
                out[section][key] = value
    return out


def to_ini(settings: Mapping[str, Mapping[str, str]]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    for section, options in settings.items():
        parser[section] = {key: value.replace("%", "%%") for key, value in options.items()}
    buffer = io.StringIO()
    buffer.write("# Rendered by airdeck from airdeck.yaml. Do not edit: it is rewritten at every start.\n")
    parser.write(buffer)
    return buffer.getvalue()


def write_service_config(path: Path, settings: Mapping[str, Mapping[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    write_private(path, to_ini(settings))
