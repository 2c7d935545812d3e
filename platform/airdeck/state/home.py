"""The layout of $AIRDECK_HOME (default ./.airdeck)."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from airdeck.errors import AirdeckError

DEFAULT_HOME = ".airdeck"

#: Characters a state folder's path may not hold: it is written into supervisord.conf (where ``%`` starts
#: an expansion and `` ;``/`` #`` a comment), airflow.cfg (where Airflow expands ``$NAME``) and
#: PostgreSQL's and Valkey's command lines; control characters would add lines to any of them.
_UNSAFE_PATH = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff%\"$;#]")


class HomePathError(AirdeckError):
    """$AIRDECK_HOME names a folder whose path the generated files cannot hold."""

    exit_code = 2


class StateFolderError(AirdeckError):
    """The state folder (or a folder in it) is not safe to use: a link, someone else's, or writable by others."""


def _user(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


#: When airdeck runs as root, the local Celery workers (and so every task) run as this system user, to
#: which the state folder's secrets and the other components' files are unreadable. It owns the task log
#: folder (it writes the logs), the one folder of the state folder that root does not own.
WORKER_SYSTEM_USER = "airdeck-worker"


#: The environment variable naming :attr:`AirdeckHome.dag_bundle_mirrors` for the dag-processor (which
#: writes the copies) and the isolated workers (which read them).
DAG_BUNDLE_MIRRORS_ENV = "AIRDECK_DAG_BUNDLE_MIRRORS"


def _worker_uid() -> int | None:
    try:
        return pwd.getpwnam(WORKER_SYSTEM_USER).pw_uid
    except KeyError:
        return None


def open_folder(path: Path) -> int:
    """A file descriptor of the folder ``path`` itself: a symbolic link there is refused, never followed."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def secure_folder(path: Path, mode: int | None = None, workers_may_own: bool = False) -> None:
    """Create ``path`` (0700) if missing, then insist that it is a real folder owned by the running user that
    nobody else can write to. With ``mode``, set exactly that mode, on the folder itself (never a link's target).
    With ``workers_may_own``, root also accepts the workers' system user as its owner (the task log folder).

    Raises :class:`StateFolderError` saying what is wrong and what to do."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):  # another process may create it first: then check theirs
            path.mkdir(mode=0o700)
        info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise StateFolderError(
            f"{path} is a symbolic link (to {os.readlink(path)}); airdeck does not follow links in its state "
            "folder. Point AIRDECK_HOME (or --home) at the real folder, or replace the link with a folder")
    if not stat.S_ISDIR(info.st_mode):
        raise StateFolderError(f"{path} is not a folder; move it away so airdeck can create its state folder there")
    me = os.geteuid()
    if info.st_uid != me and not (workers_may_own and me == 0 and info.st_uid == _worker_uid()):
        raise StateFolderError(
            f"{path} belongs to {_user(info.st_uid)}, not to the user running airdeck, {_user(me)}: files "
            "planted in it (a signing key, a configuration) would be trusted. Use a state folder of your own "
            f"(AIRDECK_HOME or --home), or, if it really is yours, run: chown -R {_user(me).split()[0]} {path}")
    current = stat.S_IMODE(info.st_mode)
    if mode is None:
        if current & 0o022:
            raise StateFolderError(
                f"{path} has mode {current:04o}: others can write to it and plant files airdeck would trust. "
                f"Run: chmod go-w {path}")
        return
    if current != mode:
        fd = open_folder(path)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class AirdeckHome:
    """Every path airdeck writes, under one root."""

    root: Path

    def __post_init__(self) -> None:
        bad = _UNSAFE_PATH.search(str(self.root))
        if bad is not None:
            raise HomePathError(
                f"the state folder {str(self.root)!r} ($AIRDECK_HOME or --home) holds {bad.group()!r}, which "
                "the generated configuration files cannot carry; choose a folder without % \" $ ; # or "
                "control characters")

    @classmethod
    def from_env(cls, explicit: str | os.PathLike[str] | None = None) -> AirdeckHome:
        value = explicit or os.environ.get("AIRDECK_HOME") or DEFAULT_HOME
        return cls(Path(value).expanduser().absolute())

    # Airflow
    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def webserver_config(self) -> Path:
        return self.airflow_home / "webserver_config.py"

    def service_dir(self, service: str) -> Path:
        return self.root / "services" / service

    def service_config(self, service: str) -> Path:
        return self.service_dir(service) / "airflow.cfg"

    @property
    def dag_bundle_mirrors(self) -> Path:
        """Read-only copies of the git bundles the dag-processor fetched, for workers running as their own
        user (root's; the workers' group may read; see ``stack.workers`` and ``dags.bundle``)."""
        return self.root / "dag-bundle-mirrors"

    # Data of embedded servers
    @property
    def postgres_data(self) -> Path:
        return self.root / "data" / "postgres"

    @property
    def postgres_socket_dir(self) -> Path:
        return self.root / "run" / "postgres"

    @property
    def valkey_dir(self) -> Path:
        return self.root / "data" / "valkey"

    # Logs
    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def service_log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    @property
    def task_logs(self) -> Path:
        return self.logs / "airflow"

    # Supervision
    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def supervisor_conf(self) -> Path:
        return self.run / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.run / "supervisord.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def events_log(self) -> Path:
        return self.logs / "service-events.jsonl"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    def ensure(self) -> None:
        """Create the layout and check it: every folder a real one (no symbolic link), owned by the running
        user, writable by nobody else; secrets, logs and run-time files 0700 (issue 13, findings 8 and 14)."""
        self.check_parent()
        self.root.parent.mkdir(parents=True, exist_ok=True)
        secure_folder(self.root)
        for folder in (self.airflow_home, self.root / "data"):
            secure_folder(folder)
        for private in (self.secrets, self.run, self.root / "services", self.logs):
            secure_folder(private, 0o700)
        # the workers own the task logs once they run as their own user (stack.workers gives it to them)
        secure_folder(self.task_logs, 0o700, workers_may_own=True)

    def check_parent(self) -> None:
        """Refuse a state folder in a folder others may write to without the sticky bit (/tmp has it): they
        could swap the state folder for their own between two commands."""
        parent = self.root.parent
        try:
            info = parent.stat()
        except FileNotFoundError:
            return
        if info.st_mode & 0o002 and not info.st_mode & stat.S_ISVTX:
            raise StateFolderError(
                f"{parent}, the folder holding the state folder {self.root}, is writable by everyone: another "
                "user could replace the state folder. Choose a state folder elsewhere (AIRDECK_HOME or --home), "
                f"or run: chmod o-w {parent}")
