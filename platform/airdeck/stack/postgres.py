"""The embedded PostgreSQL: binaries from the pgserver wheel, run by supervisord.

When airdeck runs as root, PostgreSQL (which refuses root) runs as the system user ``pgserver``,
the same user the pgserver wheel itself uses.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import psycopg

from airdeck.config.masking import mask, url_password
from airdeck.plan.servers import POSTGRES_SYSTEM_USER as SYSTEM_USER
from airdeck.plan.servers import postgres_bin_dir as bin_dir
from airdeck.plan.servers import postgres_user as run_as_user
from airdeck.stack.errors import ExternalServiceError, StackError
from airdeck.state.childenv import child_env
from airdeck.state.home import open_folder

SUPERUSER = "airflow"
DATABASE = "airflow"


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SYSTEM_USER], check=True, capture_output=True, text=True, env=child_env())
        return pwd.getpwnam(SYSTEM_USER)


def _make_traversable(path: Path, within: Path, user: pwd.struct_passwd) -> None:
    """Let ``user`` reach ``path``: add o+x (search only, never read) to ``path`` and its parents up to and
    including ``within`` (airdeck's own folder); never change a folder above it (issue 13, finding 12).

    A folder above ``within`` that ``user`` cannot search (``/root``, a private home) is refused with what
    to do instead."""
    path, within = path.absolute(), within.absolute()
    if path != within and within not in path.parents:
        raise ValueError(f"{path} is not inside {within}")
    for folder in [path, *path.parents]:
        if within != folder and within not in folder.parents:
            break
        fd = open_folder(folder)
        try:
            mode = os.fstat(fd).st_mode
            if not mode & 0o001:
                os.fchmod(fd, stat.S_IMODE(mode) | 0o001)
        finally:
            os.close(fd)
    blocked = _unsearchable(list(within.parents), user)
    if blocked:
        raise StackError(
            f"the embedded PostgreSQL runs as the system user {user.pw_name} (PostgreSQL refuses to run as root) "
            f"and cannot reach its data under {within}: {blocked} does not let {user.pw_name} in, and airdeck "
            "changes no folder outside its state folder. Run airdeck as a regular user (recommended), choose a "
            f"state folder {user.pw_name} can reach (AIRDECK_HOME or --home, e.g. /srv/airdeck), or let only "
            f"that user through: setfacl -m u:{user.pw_name}:x {blocked}")


def _unsearchable(folders: list[Path], user: pwd.struct_passwd) -> Path | None:
    """The first of ``folders`` (outermost first) that ``user`` may not search, asked as that user."""
    ordered = sorted(folders, key=lambda p: len(p.parts))
    script = 'for d in "$@"; do [ -x "$d" ] || { printf "%s" "$d"; exit 1; }; done'
    result = subprocess.run(["/bin/sh", "-c", script, "sh", *map(str, ordered)], capture_output=True, text=True,
                            check=False, env=child_env(), user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    return Path(result.stdout) if result.returncode != 0 and result.stdout else None


def prepare(data_dir: Path, socket_dir: Path, password: str, within: Path | None = None) -> bool:
    """Initialise the data directory once. Returns True when it was created now.

    ``within`` is the folder airdeck owns around both (the state folder; default: their common parent):
    when PostgreSQL runs as another user, only folders inside it are opened up for that user."""
    user = run_as_user()
    within = within or Path(os.path.commonpath([data_dir.absolute(), socket_dir.absolute()]))
    socket_dir.mkdir(parents=True, exist_ok=True)
    socket_dir.chmod(0o700)
    if user:
        entry = _ensure_system_user()
        os.chown(socket_dir, entry.pw_uid, entry.pw_gid)
        _make_traversable(socket_dir.parent, within, entry)
    if (data_dir / "PG_VERSION").exists():
        return False
    if data_dir.exists() and any(data_dir.iterdir()):
        raise StackError(
            f"{data_dir} is not empty but holds no PostgreSQL cluster; move it away or delete it, "
            "then run airdeck up again"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    with tempfile.TemporaryDirectory(prefix="airdeck-initdb-") as tmp:
        pwfile = Path(tmp) / "pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, password.encode())
        os.close(fd)
        argv = [str(bin_dir() / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-instructions"]
        kwargs: dict = {}
        if user:
            entry = pwd.getpwnam(user)
            for path in (data_dir, Path(tmp), pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            _make_traversable(data_dir.parent, within, entry)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        result = subprocess.run(argv, capture_output=True, text=True, check=False, env=child_env(), **kwargs)
    if result.returncode != 0:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise StackError(f"initdb failed for {data_dir}: {result.stderr.strip()[-800:]}")
    return True


def ensure_database(port: int, password: str) -> None:
    """Create the ``airflow`` database if it does not exist yet."""
    with psycopg.connect(host="127.0.0.1", port=port, user=SUPERUSER, password=password,
                         dbname="postgres", autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def check_url(url: str, shown: str, timeout: int = 5) -> None:
    """Connect to an external database once; raise naming the (masked) URL and the error."""
    sa_url = url.replace("postgresql+psycopg://", "postgresql://").replace("postgresql+psycopg2://", "postgresql://")
    try:
        with psycopg.connect(sa_url, connect_timeout=timeout) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = mask(reason, [url_password(url)])  # libpq may echo the URL or parts of it
        raise ExternalServiceError(
            f"cannot reach the database at {shown} (database.url): {reason}. "
            "Check the host, port, credentials and that the server is running."
        ) from None
