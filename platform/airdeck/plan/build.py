"""``plan(cfg, home, target, concerns) -> Deployment``: every component, with no I/O and no secret values.

The core adds the Airflow components (api-server, scheduler, dag-processor, triggerer, Celery workers)
and, on the local target, the embedded PostgreSQL and Valkey; each concern adds its settings,
components, files and environment through :class:`~airdeck.plan.concern.Concern`. Each value below is
set on purpose; docs/configuration.md explains why.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from airdeck.config.model import AirdeckConfig
from airdeck.plan import servers
from airdeck.plan.concern import Concern, PlanContext
from airdeck.plan.endpoints import Endpoints, Target
from airdeck.plan.model import Component, Deployment, FileSpec, Probe, SecretRef, SecretSetting, Settings, placeholder
from airdeck.plan.render import airflow_cfg
from airdeck.resources import example_dags_folder
from airdeck.state.home import WORKER_SYSTEM_USER, AirdeckHome

AIRFLOW_CORE = ("api-server", "scheduler", "dag-processor", "triggerer")
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
API_SERVER = "api-server"
CLI = "cli"

#: Components that issue JWTs and so hold the private signing key: the api-server (REST and Execution
#: API tokens, refreshed task tokens) and the scheduler (its executor signs each task's identity token).
#: Nothing else signs; only the api-server verifies (with the key's public half).
TOKEN_ISSUERS = ("api-server", "scheduler")
#: Components that fetch task logs from a log server (the api-server) or serve them (workers, the
#: triggerer's log server for deferred tasks): they share ``[api] secret_key``, here the log-fetch key,
#: which Airflow's log server checks (HS512, audience ``task-instance-logs``) and which signs nothing else
#: a worker could use: the api-server's session key is separate (``webserver_config.py``).
LOG_KEY_HOLDERS = ("api-server", "triggerer")
JWT_ALGORITHM = "EdDSA"


def _not_searchable(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot search (no o+x), if any."""
    for folder in [*reversed(path.parents), path]:
        try:
            if not folder.stat().st_mode & 0o001:
                return folder
        except FileNotFoundError:
            return None
    return None


def interpreter_folders() -> tuple[Path, ...]:
    """The folders of the Python interpreter airdeck runs with: its environment's ``bin`` and the base
    interpreter's own (pyenv's or uv's under /root, often unsearchable by others)."""
    return (Path(sys.executable).resolve().parent, Path(sys.executable).parent, Path(sys.base_prefix))


def interpreter_blocker() -> Path | None:
    """A folder on the way to the interpreter other users cannot search, if any (the worker runtime,
    :func:`worker_runtime_folder`, is the way around it)."""
    for path in interpreter_folders():
        blocked = _not_searchable(path.absolute())
        if blocked is not None:
            return blocked
    return None


def worker_isolation_blocker(home: AirdeckHome, dags_folder: str) -> Path | None:
    """A folder that keeps another user from running a worker and that the worker runtime cannot work
    around: on the way to airdeck's code, the environment's site-packages, the state folder or the DAG
    folder. None when nothing does."""
    import airdeck

    needed = (Path(airdeck.__file__).parent, Path(sysconfig.get_path("purelib")), home.root.parent,
              Path(dags_folder))
    for path in needed:
        blocked = _not_searchable(path.absolute())
        if blocked is not None:
            return blocked
    return None


def runtime_name() -> str:
    """The folder name of the base interpreter's copy in the worker runtime, e.g. ``python-3.11.7``."""
    return "python-{}.{}.{}".format(*sys.version_info[:3])


def worker_runtime_folder(ctx: PlanContext) -> Path | None:
    """``$AIRDECK_HOME/runtime`` when the workers run as their own user but cannot reach the interpreter:
    the stack then puts a copy of the base interpreter there (``stack.runtime``) and the workers run it.
    None when the workers run the interpreter airdeck runs with."""
    if worker_user(ctx) is None or sys.platform != "linux" or sys.prefix == sys.base_prefix:
        return None
    if interpreter_blocker() is None:
        return None
    return ctx.home.root / "runtime"


def worker_user(ctx: PlanContext) -> str | None:
    """The user local workers run as: a dedicated system user when airdeck runs as root and that user
    can reach everything a worker needs (the interpreter through the worker runtime if need be); else
    None (the user running airdeck, which ``airdeck up`` then says)."""
    if ctx.endpoints.target.kind != "local" or os.geteuid() != 0:
        return None
    dags = ctx.cfg.airflow.dags_folder or example_dags_folder()
    if worker_isolation_blocker(ctx.home, str(dags)) is not None:
        return None
    return WORKER_SYSTEM_USER


def jwt_key_path(home: AirdeckHome, name: str) -> str:
    """Where an issuing component's private signing key is written (0600, from ``jwt_private_key``)."""
    return str(home.service_dir(name) / "jwt_private_key.pem")


def session_secret_path(home: AirdeckHome) -> str:
    """The api-server's Flask session key, read by ``webserver_config.py`` (0600, from ``api_secret_key``)."""
    return str(home.service_dir(API_SERVER) / "session_secret")


def core_secret_settings(name: str) -> list[SecretSetting]:
    """The platform's secrets one component gets: each only where Airflow's code needs it.

    Celery workers run task code (any DAG author's), so they get the broker URL and the log-fetch key
    only: no Fernet key (connections and variables reach tasks decrypted through the Execution API), no
    signing key (their tokens come with each workload), no metadata-database URL (Celery results live in
    the broker, which keeps them across restarts: ``appendonly yes``)."""
    out = [SecretSetting("celery", "broker_url", SecretRef("broker_url")),
           SecretSetting("celery", "result_backend", SecretRef("broker_url"))]
    if worker_index(name) is None:
        out += [SecretSetting("core", "fernet_key", SecretRef("fernet_key")),
                SecretSetting("database", "sql_alchemy_conn", SecretRef("database_url"))]
    if worker_index(name) is not None or name in LOG_KEY_HOLDERS:
        out.append(SecretSetting("api", "secret_key", SecretRef("log_fetch_key")))
    return out


def key_files(home: AirdeckHome, name: str) -> tuple[FileSpec, ...]:
    """The secret files (beyond airflow.cfg) one Airflow component reads by path."""
    files: list[FileSpec] = []
    if name in TOKEN_ISSUERS:
        files.append(FileSpec(jwt_key_path(home, name), placeholder("jwt_signing_pem"),
                              secrets=(SecretRef("jwt_signing_pem"),), mode=0o600))
    if name == API_SERVER:
        files.append(FileSpec(session_secret_path(home), placeholder("api_secret_key"),
                              secrets=(SecretRef("api_secret_key"),), mode=0o600))
    return tuple(files)


def seconds(duration: timedelta) -> str:
    """A duration as Airflow's integer-seconds settings want it."""
    return str(int(duration.total_seconds()))


def airflow_bin() -> str:
    """The ``airflow`` command of the environment airdeck runs in."""
    return str(Path(sys.executable).parent / "airflow")


def worker_names(cfg: AirdeckConfig, target: Target) -> list[str]:
    if target.kind == "kubernetes":
        return ["worker"]  # one component; the chart sets the replicas
    return [f"worker-{n}" for n in range(1, cfg.workers.replicas + 1)]


def component_names(cfg: AirdeckConfig, target: Target | None = None) -> list[str]:
    """The Airflow components in start order (api-server first: the others need its Execution API)."""
    return [*AIRFLOW_CORE, *worker_names(cfg, target or Target.local())]


def worker_index(name: str) -> int | None:
    """1 for ``worker-1``…; 1 for the single ``worker`` of Kubernetes; None for other components."""
    if name == "worker":
        return 1
    if name.startswith("worker-") and name[len("worker-"):].isdigit():
        return int(name[len("worker-"):])
    return None


def core_settings(ctx: PlanContext, name: str) -> Settings:
    """airdeck's own non-secret Airflow settings of one component (``cli`` for one-off commands)."""
    cfg, home, ep = ctx.cfg, ctx.home, ctx.endpoints
    api = cfg.api_server
    dags_folder = cfg.airflow.dags_folder or example_dags_folder()
    return {
        "core": {
            "executor": "CeleryExecutor",
            "auth_manager": FAB_AUTH_MANAGER,
            "dags_folder": str(Path(dags_folder).absolute()),
            "load_examples": "False",
            "parallelism": str(cfg.airflow.parallelism),
            "max_active_tasks_per_dag": str(cfg.airflow.max_active_tasks_per_dag),
            "dags_are_paused_at_creation": str(cfg.airflow.dags_are_paused_at_creation),
            "default_timezone": cfg.airflow.default_timezone,
            "execution_api_server_url": ep.execution_api_url,
        },
        "database": {
            "sql_alchemy_pool_size": str(cfg.database.pool_size),
            "sql_alchemy_pool_pre_ping": "True",
        },
        "celery": {
            # Only workers read it: a concurrency change then restarts only the workers.
            **({"worker_concurrency": str(cfg.workers.concurrency)} if worker_index(name) else {}),
            # An idle worker keeps workers.idle_processes pool processes; Celery caps what a worker
            # reserves at its largest pool (worker_disable_prefetch), as a fixed pool with prefetch 1 does.
            # Every worker imports worker_boot before it forks its pool (docs/performance.md).
            **(_worker_pool(cfg) if worker_index(name) else {}),
            "worker_prefetch_multiplier": "1",
            "task_acks_late": "True",
        },
        # Redelivery of an unacknowledged task after a lost worker; must exceed the longest task.
        "celery_broker_transport_options": {"visibility_timeout": "21600"},
        "api": {
            "server_type": "gunicorn",
            "host": ep.api_bind_host,
            "port": str(api.port),
            "workers": str(api.workers),
            "worker_timeout": seconds(api.worker_timeout),
            "base_url": ep.api_public_url,
            "expose_config": "False",
            "expose_stacktrace": "False",
        },
        "api_auth": {"jwt_issuer": "airdeck", "jwt_algorithm": JWT_ALGORITHM,
                     **({"jwt_private_key_path": jwt_key_path(home, name)} if name in TOKEN_ISSUERS else {})},
        "fab": {"config_file": str(home.webserver_config), "expose_hostname": "False"},
        "logging": {
            "base_log_folder": str(home.task_logs),
            "dag_processor_child_process_log_directory": str(home.logs / "dag-processor"),
            "worker_log_server_port": str(ep.worker_log_port(worker_index(name) or 1)),
            # The api-server reads a deferred task's trigger log from the triggerer's log server here.
            "trigger_log_server_port": str(cfg.triggerer.log_server_port),

            # Task logs readable by the platform's user only (Airflow's defaults are 0o664 and 0o775).
            "file_task_handler_new_file_permissions": "0o600",
            "file_task_handler_new_folder_permissions": "0o700",
        },
        "scheduler": {
            "enable_health_check": "True",
            "scheduler_health_check_server_host": ep.scheduler_health_bind,
            "scheduler_health_check_server_port": str(cfg.scheduler.health_check_port),
        },
        "dag_processor": {
            "parsing_processes": str(cfg.dag_processor.parsing_processes),
            "refresh_interval": seconds(cfg.dag_processor.refresh_interval),
            "min_file_process_interval": seconds(cfg.dag_processor.min_file_process_interval),
        },
        "triggerer": {"capacity": str(cfg.triggerer.capacity)},
    }


#: Imported by each worker before it forks its pool: preloads and the supervisor's exit watch.
WORKER_BOOT = "airdeck.plan.worker_boot"


def _worker_pool(cfg: AirdeckConfig) -> dict[str, str]:
    """A worker's pool: autoscale when idle_processes < concurrency, and the boot module for every worker."""
    autoscale = cfg.workers.autoscale()
    extra: dict[str, object] = {"imports": [WORKER_BOOT]}
    if autoscale is None:
        return {"extra_celery_config": json.dumps(extra)}
    extra["worker_disable_prefetch"] = True
    return {"worker_autoscale": autoscale, "extra_celery_config": json.dumps(extra)}


def _merge(into: Settings, extra: Settings) -> None:
    for section, options in extra.items():
        into.setdefault(section, {}).update(options)


def airflow_settings(ctx: PlanContext, name: str, concerns: Sequence[Concern]) -> tuple[Settings, list[SecretSetting]]:
    """The complete Airflow settings of one component: non-secret values and secret references.

    Concerns apply in order; ``airflow.extra_config`` wins over everything (except secrets, which the
    model refuses there)."""
    settings = core_settings(ctx, name)
    secret_settings = core_secret_settings(name)
    for concern in concerns:
        _merge(settings, concern.settings(ctx, name))
        secret_settings += concern.secret_settings(ctx, name)
    if worker_index(name) is not None and "dag_bundle_storage_path" in settings.get("dag_processor", {}) \
            and worker_user(ctx) is not None:
        # A worker with its own user keeps its own bundle clones: one it could write to must never be
        # what the dag-processor (root, with the database) parses.
        settings["dag_processor"]["dag_bundle_storage_path"] = str(ctx.home.service_dir(name) / "dag-bundles")
    for section, extra in ctx.cfg.airflow.extra_config.items():
        target = settings.setdefault(section.lower(), {})
        for key, value in extra.items():
            target[key.lower()] = str(value)
    # a secret setting wins over a plain value of the same key (a concern may move one into a secret)
    secret_keys = {(s.section, s.key) for s in secret_settings}
    for section, key in secret_keys:
        settings.get(section, {}).pop(key, None)
    return settings, _dedupe(secret_settings)


def _dedupe(items: Iterable[SecretSetting]) -> list[SecretSetting]:
    out: dict[tuple[str, str], SecretSetting] = {}
    for item in items:
        out[(item.section, item.key)] = item  # later concerns win, as for plain settings
    return list(out.values())


def _airflow_env(ctx: PlanContext, name: str, concerns: Sequence[Concern]) -> dict[str, str]:
    env = {"AIRFLOW_HOME": str(ctx.home.airflow_home), "AIRFLOW_CONFIG": str(ctx.home.service_config(name)),
           "PYTHONUNBUFFERED": "1"}
    if name == API_SERVER:
        env["AIRDECK_SESSION_SECRET_FILE"] = session_secret_path(ctx.home)
    for concern in concerns:
        env.update(concern.env(ctx, name))
    return env


def _airflow_component(ctx: PlanContext, name: str, concerns: Sequence[Concern],
                       infrastructure: list[str]) -> Component:
    cfg, ep = ctx.cfg, ctx.endpoints
    settings, secret_settings = airflow_settings(ctx, name, concerns)
    config_file = airflow_cfg(str(ctx.home.service_config(name)), settings, secret_settings)
    env = _airflow_env(ctx, name, concerns)
    airflow = airflow_bin()
    ca = ctx.api_ca_file
    index = worker_index(name)
    common = {"env": env, "airflow": True, "settings": settings, "secret_settings": tuple(secret_settings),
              "files": (config_file, *key_files(ctx.home, name))}
    if name == API_SERVER:
        api = cfg.api_server
        argv: tuple[str, ...] = (airflow, "api-server", "--host", ep.api_bind_host, "--port", str(api.port),
                "--workers", str(api.workers), "--worker-timeout", seconds(api.worker_timeout))
        return Component(name, "api-server", argv, depends_on=tuple(infrastructure),
                         ports=(("api_server.port", api.port),), bind_host=ep.api_bind_host,
                         probe=Probe("api-health", url=ep.api_internal_url, ca_file=ca), url=ep.api_public_url,
                         **common)  # type: ignore[arg-type]
    if name == "scheduler":
        return Component(name, "scheduler", (airflow, "scheduler"), depends_on=(API_SERVER,),
                         ports=(("scheduler.health_check_port", cfg.scheduler.health_check_port),),
                         probe=Probe("scheduler", url=ep.api_internal_url, detail=ep.scheduler_health_url,
                                     ca_file=ca),
                         url=ep.scheduler_health_url, **common)  # type: ignore[arg-type]
    if name in ("dag-processor", "triggerer"):
        # Airflow's log server listens on every address (it has no host setting); the port is airdeck's.
        ports = (("triggerer.log_server_port", cfg.triggerer.log_server_port),) if name == "triggerer" else ()
        return Component(name, name, (airflow, name), depends_on=(API_SERVER,), ports=ports,
                         probe=Probe("heartbeat", url=ep.api_internal_url, detail=name.replace("-", "_"),
                                     ca_file=ca), **common)  # type: ignore[arg-type]
    assert index is not None, name  # noqa: S101 - component_names() lists only these
    node = f"{name}@%h"  # Celery expands %h to the host name
    user = worker_user(ctx)
    if user is not None:  # its airflow.cfg is readable by it alone; HOME is its own folder
        common["files"] = (replace(config_file, owner=user),)
        common["env"] = {**env, "HOME": str(ctx.home.service_dir(name))}
    runtime = worker_runtime_folder(ctx)
    start: tuple[str, ...] = (airflow,)
    if runtime is not None:  # the interpreter's copy the worker user can reach (stack.runtime builds it)
        start = (str(runtime / "venv" / "bin" / "python"), "-m", "airflow")
        common["env"] = {**dict(common["env"]), "LD_LIBRARY_PATH": str(runtime / runtime_name() / "lib")}  # type: ignore[call-overload]
    port = ep.worker_log_port(index)
    argv = (*start, "celery", "worker", "--celery-hostname", node, "--concurrency", str(cfg.workers.concurrency),
            "--without-mingle", "--without-gossip")
    return Component(name, "worker", argv, depends_on=(API_SERVER,), user=user,
                     ports=((f"workers.log_server_port (worker {index})", port),),
                     probe=Probe("celery-ping", detail=node, secret=SecretRef("broker_url")),
                     url=ep.worker_log_url(index), **common)  # type: ignore[arg-type]


def ca_file_for_probes(ctx: PlanContext, concerns: Sequence[Concern]) -> str | None:
    """The CA a client verifies the api-server with: ``[api] ssl_ca_file`` of the CLI settings, if any."""
    settings: Settings = {}
    for concern in concerns:
        _merge(settings, concern.settings(ctx, CLI))
    return settings.get("api", {}).get("ssl_ca_file")


def plan(cfg: AirdeckConfig, home: AirdeckHome, target: Target, concerns: Sequence[Concern]) -> Deployment:
    """The deployment of ``cfg`` on ``target``: pure, writes nothing, holds no secret value."""
    endpoints = Endpoints(cfg, target)
    ctx = PlanContext(cfg, home, endpoints)
    ctx = PlanContext(cfg, home, endpoints, ca_file_for_probes(ctx, concerns))
    components: list[Component] = []
    if target.kind == "local":
        if cfg.database.url is None:
            components.append(servers.postgres(endpoints, home))
        if cfg.broker.url is None:
            components.append(servers.valkey(endpoints, home))
    added: list[Component] = [c for concern in concerns for c in concern.components(ctx)]
    airflow_names = component_names(cfg, target)
    # Every Airflow component waits for the platform's own servers (database, broker, metrics bridge):
    # the non-Airflow components that depend on nothing.
    infrastructure = [c.name for c in [*components, *added] if not c.depends_on]
    components += [c for c in added if not c.depends_on]
    components += [_airflow_component(ctx, name, concerns, infrastructure) for name in airflow_names]
    components += [c for c in added if c.depends_on]
    files = [spec for concern in concerns for spec in concern.files(ctx)]
    settings, secret_settings = airflow_settings(ctx, CLI, concerns)
    cli = Component(CLI, "cli", (), env=_airflow_env(ctx, CLI, concerns), airflow=True, settings=settings,
                    secret_settings=tuple(secret_settings),
                    files=(airflow_cfg(str(home.service_config(CLI)), settings, secret_settings),
                           *key_files(home, CLI)))
    runtime = worker_runtime_folder(ctx)
    return Deployment(target.kind, tuple(components), tuple(files), cli,
                      str(runtime) if runtime is not None else None)
