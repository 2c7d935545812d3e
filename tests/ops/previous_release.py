"""The previous airdeck release, installed on its own for the upgrade test.

The release is named by the commit id below, the one place that records it; the annotated tag ``v0.1.0``
points at it for people, but a clone need not carry tags. The release's source (``git archive`` of the
commit) goes to ``.tools/airdeck-<tag>-<commit>/src`` of the repository (or ``$AIRDECK_TEST_VENVS``) and
its virtual environment to ``…/venv``, installed by ``uv sync --frozen`` from the release's own
``uv.lock``: every package, providers included, at the version that release locked, and that airdeck
itself installed as a package. It is rebuilt only when missing or when the release's lock file or the
Python version changes, so reruns take a second (uv's cache makes a rebuild fast).

When the commit is not in this clone's history (a shallow clone), :func:`ensure` raises
:class:`Unavailable`; ``python tests/ops/previous_release.py`` (what ``scripts/test`` runs) then fails
under ``CI=true`` and says it skips elsewhere.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: v0.1.0: the last commit before the worker-boot change set (airdeck.plan.worker_boot, 20a673e), whose
#: platform passed its stack tests; it pins Airflow 3.3.2 like this checkout.
COMMIT = "fed9f1b4953341448afb37f9bca99679bd996747"
TAG = "v0.1.0"


class Unavailable(RuntimeError):
    """The release's commit is not in this clone (a shallow clone): the test cannot build it."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, check=False)


def folder() -> Path:
    root = Path(os.environ.get("AIRDECK_TEST_VENVS") or REPO / ".tools")
    return root / f"airdeck-{TAG}-{COMMIT[:12]}"


def ensure() -> Path:
    """The release's virtual environment (``bin/python`` inside), built when missing or out of date."""
    from tests.ops.airflow_venv import uv_command  # here: the module also runs as a script (see main)

    if _git("cat-file", "-e", f"{COMMIT}^{{commit}}").returncode != 0:
        raise Unavailable(f"the previous release {TAG} (commit {COMMIT}, recorded in tests/ops/previous_release.py) "
                          f"is not in the history of {REPO}: a shallow clone? Fetch it with "
                          f"`git fetch --unshallow` (or `git fetch origin {COMMIT}`) to run the upgrade test")
    lock = _git("show", f"{COMMIT}:uv.lock")
    if lock.returncode != 0:
        raise RuntimeError(f"commit {COMMIT} has no uv.lock: {lock.stderr.decode(errors='replace').strip()}")
    digest = hashlib.sha256(lock.stdout + f"\n{sys.version_info[:3]}".encode()).hexdigest()
    base = folder()
    src, venv, stamp = base / "src", base / "venv", base / ".airdeck-lock-digest"
    base.parent.mkdir(parents=True, exist_ok=True)
    with open(base.parent / f"{base.name}.lock", "w") as guard:  # one builder at a time; the others wait
        fcntl.flock(guard, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == digest and (venv / "bin" / "python").exists():
            return venv
        shutil.rmtree(base, ignore_errors=True)
        src.mkdir(parents=True)
        archive = _git("archive", "--format=tar", COMMIT)
        if archive.returncode != 0:
            raise RuntimeError(f"git archive {COMMIT} failed: {archive.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(src, filter="data")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
        env["UV_PROJECT_ENVIRONMENT"] = str(venv)
        subprocess.run([*uv_command(), "sync", "--quiet", "--frozen", "--no-dev", "--no-editable", "--python",
                        sys.executable, "--project", str(src)], check=True, env=env)
        stamp.write_text(digest)
    return venv


def main() -> int:
    try:
        print(ensure())
    except Unavailable as error:
        if in_ci():
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"skipping the upgrade test's previous release: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
