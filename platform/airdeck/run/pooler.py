"""PgBouncer in front of the metadata database: its files from the database URL, and the URL through it.

The chart's PgBouncer pod renders its configuration at start (``airdeck pgbouncer-config``) from the
mounted database URL, so the password lives only in the database Secret and in a 0600 ``userlist.txt``
on the pod's memory-backed volume, never in a ConfigMap or in values. The Airflow components get
``airdeck run … --database-pooler HOST:PORT`` and connect to PgBouncer with the same user, password and
database name (:func:`via_pooler`); the migration Job keeps the direct URL.

Transaction pooling: a server connection is held by a client only for one transaction. Airflow 3.3's
services need nothing beyond a transaction (the scheduler's lock is ``pg_try_advisory_xact_lock``);
only the migrations take a session-level ``pg_advisory_lock`` with ``SET lock_timeout``, which is why
the migration Job goes direct. psycopg 3 prepares a statement on the server after five executions,
and a prepared statement belongs to one server connection: behind transaction pooling Airflow's
connections are opened with ``prepare_threshold=None`` (:data:`CONNECT_ARGS`), which works with every
PgBouncer version (``max_prepared_statements`` exists only from 1.21).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from airdeck.errors import AirdeckError
from airdeck.state.secrets import write_private

#: psycopg 3 connection arguments behind transaction pooling (no server-side prepared statements).
CONNECT_ARGS: dict[str, object] = {"prepare_threshold": None}
#: The value of ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS`` that selects :data:`CONNECT_ARGS`.
CONNECT_ARGS_PATH = f"{__name__}.CONNECT_ARGS"

#: The user PgBouncer's statistics are read as by the exporter sidecar: no password, admitted only from
#: the pod's own loopback (hba.conf), to the ``pgbouncer`` admin database only, read-only (stats_users).
STATS_USER = "airdeck_stats"

#: libpq TLS parameters of a URL: they describe the hop to the server, which PgBouncer makes.
_TLS_KEYS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "sslnegotiation")
POOL_MODES = ("transaction", "session")


class PoolerError(AirdeckError):
    exit_code = 2


@dataclass(frozen=True)
class PoolerSettings:
    """The chart's ``pgbouncer.*`` values PgBouncer's configuration takes."""

    port: int = 6432
    max_client_conn: int = 100
    pool_size: int = 10
    pool_mode: str = "transaction"


def _parse(url: str, where: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise PoolerError(f"{where}: not a database URL; it must read "
                          "postgresql://USER:PASSWORD@HOST:PORT/DB") from None
    if parsed.get_backend_name() != "postgresql":
        raise PoolerError(f"{where}: PgBouncer pools PostgreSQL only, not {parsed.get_backend_name()!r}; "
                          "turn pgbouncer.enabled off or give a postgresql:// URL")
    missing = [what for what, value in (("host", parsed.host), ("user", parsed.username),
                                        ("password", parsed.password), ("database name", parsed.database))
               if not value]
    if missing:
        raise PoolerError(f"{where}: the URL has no {', '.join(missing)}; PgBouncer needs postgresql://USER:"
                          "PASSWORD@HOST:PORT/DB (it signs in to the server with that password)")
    return parsed


def _ini_value(value: str, what: str) -> str:
    """A value written into pgbouncer.ini: one line, no characters its parser treats specially."""
    if any(c in value for c in "\n\r\0;#='\" ") or not value:
        raise PoolerError(f"database URL: the {what} {value!r} cannot be written into pgbouncer.ini "
                          "(no spaces, quotes, '=', ';' or '#'); use a plain host name and database name")
    return value


def _quoted(value: str) -> str:
    """A userlist.txt / hba.conf field: double-quoted, inner double quotes doubled."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise PoolerError("database URL: the user or password holds a line break, which userlist.txt cannot hold")
    return '"' + value.replace('"', '""') + '"'


def render(database_url: str, settings: PoolerSettings, folder: Path) -> dict[str, str]:
    """PgBouncer's files for ``database_url`` (file name -> text), referring to each other in ``folder``."""
    if settings.pool_mode not in POOL_MODES:
        raise PoolerError(f"pgbouncer pool mode {settings.pool_mode!r}: one of {', '.join(POOL_MODES)}")
    url = _parse(database_url, "database URL (secret database_url)")
    assert url.host and url.username and url.password and url.database
    query = {k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()}
    sslmode = query.get("sslmode", "prefer")
    server = [f"host={_ini_value(url.host, 'host')}", f"port={url.port or 5432}",
              f"dbname={_ini_value(url.database, 'database name')}"]
    lines = [
        "; Rendered by `airdeck pgbouncer-config` from the database URL at the pod's start; not edited by hand.",
        "[databases]",
        f"{url.database} = {' '.join(server)}",
        "",
        "[pgbouncer]",
        "listen_addr = *",
        f"listen_port = {settings.port}",
        "unix_socket_dir =",
        "auth_type = hba",
        f"auth_file = {folder / 'userlist.txt'}",
        f"auth_hba_file = {folder / 'hba.conf'}",
        f"stats_users = {STATS_USER}",
        f"pool_mode = {settings.pool_mode}",
        f"max_client_conn = {settings.max_client_conn}",
        f"default_pool_size = {settings.pool_size}",
        "max_db_connections = 0",
        # psycopg and libpq may send these at start-up; PgBouncer would refuse the unknown ones.
        "ignore_startup_parameters = extra_float_digits,options,statement_timeout",
        "server_reset_query = DISCARD ALL",
        "logfile =",
        "pidfile =",
        "log_connections = 0",
        "log_disconnections = 0",
        f"server_tls_sslmode = {_ini_value(sslmode, 'sslmode')}",
    ]
    rootcert = query.get("sslrootcert")
    if rootcert and rootcert != "system":
        lines.append(f"server_tls_ca_file = {_ini_value(rootcert, 'sslrootcert path')}")
    elif sslmode in ("verify-ca", "verify-full"):
        lines.append("server_tls_ca_file = /etc/ssl/certs/ca-certificates.crt")
    for key, option in (("sslcert", "server_tls_cert_file"), ("sslkey", "server_tls_key_file")):
        if query.get(key):
            lines.append(f"{option} = {_ini_value(query[key], key + ' path')}")
    userlist = f"{_quoted(url.username)} {_quoted(url.password)}\n{_quoted(STATS_USER)} \"\"\n"
    hba = "\n".join([
        "# The exporter sidecar, from the pod's own loopback, to the admin console only.",
        f"host pgbouncer {STATS_USER} 127.0.0.1/32 trust",
        f"host pgbouncer {STATS_USER} ::1/128 trust",
        "# Everyone else: the database URL's user and password (SCRAM), from anywhere the NetworkPolicy admits.",
        f"host all {STATS_USER} 0.0.0.0/0 reject",
        f"host all {STATS_USER} ::/0 reject",
        "host all all 0.0.0.0/0 scram-sha-256",
        "host all all ::/0 scram-sha-256",
        "",
    ])
    return {"pgbouncer.ini": "\n".join(lines) + "\n", "userlist.txt": userlist, "hba.conf": hba}


def write(folder: Path, files: dict[str, str]) -> None:
    """Write the files as this user's 0600 files, each replaced atomically."""
    for name, text in files.items():
        write_private(folder / name, text)


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` of ``--database-pooler``."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PoolerError(f"--database-pooler {address!r}: give HOST:PORT, e.g. airdeck-pgbouncer:6432")
    return host.strip("[]"), int(port)


def via_pooler(database_url: str, address: str) -> str:
    """The database URL through PgBouncer at ``address``: the same driver, user, password and database
    name (PgBouncer's [databases] entry), PgBouncer's host and port, and no TLS parameter (they were
    for the server, which PgBouncer reaches; pod to PgBouncer stays inside the cluster, admitted by
    NetworkPolicy only from the release's Airflow pods)."""
    host, port = parse_address(address)
    url = _parse(database_url, "database URL (secret database_url)")
    query = {k: v for k, v in url.query.items() if k not in _TLS_KEYS}
    return url.set(host=host, port=port, query=query).render_as_string(hide_password=False)
