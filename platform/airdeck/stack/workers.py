"""The local workers' own system user: task code never runs as the user that holds the platform's keys.

When airdeck runs as root, the plan runs every Celery worker as ``airdeck-worker`` (a system user,
created here once) if that user can reach airdeck, the environment's packages, the state folder and the
DAG folder; when only the Python interpreter is out of its reach, they run a copy of it that is not
(``stack.runtime``). Each worker's ``airflow.cfg`` and folder are handed to it; it owns the task log folder; the
state folder's root, ``logs/`` and ``services/`` become search-only for others; ``dag-bundle-mirrors/``
(the dag-processor's read-only copies of the git bundles) is root's and readable by the workers' group
alone (setgid, 2750: what git adds there keeps the group); everything else under
``$AIRDECK_HOME`` (secrets, the other components' files, ``run/``) stays private to root. When a folder
on the way blocks it, ``airdeck up`` refuses to start them (naming the folder and the ways out) unless
``workers.run_as_root_reason`` says why they may run as root; ``airdeck status`` then shows that reason.
As a normal user there is no second user to switch to (docs/security.md says what that means).
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from airdeck.plan.build import WORKER_SYSTEM_USER, worker_isolation_blocker
from airdeck.plan.model import Deployment
from airdeck.stack import runtime
from airdeck.stack.errors import StackError
from airdeck.state.childenv import child_env
from airdeck.state.home import AirdeckHome, open_folder, secure_folder


def worker_users(deployment: Deployment) -> set[str]:
    return {c.user for c in deployment.components if c.kind == "worker" and c.user}


def ensure_user(name: str) -> pwd.struct_passwd:
    """The system user ``name``, created (no home, no shell, no password) when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                            capture_output=True, text=True, check=False, env=child_env())
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise StackError(f"could not create the system user {name!r} the workers run as: "
                         f"{result.stderr.strip() or result.returncode}; create it (useradd --system {name}) "
                         "and run airdeck up again")
    return pwd.getpwnam(name)


def isolation_warning(deployment: Deployment, home: AirdeckHome) -> str | None:
    """What to tell a root user whose workers would run as root, and why; None when they would not."""
    if os.geteuid() != 0 or deployment.target != "local":
        return None
    workers = [c for c in deployment.components if c.kind == "worker"]
    if not workers or any(c.user for c in workers):
        return None
    blocked = worker_isolation_blocker(home, workers[0].settings.get("core", {}).get("dags_folder", "/"))
    where = f"{blocked} is not searchable by other users" if blocked else "a folder is not searchable by others"
    return (f"the workers run as root, so task code can read the state folder's secrets: the system user "
            f"{WORKER_SYSTEM_USER!r} cannot reach airdeck, the Python environment's packages, AIRDECK_HOME or "
            f"the DAG folder ({where}). To isolate them: `chmod o+x {blocked or 'FOLDER'}` (search only), or install "
            "them under folders others can search")


def root_refusal(warning: str) -> str:
    """Why ``airdeck up`` does not start workers as root, and exactly what to do."""
    reason = warning.removeprefix("the workers run as root, so ")
    return (f"refusing to start the workers as root, where {reason}. Or, to run them as root anyway, say why in "
            "airdeck.yaml (./airdeck.yaml, or the file of --config / AIRDECK_CONFIG):\n"
            "  workers:\n    run_as_root_reason: \"<why task code may read the platform's secrets here>\"\n"
            "and run airdeck up again; or run airdeck as a regular user. Nothing was started.")


def prepare(deployment: Deployment, home: AirdeckHome, say: Callable[[str], None] | None = None,
            root_reason: str | None = None) -> None:
    """Create the workers' user and give it what it needs: the task log folder (its own) and a way in.

    Workers that would run as root stop here (before anything starts) unless ``root_reason`` is given."""
    warning = isolation_warning(deployment, home)
    if warning and not root_reason:
        raise StackError(root_refusal(warning))
    if warning and say is not None:
        say(f"{warning}; they run as root because workers.run_as_root_reason says: {root_reason}")
    for name in sorted(worker_users(deployment)):
        entry = ensure_user(name)
        # airdeck's own folders on the way: search only (nothing listable); each service's folder, the
        # secrets and run/ stay private to their owner
        for folder in (home.root, home.logs, home.root / "services"):
            folder.chmod(stat.S_IMODE(folder.stat().st_mode) | 0o001)
        _own_tree(home.task_logs, entry)
        _readable_to_group(home.dag_bundle_mirrors, entry.pw_gid)
        if deployment.worker_runtime is not None:  # it cannot reach the interpreter airdeck runs with
            folder = Path(deployment.worker_runtime)
            if runtime.ensure(folder) and say is not None:
                say(f"the workers run a copy of the Python interpreter in {folder}: {name!r} cannot reach "
                    f"{sys.base_prefix} (`chmod o+x` on its folders makes the copy unnecessary)")
            runtime.check(folder, entry)


def _readable_to_group(folder: Path, gid: int) -> None:
    """``folder``: root's, 2750, group ``gid``: the workers read the copies there and cannot write."""
    secure_folder(folder)
    fd = open_folder(folder)
    try:
        os.fchown(fd, -1, gid)
        os.fchmod(fd, 0o2750)
    finally:
        os.close(fd)


def _own_tree(folder: Path, entry: pwd.struct_passwd) -> None:
    """Task logs belong to the workers (they write them; root reads them all the same)."""
    folder.mkdir(parents=True, exist_ok=True)
    if folder.stat().st_uid == entry.pw_uid:
        return
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(folder, entry.pw_uid, entry.pw_gid)
