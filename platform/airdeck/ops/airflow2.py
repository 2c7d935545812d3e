"""Move an Airflow 2 (2.7 to 2.11) metadata database in PostgreSQL onto this airdeck platform.

The steps, each checked before the next:

1. **Read the source** (read-only transaction): its schema revision (``alembic_version``), mapped to an
   Airflow version through Airflow 3.3's own migration files; refused when older than 2.7.0, already
   Airflow 3, or unknown (newer than this Airflow knows). Every encrypted value (connection password
   and extra, variable value, trigger arguments) is decrypted with the given Fernet key(s); one that
   does not decrypt stops the import ("N of M connections cannot be decrypted") before anything is
   written anywhere.
2. **Check the target**, airdeck's database (embedded or ``database.url``): the platform must be stopped;
   the database must hold no tables, unless ``--replace``, which first saves it with ``pg_dump`` to
   ``$AIRDECK_HOME/backups/before-import-<time>.dump`` (0600).
3. **Copy** with ``pg_dump``/``pg_restore`` (the binaries shipped with airdeck's embedded PostgreSQL;
   passwords through the environment, never the command line), without ``sla_miss`` (SLAs are gone in
   Airflow 3) and without the web sessions.
4. **Re-encrypt** every encrypted value from the source key to airdeck's key, in one transaction.
5. **Migrate** with Airflow 3.3's own ``airflow db migrate`` (Airflow's migrations from 2.x, then the FAB
   provider's for users, roles and permissions), with airdeck's configuration.
6. **Roles**: ``security/roles.yaml`` is applied (``airdeck rbac sync``): a role of the source whose name
   is declared there gets airdeck's permissions; Airflow's built-in roles are Airflow's; any other role
   is kept with its permissions from Airflow 2. Users keep their passwords and roles.
7. **Verify**: connections and variables decrypt with airdeck's key; users, roles, DAG runs and task
   instances are all there.

A failure after step 3 has begun empties the target again (its earlier content, with ``--replace``, is
in the dump of step 2). A dry run does steps 1 and 2 only, reading both databases and writing nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import pwd
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from airdeck.auth.rbac import LiveRoles
from airdeck.auth.roles import DEFAULT_FILE as DEFAULT_ROLES_FILE
from airdeck.auth.roles import load_roles
from airdeck.config.auth import BUILTIN_ROLES
from airdeck.config.masking import normalise_url
from airdeck.errors import AirdeckError
from airdeck.ops import migrate_args
from airdeck.plan.build import airflow_bin
from airdeck.plan.secrets import libpq_url, mask_url
from airdeck.plan.servers import postgres_argv, postgres_bin_dir, postgres_user
from airdeck.secrets import fernet as fernet_mod
from airdeck.stack import postgres
from airdeck.stack.orchestrator import Stack
from airdeck.stack.ports import check_ports_free
from airdeck.state.childenv import child_env

#: Oldest Airflow 2 release whose database airdeck imports (the issue's range; Airflow 3.3's own chain
#: starts at 2.6.2's squashed revision).
MIN_VERSION = (2, 7, 0)
#: Tables not copied, with why: they are dead in Airflow 3.
SKIPPED_TABLES = {"sla_miss": "SLAs were removed in Airflow 3.0 (deadline alerts replace them)"}
#: Tables whose rows are not copied (the table itself is).
SKIPPED_DATA = {"session": "web sign-in sessions: users sign in again"}
#: What Airflow 3's migrations drop from an Airflow 2 database (read from its migration files).
DROPPED_BY_MIGRATIONS = {
    "task_fail": "dropped by Airflow 3.0 (migration 0044); failed tries stay in task_instance_history",
    "dag_pickle": "DAG pickling was removed in Airflow 3.0 (migration 0046)",
    "import_error": "emptied by Airflow 3.0.3 (migration 0069); DAG files are parsed afresh",
}
COUNTED_TABLES = ("connection", "variable", "ab_user", "ab_role", "dag", "dag_run", "task_instance",
                  "task_instance_history", "xcom", "log", "trigger", "slot_pool")
TIMEOUT = 3600


class Airflow2ImportError(AirdeckError):
    """The Airflow 2 database cannot be imported; the message says why and what to do."""


class SourceVersionError(Airflow2ImportError):
    exit_code = 3


class UndecryptableError(Airflow2ImportError):
    exit_code = 4


# ------------------------------------------------------------------------------------------ versions
def _migration_files() -> list[Path]:
    spec = importlib.util.find_spec("airflow")
    if spec is None or not spec.submodule_search_locations:
        raise Airflow2ImportError("Airflow is not installed in airdeck's environment; reinstall airdeck")
    folder = Path(next(iter(spec.submodule_search_locations))) / "migrations" / "versions"
    return sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.py"))


def known_revisions() -> dict[str, str]:
    """{alembic revision: Airflow version that introduced it}, in migration order, from Airflow's own
    migration files (read as text: importing them would import Airflow)."""
    found: dict[str, str] = {}
    for path in _migration_files():
        text = path.read_text(encoding="utf-8")
        revision = re.search(r'^revision\s*=\s*"([0-9a-f]+)"', text, re.M)
        version = re.search(r'^airflow_version\s*=\s*"([0-9.]+)"', text, re.M)
        if revision and version:
            found[revision.group(1)] = version.group(1)
    return found


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:3])


def airflow_version_of(revision: str) -> str:
    """The Airflow version a supported source revision belongs to; refuses every other revision."""
    known = known_revisions()
    version = known.get(revision)
    if version is None:
        raise SourceVersionError(
            f"the source database is at schema revision {revision}, which Airflow 3.3 does not know: it is "
            "from an Airflow 2 older than 2.6 (upgrade it to 2.7 or later with Airflow 2 first) or from an "
            "Airflow newer than the one airdeck runs. airdeck imports Airflow 2.7 to 2.11 databases")
    if _version_tuple(version) < MIN_VERSION:
        raise SourceVersionError(
            f"the source database is from Airflow {version} (revision {revision}); airdeck imports Airflow 2.7 "
            "to 2.11. Upgrade it to 2.7 or later with Airflow 2 (`airflow db migrate`) first")
    if _version_tuple(version) >= (3, 0, 0):
        raise SourceVersionError(
            f"the source database is already an Airflow {version} database (revision {revision}); airdeck imports "
            "Airflow 2.7 to 2.11 databases. Restore an airdeck backup or point database.url at it instead")
    # Airflow 2.11 added no migration: a database at the last 2.x revision may come from 2.10.3 to 2.11.
    last_2x = [r for r, v in known.items() if _version_tuple(v) < (3, 0, 0)][-1]  # files in chain order
    return f"{version} to 2.11" if revision == last_2x else version


# ------------------------------------------------------------------------------------------ databases
@dataclass(frozen=True)
class Database:
    """A PostgreSQL database reached with libpq parameters; the password never leaves this object
    except in a child's environment (``PGPASSWORD``)."""

    params: dict[str, str]
    shown: str  # the URL with its password masked, for messages

    @classmethod
    def from_url(cls, url: str, what: str) -> Database:
        if not url.strip().startswith(("postgresql://", "postgres://", "postgresql+")):
            given = f"a {url.split('://', 1)[0]}:// URL" if "://" in url else "text that is not a URL (not shown)"
            raise Airflow2ImportError(f"{what} must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE), "
                                      f"not {given}; airdeck imports Airflow 2 databases in PostgreSQL only")
        try:
            # Credentials up to the last "@" (airdeck.config.masking): a password holding "@" unencoded is
            # the password, never part of the host libpq would try to resolve.
            normal = libpq_url(normalise_url(url.strip()))
            params = {k: str(v) for k, v in conninfo_to_dict(normal).items() if v is not None}
        except psycopg.ProgrammingError:
            # libpq's message repeats the URL, password included: not shown.
            raise Airflow2ImportError(f"{what}: {mask_url(url)} is not a valid PostgreSQL URL "
                                      "(postgresql://USER@HOST:PORT/DATABASE)") from None
        if not all(part.isdigit() for part in params.get("port", "5432").split(",")):
            raise Airflow2ImportError(f"{what}: {mask_url(url)} has a port that is not a number")
        return cls(params, mask_url(url))

    @property
    def dbname(self) -> str:
        return self.params.get("dbname", self.params.get("user", ""))

    def conninfo(self, with_password: bool = True) -> str:
        params = dict(self.params) if with_password else {k: v for k, v in self.params.items() if k != "password"}
        return make_conninfo(**params)

    def env(self) -> dict[str, str]:
        """The environment of a pg_dump/pg_restore child: the password, never in its argv."""
        # libpq's own variables of the person running the import apply (PGPASSFILE, PGSSL*, …); no other.
        env = child_env(prefixes=("PG",))
        if "password" in self.params:
            env["PGPASSWORD"] = self.params["password"]
        return env

    def connect(self, what: str, read_only: bool = False) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.conninfo(), connect_timeout=10)
        except psycopg.Error as exc:
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            password = self.params.get("password")
            if password:
                first = first.replace(password, "***")
            host, port = self.params.get("host", "local socket"), self.params.get("port", "5432")
            raise Airflow2ImportError(f"cannot reach {what} at {self.shown} (host {host}, port {port}): {first}. "
                                      "Check the host, port, user, password and that the server is running") from None
        if read_only:
            conn.read_only = True
        return conn


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def _count(conn: psycopg.Connection[Any], table: str, where: str = "") -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    if where:
        query = sql.SQL("{} WHERE {}").format(query, sql.SQL(where))  # where: fixed text of this module
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


# ------------------------------------------------------------------------------------------ the plan
@dataclass
class NotCarried:
    what: str
    rows: int
    why: str


@dataclass
class RoleMapping:
    role: str
    users: int
    outcome: str  # "roles.yaml", "built-in", "kept"


@dataclass
class ImportPlan:
    """What the import will do, found without writing anything (the dry run's report)."""

    source: str
    target: str
    revision: str
    airflow_version: str
    counts: dict[str, int]
    encrypted: dict[str, int]  # table.column -> values
    not_carried: list[NotCarried] = field(default_factory=list)
    roles: list[RoleMapping] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    target_tables: int = 0
    replace: bool = False
    warnings: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportResult:
    plan: ImportPlan
    dry_run: bool
    seconds: dict[str, float] = field(default_factory=dict)
    verified: dict[str, int] = field(default_factory=dict)
    backup: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, **self.plan.as_dict(), "seconds": self.seconds,
                "verified": self.verified, "backup": self.backup}


def read_keys(path: Path) -> list[Fernet]:
    """The source deployment's Fernet key(s): ``[core] fernet_key``, comma-separated, in a file."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise Airflow2ImportError(f"Fernet key file {path} does not exist: write the source's [core] fernet_key into "
                           "it (chmod 600)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Airflow2ImportError(f"cannot read the Fernet key file {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    keys = fernet_mod.split_keys(text)
    if not keys:
        raise Airflow2ImportError(f"Fernet key file {path} is empty: write the source's [core] fernet_key into it")
    fernets = []
    for n, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise Airflow2ImportError(f"{path}: key {n} is not a Fernet key (32 url-safe base64-encoded bytes); "
                               "key material is not shown") from None
    return fernets


def _undecryptable(conn: psycopg.Connection[Any], keys: MultiFernet) -> tuple[dict[str, int], dict[str, int]]:
    """({table: encrypted values}, {table: values that do not decrypt}); a row counts once per table."""
    total: dict[str, set[str]] = {}
    bad: dict[str, set[str]] = {}
    for item in fernet_mod.values(conn):
        if isinstance(item, tuple):
            continue
        total.setdefault(item.table, set()).add(item.ident)
        try:
            keys.decrypt(item.token.encode("utf-8"))
        except InvalidToken:
            bad.setdefault(item.table, set()).add(item.ident)
    return {t: len(v) for t, v in total.items()}, {t: len(v) for t, v in bad.items()}


def inspect_source(source: Database, keys: list[Fernet], roles_file: Path) -> ImportPlan:
    """Everything that can be known from the source without writing: refuses what cannot be imported."""
    with source.connect("the Airflow 2 database", read_only=True) as conn:
        tables = set(_tables(conn))
        if "alembic_version" not in tables or "dag_run" not in tables:
            raise SourceVersionError(f"{source.shown} holds no Airflow metadata (no alembic_version or dag_run "
                                     "table): give the URL of the Airflow 2 metadata database")
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if row is None:
            raise SourceVersionError(f"{source.shown}: alembic_version is empty; is the database initialised?")
        revision = str(row[0])
        version = airflow_version_of(revision)
        counts = {t: _count(conn, t) for t in COUNTED_TABLES if t in tables}
        total, bad = _undecryptable(conn, MultiFernet(keys))
        if bad:
            parts = [f"{bad[t]} of {total[t]} {_plural(t)}" for t in ("connection", "variable", "trigger") if t in bad]
            raise UndecryptableError(
                f"{', '.join(parts)} cannot be decrypted with the key(s) in the Fernet key file: it is not the "
                "source's [core] fernet_key (give every key of its list, comma-separated). Nothing was written")
        not_carried = []
        for table, why in {**SKIPPED_TABLES, **SKIPPED_DATA, **DROPPED_BY_MIGRATIONS}.items():
            if table in tables:
                rows = _count(conn, table)
                if rows:
                    not_carried.append(NotCarried(table, rows, why))
        if "dag" in tables and _has_column(conn, "dag", "is_subdag"):
            subdags = _count(conn, "dag", "is_subdag")
            if subdags:
                not_carried.append(NotCarried("SubDAGs", subdags, "SubDAGs were removed in Airflow 3.0: their DAG "
                                              "rows stay, without runs of their own; rewrite them as task groups"))
        plan = ImportPlan(source=source.shown, target="", revision=revision, airflow_version=version,
                          counts=counts, encrypted=total, not_carried=not_carried)
        active = _count(conn, "dag_run", "state IN ('running', 'queued')")
        if active:
            plan.warnings.append(f"{active} DAG runs are running or queued in the source: stop its scheduler "
                                 "first; airdeck imports them as they are and will not resume them")
        declared = set(load_roles(roles_file))
        if "ab_role" not in tables or "ab_user" not in tables:
            raise SourceVersionError(f"{source.shown} has no FAB users and roles (ab_user, ab_role); it is not the "
                                     "metadata database of an Airflow 2 deployment")
        for name, users in conn.execute(
                "SELECT r.name, count(ur.id) FROM ab_role r LEFT JOIN ab_user_role ur ON ur.role_id = r.id "
                "GROUP BY r.name ORDER BY r.name"):
            outcome = "built-in" if name in BUILTIN_ROLES else "roles.yaml" if name in declared else "kept"
            plan.roles.append(RoleMapping(name, int(users), outcome))
        plan.users = [r[0] for r in conn.execute("SELECT username FROM ab_user ORDER BY username")]
        conn.rollback()
    return plan


def _has_column(conn: psycopg.Connection[Any], table: str, column: str) -> bool:
    row = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                       "AND table_name = %s AND column_name = %s", (table, column)).fetchone()
    return row is not None


def _plural(table: str) -> str:
    return {"connection": "connections", "variable": "variables", "trigger": "trigger arguments"}.get(table, table)


# ------------------------------------------------------------------------------------------ the target
@contextlib.contextmanager
def embedded_server(stack: Stack, create: bool = True) -> Iterator[bool]:
    """airdeck's embedded PostgreSQL, started on its configured port for the import only (the platform is
    stopped), stopped afterwards. With ``create`` its cluster and ``airflow`` database are created when
    missing; without, nothing is created and it yields whether the ``airflow`` database exists."""
    home, cfg = stack.home, stack.cfg
    if not create and not (home.postgres_data / "PG_VERSION").exists():
        yield False
        return
    port = cfg.database.embedded.port
    # Another server on the port would answer in its place: refuse, naming the process.
    check_ports_free([("database.embedded.port", port)])
    password = stack.secrets.get("database_password")
    postgres.prepare(home.postgres_data, home.postgres_socket_dir, password)
    kwargs: dict[str, Any] = {}
    user = postgres_user()
    if user:
        entry = pwd.getpwnam(user)
        kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    home.logs.mkdir(parents=True, exist_ok=True)
    log_path = home.service_log("postgres")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - the embedded server's own command line
            postgres_argv(home.postgres_data, home.postgres_socket_dir, port, cfg.database.embedded.max_connections),
            stdout=log, stderr=subprocess.STDOUT, env=child_env(), **kwargs)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=port, user=postgres.SUPERUSER, password=password,
                                     dbname="postgres", autocommit=True, connect_timeout=5) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                          (postgres.DATABASE,)).fetchone() is not None
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise Airflow2ImportError(f"the embedded PostgreSQL did not start on port {port} (is the port "
                                              f"taken?); see {log_path}") from None
                time.sleep(0.3)
        if create and not exists:
            postgres.ensure_database(port, password)
            exists = True
        yield exists
    finally:
        proc.send_signal(2)  # SIGINT: fast shutdown
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _pg_tool(name: str) -> str:
    return str(postgres_bin_dir() / name)


def _run_tool(argv: list[str], db: Database, what: str) -> None:
    result = subprocess.run(argv, env=db.env(), capture_output=True, text=True, check=False,  # noqa: S603
                            timeout=TIMEOUT)
    if result.returncode != 0:
        text = result.stderr.strip()
        password = db.params.get("password")
        if password:
            text = text.replace(password, "***")
        raise Airflow2ImportError(f"{what} failed (exit {result.returncode}) for {db.shown}:\n" +
                           "\n".join(text.splitlines()[-12:]))


def dump(db: Database, path: Path, exclude_tables: tuple[str, ...] = (), exclude_data: tuple[str, ...] = ()) -> None:
    """``pg_dump -Fc`` of ``db`` into ``path`` (created 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    argv = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={path}",
            *(f"--exclude-table={t}" for t in exclude_tables), *(f"--exclude-table-data={t}" for t in exclude_data),
            f"--dbname={db.conninfo(with_password=False)}"]
    _run_tool(argv, db, "pg_dump")


def restore(db: Database, path: Path) -> None:
    argv = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
            f"--dbname={db.conninfo(with_password=False)}", str(path)]
    _run_tool(argv, db, "pg_restore")


def empty_schema(target: Database) -> None:
    """Drop everything in the target's schema (the database stays, with its owner and settings)."""
    with target.connect("airdeck's database") as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()
        name = str(schema[0]) if schema and schema[0] else "public"
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        conn.commit()


def reencrypt(target: Database, old: MultiFernet, new: Fernet) -> dict[str, int]:
    """Decrypt every encrypted value with the source's keys and encrypt it with airdeck's, in one
    transaction; {table.column: values re-encrypted}."""
    done: dict[str, int] = {}
    with target.connect("airdeck's database") as conn:
        items = [i for i in fernet_mod.values(conn) if not isinstance(i, tuple)]
        ids = {table: ident for table, ident, _column, _flag in fernet_mod.ENCRYPTED_COLUMNS}
        for item in items:
            plain = old.decrypt(item.token.encode("utf-8"))
            token = new.encrypt(plain).decode("utf-8")
            conn.execute(sql.SQL("UPDATE {} SET {} = %s WHERE {}::text = %s").format(
                sql.Identifier(item.table), sql.Identifier(item.column), sql.Identifier(ids[item.table])),
                (token, item.ident))
            key = f"{item.table}.{item.column}"
            done[key] = done.get(key, 0) + 1
        conn.commit()
    return done


def migrate(stack: Stack) -> tuple[int, str]:
    """`airflow db migrate` with airdeck's configuration, parameters bound on the client (see
    :mod:`airdeck.ops.migrate_args`: a migration of Airflow 3.2.0 fails with server-side binding)."""
    env = {**stack.cli_env(), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": migrate_args.IMPORT_PATH}
    result = subprocess.run([airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True,  # noqa: S603
                            check=False, timeout=TIMEOUT)
    return result.returncode, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------ the import
def _target(stack: Stack) -> Database:
    return Database.from_url(stack.secret("database_url"), "airdeck's database")


@contextlib.contextmanager
def _target_server(stack: Stack, create: bool) -> Iterator[Database | None]:
    """airdeck's database, reachable for the import; None when it does not exist yet (a dry run on a
    platform that never started: nothing is created)."""
    if stack.cfg.database.url is None:
        with embedded_server(stack, create) as exists:
            yield _target(stack) if exists else None
    else:
        yield _target(stack)


def _verify(target: Database, key: Fernet, plan: ImportPlan) -> dict[str, int]:
    """Counts on airdeck after the import; raises when something did not arrive or does not decrypt."""
    with target.connect("airdeck's database", read_only=True) as conn:
        total, bad = _undecryptable(conn, MultiFernet([key]))
        if bad:
            raise Airflow2ImportError(f"after the import, {sum(bad.values())} values do not decrypt with airdeck's key")
        got = {t: _count(conn, t) for t in ("connection", "variable", "ab_user", "dag_run", "task_instance")}
        conn.rollback()
    for table in ("connection", "variable", "ab_user", "dag_run", "task_instance"):
        if got[table] != plan.counts.get(table, 0):
            raise Airflow2ImportError(f"after the import airdeck has {got[table]} rows in {table}, the source "
                               f"{plan.counts.get(table, 0)}")
    got["encrypted_values"] = sum(total.values())
    return got


def import_airflow2(stack: Stack, database_url: str, fernet_key_file: Path, *, dry_run: bool = False,
                    replace: bool = False, roles_file: Path = DEFAULT_ROLES_FILE) -> ImportResult:
    """Import (or with ``dry_run`` only plan) the Airflow 2 database at ``database_url``; see the module."""
    source = Database.from_url(database_url, "--database-url")
    keys = read_keys(fernet_key_file)
    if stack.supervisor.is_running():
        raise Airflow2ImportError(f"the platform in {stack.home.root} is running; stop it first (airdeck down): the "
                           "import replaces its database")
    started = time.monotonic()
    try:
        plan = inspect_source(source, keys, roles_file)
    except psycopg.Error as exc:  # e.g. a user without SELECT on a table
        raise Airflow2ImportError(f"cannot read the Airflow 2 database at {source.shown}: "
                                  f"{_first_line(exc, source)}; nothing was written") from None
    seconds = {"inspect": round(time.monotonic() - started, 2)}
    if not dry_run:
        stack.secrets.ensure_all()  # a platform never started: its keys and passwords are made now
    if stack.cfg.admin.username in plan.users:
        plan.warnings.append(f"the account {stack.cfg.admin.username!r} comes from Airflow 2 and keeps its "
                             "password from there; the one `airdeck credentials` shows does not apply to it")
    with _target_server(stack, create=not dry_run) as target:
        if target is None:  # dry run, embedded database never created
            plan.target = f"the embedded PostgreSQL in {stack.home.postgres_data}, not created yet"
            plan.replace = replace
            _plan_steps(plan)
            return ImportResult(plan, True, seconds)
        plan.target = target.shown
        with target.connect("airdeck's database", read_only=True) as conn:
            plan.target_tables = len(_tables(conn))
            conn.rollback()
        plan.replace = replace
        _plan_steps(plan)
        if plan.target_tables and not replace:
            raise Airflow2ImportError(
                f"airdeck's database {target.shown} already holds {plan.target_tables} tables (a platform that "
                "has run): the import would replace it. Import into a fresh state folder (--home), or pass "
                "--replace to save it first (pg_dump into the state folder's backups/) and replace it")
        if dry_run:
            return ImportResult(plan, True, seconds)
        try:
            return _run(stack, source, target, keys, plan, seconds, roles_file)
        except psycopg.Error as exc:
            raise Airflow2ImportError(f"the import failed on a database error: {_first_line(exc, source, target)}; "
                                      "airdeck's database was emptied again") from None


def _first_line(exc: Exception, *dbs: Database) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    for db in dbs:
        password = db.params.get("password")
        if password:
            line = line.replace(password, "***")
    return line


def _plan_steps(plan: ImportPlan) -> None:
    steps = []
    if plan.target_tables:
        steps.append(f"save airdeck's current database ({plan.target_tables} tables) with pg_dump into the state "
                     "folder's backups/, then empty it" if plan.replace else
                     f"refuse: airdeck's database holds {plan.target_tables} tables (--replace replaces it)")
    steps += [
        f"copy the Airflow {plan.airflow_version} database (pg_dump/pg_restore), without "
        f"{', '.join(SKIPPED_TABLES)} and the data of {', '.join(SKIPPED_DATA)}",
        f"re-encrypt {sum(plan.encrypted.values())} encrypted values with airdeck's Fernet key",
        "upgrade the schema with Airflow 3.3's `airflow db migrate` (and the FAB provider's migrations)",
        "apply security/roles.yaml to the roles it declares (airdeck rbac sync)",
        "verify: values decrypt with airdeck's key; users, DAG runs and task instances all arrived",
    ]
    plan.steps = steps


def _run(stack: Stack, source: Database, target: Database, keys: list[Fernet], plan: ImportPlan,
         seconds: dict[str, float], roles_file: Path) -> ImportResult:
    result = ImportResult(plan, False, seconds)

    def timed(name: str, started: float) -> None:
        seconds[name] = round(time.monotonic() - started, 2)

    if plan.target_tables:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = stack.home.root / "backups"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        backup = folder / f"before-import-{stamp}.dump"
        started = time.monotonic()
        dump(target, backup)
        result.backup = str(backup)
        stack.say(f"saved airdeck's database to {backup} (restore: pg_restore --clean -d URL {backup.name})")
        empty_schema(target)
        timed("backup", started)
    try:
        with tempfile.TemporaryDirectory(prefix="airdeck-import-") as tmp:
            path = Path(tmp) / "airflow2.dump"
            started = time.monotonic()
            dump(source, path, exclude_tables=tuple(SKIPPED_TABLES), exclude_data=tuple(SKIPPED_DATA))
            restore(target, path)
            timed("copy", started)
        stack.say(f"copied the Airflow {plan.airflow_version} database ({seconds['copy']:.1f}s)")
        started = time.monotonic()
        airdeck_key = fernet_mod.split_keys(stack.secrets.get("fernet_key"))[0]
        done = reencrypt(target, MultiFernet(keys), Fernet(airdeck_key.encode("ascii")))
        timed("reencrypt", started)
        stack.say(f"re-encrypted {sum(done.values())} values with airdeck's Fernet key")
        started = time.monotonic()
        stack.render()
        code, output = migrate(stack)
        if code != 0:
            raise Airflow2ImportError("airflow db migrate failed on the imported database:\n" +
                               "\n".join(output.strip().splitlines()[-400:]))
        timed("migrate", started)
        stack.say(f"upgraded the schema with airflow db migrate ({seconds['migrate']:.1f}s)")
        started = time.monotonic()
        LiveRoles(stack).sync(roles_file)
        timed("roles", started)
        result.verified = _verify(target, Fernet(airdeck_key.encode("ascii")), plan)
    except BaseException:
        with contextlib.suppress(Exception):
            empty_schema(target)
        stack.console.print("[red]the import failed; airdeck's database was emptied again[/]"
                            + (f" (its earlier content is in {result.backup})" if result.backup else ""))
        raise
    return result

