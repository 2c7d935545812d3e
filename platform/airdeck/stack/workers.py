"""The local workers' own system user: task code never runs as the user that holds the platform's keys.

When airdeck runs as root, the plan runs every Celery worker as ``airdeck-worker`` (a system user,
created here once). Each worker's ``airflow.cfg`` and folder are handed to it; it gets the task log
folder to write task logs into; everything else under ``$AIRDECK_HOME`` (secrets, the other
components' files, ``run/``) stays private to root. As a normal user there is no second user to
switch to: workers run as that user and can read what it can (docs/security.md says so).
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import airdeck
from airdeck.plan.model import Deployment
from airdeck.stack.errors import StackError
from airdeck.state.home import AirdeckHome


def worker_users(deployment: Deployment) -> set[str]:
    return {c.user for c in deployment.components if c.kind == "worker" and c.user}


def ensure_user(name: str) -> pwd.struct_passwd:
    """The system user ``name``, created (no home, no shell, no password) when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise StackError(f"could not create the system user {name!r} the workers run as: "
                         f"{result.stderr.strip() or result.returncode}; create it (useradd --system {name}) "
                         "and run airdeck up again")
    return pwd.getpwnam(name)


def _reachable_by_others(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot search (no o+x), if any."""
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            break
        if not stat.S_IMODE(folder.stat().st_mode) & 0o001:
            return folder
    return None


def prepare(deployment: Deployment, home: AirdeckHome) -> None:
    """Create the workers' user and give it what it needs: the task log folder (its own) and a way in.

    The state folder and the DAG folder must be reachable by it: a folder on the way that others
    cannot search is refused with its name, rather than chmod-ed behind the owner's back."""
    users = worker_users(deployment)
    if not users:
        return
    dags = {Path(c.settings["core"]["dags_folder"]) for c in deployment.components
            if c.kind == "worker" and "dags_folder" in c.settings.get("core", {})}
    for name in sorted(users):
        entry = ensure_user(name)
        code = (Path(sys.executable).parent, Path(airdeck.__file__).parent)  # the environment tasks run in
        for path in (home.root.parent, *code, *sorted(dags)):
            blocked = _reachable_by_others(path)
            if blocked is not None:
                raise StackError(
                    f"the workers run as the system user {name!r} (airdeck runs as root), which cannot reach "
                    f"{path}: {blocked} is not searchable by other users. Run `chmod o+x {blocked}` (search "
                    "only: nothing becomes listable or readable), or put AIRDECK_HOME, airflow.dags_folder and "
                    "the Python environment under folders others can search")
        # airdeck's own folders on the way: search only (nothing listable); each service's folder, the
        # secrets and run/ stay private to their owner
        for folder in (home.root, home.logs, home.root / "services"):
            folder.chmod(stat.S_IMODE(folder.stat().st_mode) | 0o001)
        _own_tree(home.task_logs, entry)


def _own_tree(folder: Path, entry: pwd.struct_passwd) -> None:
    """Task logs belong to the workers (they write them; root reads them all the same)."""
    folder.mkdir(parents=True, exist_ok=True)
    if folder.stat().st_uid == entry.pw_uid:
        return
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(folder, entry.pw_uid, entry.pw_gid)
