"""The typed model of airdeck.yaml.

Every field has a default, so the local platform needs no file at all. Unknown keys are rejected
(``extra="forbid"``) and reported with the closest valid key by :mod:`airdeck.config.loader`.
The same words are used in the Helm values and the Terraform variables.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from airdeck.config.airflow_options import MANAGED_OPTIONS
from airdeck.config.alerts import AlertsSettings
from airdeck.config.auth import AuthSettings
from airdeck.config.backup import BackupSettings
from airdeck.config.base import Between, Duration, EmailAddress, HttpUrl, Port, Section, WholeSeconds
from airdeck.config.dags import DagsSettings
from airdeck.config.masking import normalise_url
from airdeck.config.observability import ObservabilitySettings
from airdeck.config.secrets import SecretsSettings
from airdeck.config.tasklogs import LoggingSettings
from airdeck.config.tls import TLSSettings


def _check_url_shape(url: str, example: str) -> None:
    """A server URL with a host and, if given, a numeric port; its text is never echoed (it holds a password).

    Read as every consumer reads it: with the credentials percent-encoded first (a password may hold
    ``#``, ``?``, ``/`` or ``@`` unencoded; see :func:`airdeck.config.masking.normalise_url`)."""
    try:
        parts = urlsplit(normalise_url(url))
        port = parts.port
    except ValueError:
        raise ValueError(f"is not a valid URL: the port must be a number from 1 to 65535 ({example})") from None
    if not parts.hostname:
        raise ValueError(f"names no host ({example})")
    if port == 0:
        raise ValueError(f"port 0 is not a port ({example})")


#: Section and key names Airflow reads from airflow.cfg and from AIRFLOW__SECTION__KEY variables.
CONFIG_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class EmbeddedDatabase(Section):
    """The PostgreSQL airdeck starts itself when database.url is unset."""

    port: Port = Field(15432, description="TCP port of the embedded PostgreSQL (loopback only).")
    max_connections: int = Field(300, ge=50, le=5000, description="PostgreSQL max_connections.")


class DatabaseSettings(Section):
    """Airflow's metadata database."""

    url: SecretStr | None = Field(
        None,
        description=(
            "SQLAlchemy URL of an external PostgreSQL (postgresql+psycopg://user:pass@host:5432/db). "
            "When unset, airdeck starts an embedded PostgreSQL."
        ),
    )
    embedded: EmbeddedDatabase = Field(default_factory=EmbeddedDatabase)
    pool_size: int = Field(5, ge=1, le=100, description="[database] sql_alchemy_pool_size per process.")

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        raw = value.get_secret_value()
        if not raw.startswith(("postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://")):
            raise ValueError(
                "must be a PostgreSQL URL (postgresql+psycopg://user:password@host:5432/dbname); "
                "SQLite is not supported because it loses tasks under load"
            )
        _check_url_shape(raw, "postgresql+psycopg://user:password@host:5432/dbname")
        return value


class EmbeddedBroker(Section):
    """The Valkey airdeck starts itself when broker.url is unset."""

    port: Port = Field(16379, description="TCP port of the embedded Valkey (loopback only).")


class BrokerSettings(Section):
    """The Celery broker."""

    url: SecretStr | None = Field(
        None,
        description=(
            "Celery broker URL of an external Redis or Valkey (redis://:password@host:6379/0). "
            "When unset, airdeck starts an embedded Valkey."
        ),
    )
    embedded: EmbeddedBroker = Field(default_factory=EmbeddedBroker)

    @field_validator("url")
    @classmethod
    def _redis_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://")):
            raise ValueError("must be a redis:// or rediss:// URL (redis://:password@host:6379/0)")
        if value is not None:
            _check_url_shape(value.get_secret_value(), "redis://:password@host:6379/0")
            path = urlsplit(normalise_url(value.get_secret_value())).path.strip("/")
            if path and not path.isdigit():
                raise ValueError("the path of a redis:// URL is the database number, e.g. /0")
        return value


class ApiServerSettings(Section):
    """Airflow's api-server (UI, REST API, Execution API)."""

    host: str = Field("127.0.0.1", description="Address the api-server listens on.")
    port: Port = Field(8080, description="Port the api-server listens on.")
    workers: int = Field(2, ge=1, le=64, description="gunicorn workers of the api-server.")
    worker_timeout: Annotated[Duration, Between("10s", "1h"), WholeSeconds] = Field(
        timedelta(minutes=2), description="gunicorn worker timeout.")
    base_url: HttpUrl | None = Field(
        None,
        description="Public base URL users open (links in alerts). Default: http://<host>:<port>.",
    )

    #: "https" when tls.enabled (set by AirdeckConfig); the default URL and health checks follow it.
    _scheme: str = PrivateAttr("http")

    def public_url(self) -> str:
        if self.base_url:
            return self.base_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"{self._scheme}://{host}:{self.port}"


class SchedulerSettings(Section):
    """Airflow's scheduler."""

    health_check_port: Port = Field(8974, description="Port of the scheduler's /health server.")


class DagProcessorSettings(Section):
    """Airflow's dag-processor, which parses DAG files."""

    parsing_processes: int = Field(2, ge=1, le=64, description="[dag_processor] parsing_processes.")
    refresh_interval: Annotated[Duration, Between("1s"), WholeSeconds] = Field(
        timedelta(seconds=30), description="Time between scans of the DAG folder for new files."
    )
    min_file_process_interval: Annotated[Duration, Between("1s"), WholeSeconds] = Field(
        timedelta(seconds=30), description="Time before a file is re-parsed.")


class TriggererSettings(Section):
    """Airflow's triggerer, which runs deferred tasks' triggers."""

    capacity: int = Field(1000, ge=1, description="Triggers one triggerer runs at most.")
    log_server_port: Port = Field(
        8792, description="Port of the triggerer's log server, from which the UI reads deferred tasks' logs "
                          "([logging] trigger_log_server_port). Not Airflow's 8794: that is worker 2's port.")


class WorkersSettings(Section):
    """The Celery workers that run tasks."""

    replicas: int = Field(1, ge=1, le=32, description="Number of Celery worker processes.")
    concurrency: int = Field(8, ge=1, le=256, description="Task slots per worker.")
    idle_processes: int = Field(
        1, ge=1, le=256,
        description=(
            "Pool processes a worker keeps while it has no work. Under load the pool grows to `concurrency` "
            "and shrinks back after 30 s without tasks (Celery autoscale); equal to `concurrency`, the pool "
            "is fixed. Must not exceed `concurrency`."
        ),
    )
    log_server_port: Port = Field(
        8793, description="Log server port of the first worker; worker N uses this port + N - 1."
    )
    run_as_root_reason: str | None = Field(
        None, min_length=3, max_length=300,
        description=(
            "Local target, airdeck running as root: why the workers may run as root. Under root the workers "
            "run as the system user airdeck-worker (on their own copy of the interpreter in "
            "`$AIRDECK_HOME/runtime/` when Python sits under a folder others cannot search, e.g. pyenv under "
            "/root); when that user cannot reach airdeck, its packages, the state folder or the DAG folder, "
            "`airdeck up` refuses to start them unless this says why they may run as root instead (task code "
            "then reads every secret of the state folder). Shown by `airdeck status`. Unused when the workers' "
            "own user can run them."
        ),
    )

    @model_validator(mode="after")
    def _idle_within_concurrency(self) -> WorkersSettings:
        if self.idle_processes > self.concurrency:
            raise ValueError(f"idle_processes ({self.idle_processes}) must not exceed concurrency "
                             f"({self.concurrency}); lower workers.idle_processes or raise workers.concurrency")
        return self

    def autoscale(self) -> str | None:
        """Celery's ``max,min`` when the pool grows and shrinks; None for a fixed pool."""
        if self.idle_processes >= self.concurrency:
            return None
        return f"{self.concurrency},{self.idle_processes}"


class AdminSettings(Section):
    """The admin account created once, with a generated password."""

    username: str = Field("admin", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$",
                          description="Login name of the admin account.")
    email: EmailAddress = Field("admin@localhost", description="Email address of the admin account.")
    first_name: str = Field("Platform", description="First name of the admin account.")
    last_name: str = Field("Admin", description="Last name of the admin account.")


class AirflowSettings(Section):
    """Airflow settings shared by every service."""

    dags_folder: Path | None = Field(
        None, description="Folder of DAG files. Default: the example DAGs bundled with airdeck."
    )
    parallelism: int = Field(32, ge=1, description="[core] parallelism: running tasks per scheduler.")
    max_active_tasks_per_dag: int = Field(16, ge=1, description="[core] max_active_tasks_per_dag.")
    dags_are_paused_at_creation: bool = Field(
        True, description="New DAGs start paused, as in Airflow, so nothing runs by surprise."
    )
    default_timezone: str = Field("utc", description="[core] default_timezone.")
    extra_config: dict[str, dict[str, str | int | float | bool]] = Field(
        default_factory=dict,
        description=(
            "Further Airflow settings for every service, as {section: {key: value}}. "
            "They win over airdeck's own values. The secrets airdeck sets itself (fernet_key, jwt_secret, "
            "sql_alchemy_conn, broker_url, ...) are refused here; any other option Airflow counts as sensitive "
            "(e.g. [sentry] sentry_dsn) is written only to the services' 0600 airflow.cfg, masked by config "
            "render and up --dry-run and kept as a digest in run/applied.json (see docs/security.md)."
        ),
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value.lower() in ("utc", "system"):
            return value
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"{value!r} is not a time zone; use an IANA name such as Europe/Paris or "
                             "America/New_York, 'utc', or 'system'") from None
        return value

    @field_validator("extra_config")
    @classmethod
    def _airflow_names(
        cls, value: dict[str, dict[str, str | int | float | bool]]
    ) -> dict[str, dict[str, str | int | float | bool]]:
        for section, options in value.items():
            if not CONFIG_NAME.match(section):
                raise ValueError(f"section name {section!r} is not an Airflow section name "
                                 "(letters, digits, _ . -; no spaces or brackets)")
            for key in options:
                if not CONFIG_NAME.match(key):
                    raise ValueError(f"[{section}] key name {key!r} is not an Airflow option name "
                                     "(letters, digits, _ . -; no spaces or brackets)")
        return value

    @field_validator("extra_config")
    @classmethod
    def _no_secrets_inline(
        cls, value: dict[str, dict[str, str | int | float | bool]]
    ) -> dict[str, dict[str, str | int | float | bool]]:
        for section, options in value.items():
            for key in options:
                managed_by = MANAGED_OPTIONS.get((section.lower(), key.lower()))
                if managed_by is not None:
                    raise ValueError(
                        f"[{section}] {key} is a secret managed by airdeck; it is set by {managed_by}, "
                        "not in airflow.extra_config"
                    )
        return value


class SupervisionSettings(Section):
    """How services are started, restarted and stopped."""

    start_timeout: Annotated[Duration, Between("10s", "1h"), WholeSeconds] = Field(
        timedelta(minutes=4), description="Time a service may take to be healthy.")
    stop_timeout: Annotated[Duration, Between("1s", "10m"), WholeSeconds] = Field(
        timedelta(seconds=45), description="Time a service gets to stop gracefully before SIGKILL."
    )
    start_retries: int = Field(
        5, ge=0, le=100, description="Quick restarts (exit within startsecs) before a service is FATAL."
    )


class AirdeckConfig(Section):
    """The whole of airdeck.yaml."""

    version: Literal[1] = Field(1, description="Version of this file's format.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    api_server: ApiServerSettings = Field(default_factory=ApiServerSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    dag_processor: DagProcessorSettings = Field(default_factory=DagProcessorSettings)
    triggerer: TriggererSettings = Field(default_factory=TriggererSettings)
    workers: WorkersSettings = Field(default_factory=WorkersSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    airflow: AirflowSettings = Field(default_factory=AirflowSettings)
    supervision: SupervisionSettings = Field(default_factory=SupervisionSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    tls: TLSSettings = Field(default_factory=TLSSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    dags: DagsSettings = Field(default_factory=DagsSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)

    #: The file this configuration was read from (None: the defaults); set by the loader.
    _source: Path | None = PrivateAttr(None)

    @property
    def source(self) -> Path | None:
        return self._source

    def __eq__(self, other: object) -> bool:
        """Equal when the settings are: where they were read from does not count."""
        if not isinstance(other, AirdeckConfig):
            return NotImplemented
        return self.__dict__ == other.__dict__

    @model_validator(mode="after")
    def _api_scheme_follows_tls(self) -> AirdeckConfig:
        self.api_server._scheme = "https" if self.tls.enabled else "http"
        return self

    @model_validator(mode="after")
    def _one_way_to_name_dags(self) -> AirdeckConfig:
        if self.dags.bundles and self.airflow.dags_folder is not None:
            raise ValueError("airflow.dags_folder and dags.bundles cannot both be set; add the folder as a bundle: "
                             f"dags.bundles: [{{name: dags-folder, folder: {self.airflow.dags_folder}}}]")
        return self

    @model_validator(mode="after")
    def _worker_ports_fit(self) -> AirdeckConfig:
        last = self.workers.log_server_port + self.workers.replicas - 1
        if last > 65535:
            raise ValueError(f"workers.log_server_port {self.workers.log_server_port} with {self.workers.replicas} "
                             f"replicas needs ports up to {last}, beyond 65535; choose a port of at most "
                             f"{65536 - self.workers.replicas}")
        return self

    @model_validator(mode="after")
    def _ports_do_not_collide(self) -> AirdeckConfig:
        problem = self.port_collision()
        if problem:
            raise ValueError(problem)
        return self

    def port_collision(self) -> str | None:
        """The first port two keys share, as an error message; None if every port is its own."""
        used: dict[int, str] = {}
        for key, port in self.local_ports():
            if port in used:
                return f"port {port} is used by both {used[port]} and {key}; give each its own"
            used[port] = key
        return None

    def local_ports(self) -> list[tuple[str, int]]:
        """Every TCP port airdeck itself listens on, with the key that sets it."""
        ports = [("api_server.port", self.api_server.port),
                 ("scheduler.health_check_port", self.scheduler.health_check_port),
                 ("triggerer.log_server_port", self.triggerer.log_server_port)]
        if self.database.url is None:
            ports.append(("database.embedded.port", self.database.embedded.port))
        if self.broker.url is None:
            ports.append(("broker.embedded.port", self.broker.embedded.port))
        for n in range(self.workers.replicas):
            ports.append((f"workers.log_server_port (worker {n + 1})", self.workers.log_server_port + n))
        if self.alerts.enabled:
            ports.append(("alerts.dispatcher.port", self.alerts.dispatcher.port))
        ports += self.observability.local_ports()  # metrics bridge, Prometheus
        return ports
