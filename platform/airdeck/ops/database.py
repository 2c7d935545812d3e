"""The metadata database as backup and restore see it: where it is, the pg_dump/pg_restore that fit its
server, and the embedded server started for a moment when the platform is not running.

Passwords reach pg_dump and pg_restore through a 0600 password file (``PGPASSFILE``) in a private
temporary folder, never through the command line or an environment variable.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from airdeck.config.masking import normalise_url
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.plan.secrets import mask_url
from airdeck.plan.servers import postgres_bin_dir, postgres_user
from airdeck.stack import postgres
from airdeck.state.childenv import child_env
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore


class DatabaseError(AirdeckError):
    exit_code = 1


@dataclass(frozen=True)
class Database:
    """Connection facts of the metadata database (the password only in memory)."""

    host: str
    port: int
    user: str
    name: str
    password: str
    options: dict[str, str]
    embedded: bool
    shown: str  # the URL with its password masked, for messages

    @classmethod
    def of(cls, cfg: AirdeckConfig, store: SecretStore) -> Database:
        if cfg.database.url is None:
            port = cfg.database.embedded.port
            return cls("127.0.0.1", port, postgres.SUPERUSER, postgres.DATABASE, store.read("database_password"),
                       {}, True, f"embedded PostgreSQL 127.0.0.1:{port}")
        raw = cfg.database.url.get_secret_value()
        url = make_url(normalise_url(raw))  # credentials up to the last "@", as airdeck.config.masking reads them
        return cls(url.host or "localhost", url.port or 5432, url.username or "", url.database or "",
                   url.password or "", {k: str(v) for k, v in url.query.items()}, False, mask_url(raw))

    def connect(self, dbname: str | None = None, timeout: int = 5) -> psycopg.Connection:
        options: dict = dict(self.options)
        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=dbname or self.name, connect_timeout=timeout, autocommit=True, **options)

    def answers(self) -> bool:
        try:
            with self.connect(dbname="postgres" if self.embedded else None, timeout=3):
                return True
        except psycopg.Error:
            return False

    def server_major(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
        return int(row[0]) // 10000 if row else 0

    def schema_revision(self) -> str | None:
        """The alembic revision of Airflow's schema; None when the database has no Airflow schema."""
        with self.connect() as conn:
            exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
            if not exists or exists[0] is None:
                return None
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None

    def client_args(self) -> list[str]:
        """Connection arguments for pg_dump/pg_restore (no password: that is in the password file)."""
        args = ["--host", self.host, "--port", str(self.port), "--username", self.user, "--no-password"]
        return args

    def client_env(self, passfile: Path) -> dict[str, str]:
        env = child_env(extra={"PGPASSFILE": str(passfile)})  # none of the caller's PG* nor its secrets
        for key, value in self.options.items():
            if key in _LIBPQ_OPTIONS:
                env[_LIBPQ_OPTIONS[key]] = value
        return env

    @contextmanager
    def passfile(self, user: str | None = None) -> Iterator[Path]:
        """A 0600 libpq password file in a private temporary folder (owned by ``user`` when given)."""
        with tempfile.TemporaryDirectory(prefix="airdeck-pg-") as tmp:
            path = Path(tmp) / "pgpass"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            escaped = self.password.replace("\\", "\\\\").replace(":", "\\:")
            os.write(fd, f"*:*:*:{self.user}:{escaped}\n".encode())
            os.close(fd)
            if user:
                entry = pwd.getpwnam(user)
                os.chown(tmp, entry.pw_uid, entry.pw_gid)
                os.chown(path, entry.pw_uid, entry.pw_gid)
            yield path


_LIBPQ_OPTIONS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                  "sslkey": "PGSSLKEY"}


def tool_major(binary: Path) -> int | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False, env=child_env(),
                             timeout=30).stdout
    except OSError:
        return None
    match = re.search(r"\s(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def find_tool(name: str, server_major: int, db: Database) -> Path:
    """The ``pg_dump``/``pg_restore`` to use with a server of ``server_major``.

    Embedded: the binaries the embedded server itself runs. External: one of the same major version
    as the server (pgserver's, then PATH, then /usr/lib/postgresql/N/bin), else a newer one."""
    bundled = postgres_bin_dir() / name
    if db.embedded:
        return bundled
    candidates: list[Path] = [bundled]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    found: dict[Path, int] = {}
    for candidate in candidates:
        major = tool_major(candidate) if candidate.exists() else None
        if major is not None:
            found[candidate] = major
    same = [c for c, m in found.items() if m == server_major]
    newer = sorted((m, str(c)) for c, m in found.items() if m > server_major)
    if same:
        return same[0]
    if newer:
        return Path(newer[0][1])
    have = ", ".join(f"{c} ({m})" for c, m in found.items()) or "none"
    raise DatabaseError(
        f"the database at {db.shown} runs PostgreSQL {server_major}, and no {name} of version {server_major} "
        f"or newer was found (found: {have}). Install the PostgreSQL {server_major} client tools "
        f"(Debian: apt-get install postgresql-client-{server_major}) or put their bin folder on PATH. "
        "Nothing was changed.")


def private_dir(path: Path, db: Database) -> Path:
    """A 0700 folder the client tools can write to (owned by the embedded server's user when airdeck
    runs as root; its parent is made traversable, never readable, by that user)."""
    path.mkdir(mode=0o700)
    user = postgres_user() if db.embedded else None
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        path.parent.chmod(path.parent.stat().st_mode | 0o001)
    return path


def run_tool(argv: list[str], db: Database, what: str, timeout: float = 3600) -> None:
    """Run a client tool (as the embedded server's user when airdeck runs as root)."""
    user = postgres_user() if db.embedded else None
    kwargs: dict = {}
    if user:
        entry = pwd.getpwnam(user)
        kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    with db.passfile(user) as passfile:
        # umask 077: what the tool writes (a cleartext dump) is private from its first byte (issue 22)
        result = subprocess.run(argv, env=db.client_env(passfile), capture_output=True, text=True,
                                check=False, timeout=timeout, umask=0o077, **kwargs)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise DatabaseError(f"{what} failed on {db.shown} (exit {result.returncode}):\n{tail}")


@contextmanager
def available(cfg: AirdeckConfig, home: AirdeckHome, db: Database) -> Iterator[bool]:
    """The database answers inside the block; yields True when it was started for the block.

    An external database must answer already. The embedded one, when the platform is not running,
    is started on its own (pg_ctl, the platform's port, loopback) and stopped again afterwards."""
    if db.answers():
        yield False
        return
    if not db.embedded:
        raise DatabaseError(f"cannot reach the database at {db.shown} (database.url); nothing was changed")
    if not (home.postgres_data / "PG_VERSION").exists():
        raise DatabaseError(f"no embedded database in {home.postgres_data}; nothing to back up")
    with temporary_server(cfg, home):
        yield True


@contextmanager
def temporary_server(cfg: AirdeckConfig, home: AirdeckHome) -> Iterator[None]:
    """Run the embedded PostgreSQL of ``home`` (initialised already) for the block, with pg_ctl."""
    user = postgres_user()
    kwargs: dict = {}
    if user:
        entry = pwd.getpwnam(user)
        kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    home.postgres_socket_dir.mkdir(parents=True, exist_ok=True)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(home.postgres_socket_dir, entry.pw_uid, entry.pw_gid)
        # `airdeck up` makes run/ private again (0700) before it starts PostgreSQL, which then opens it
        # for the server's user (search only); a stopped platform may be in between.
        for parent in (home.postgres_socket_dir.parent, home.postgres_data.parent):
            parent.chmod(parent.stat().st_mode | 0o001)
    port = cfg.database.embedded.port
    # Beside the data folder, which the server's user can search (logs/ is private to the platform's user).
    log = home.postgres_data.parent / "postgres-ops.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if user:
        log.touch()
        os.chown(log, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    options = (f"-p {port} -k {home.postgres_socket_dir} -c listen_addresses=127.0.0.1 "
               "-c max_connections=50")
    ctl = str(postgres_bin_dir() / "pg_ctl")
    started = subprocess.run([ctl, "start", "-D", str(home.postgres_data), "-w", "-t", "120", "-o", options,
                              "-l", str(log)], capture_output=True, text=True, check=False, env=child_env(), **kwargs)
    if started.returncode != 0:
        try:
            last = "\n".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-8:])
        except OSError:
            last = "(no log)"
        raise DatabaseError(f"could not start the embedded PostgreSQL in {home.postgres_data} on port {port}: "
                            f"{started.stderr.strip()[-500:]}\nLast lines of {log}:\n{last}\nNothing was changed.")
    try:
        time.sleep(0.2)
        yield
    finally:
        subprocess.run([ctl, "stop", "-D", str(home.postgres_data), "-m", "fast", "-w", "-t", "120"],
                       capture_output=True, text=True, check=False, env=child_env(), **kwargs)
