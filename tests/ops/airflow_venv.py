"""A throw-away virtual environment with another Airflow release and airdeck's code, for upgrade tests.

airdeck pins Airflow exactly, so it cannot be installed next to another release as a package with its
dependencies. The environment gets that Airflow release with the providers airdeck uses and airdeck's
other dependencies, each pinned to the version of this checkout's lock file (so that no provider release
can change the test overnight), and airdeck itself as a path entry
(``airdeck.pth`` naming this checkout's ``platform`` folder): the code under test, without its pin.

It is cached under ``.tools/airflow-<version>`` of the repository (or ``$AIRDECK_TEST_VENVS``) and
rebuilt only when missing or when the dependency list changes, so reruns take seconds.

Run ``python tests/ops/airflow_venv.py 3.2.2`` to build it ahead of the tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PROVIDERS = ("fab", "celery", "hashicorp", "slack", "smtp", "standard", "git")


#: Libraries the old Airflow gets in the lock file's versions (those of the environment running this).
#: Left to the resolver, Airflow 3.2.2 gets today's cadwyn and fastapi, with which its Execution API
#: does not build ("TITerminalStatePayload needs a discriminator field").
SAME_AS_LOCK = ("cadwyn", "fastapi", "pydantic", "pydantic-core", "starlette")


def locked() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in SAME_AS_LOCK]


def _exact(requirement: str) -> str:
    """``requirement`` pinned to the version installed here (this checkout's lock file)."""
    parsed = Requirement(requirement)
    extras = f"[{','.join(sorted(parsed.extras))}]" if parsed.extras else ""
    return f"{parsed.name}{extras}=={metadata.version(parsed.name)}"


def requirements(version: str) -> list[str]:
    """Airflow ``version`` with airdeck's providers and every other dependency of airdeck, as locked."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    others = [_exact(dep) for dep in project["dependencies"] if not dep.startswith("apache-airflow")]
    return [f"apache-airflow=={version}", f"apache-airflow-core[gunicorn]=={version}",
            *(_exact(f"apache-airflow-providers-{name}") for name in PROVIDERS), *others]


def uv_command() -> list[str]:
    for candidate in (shutil.which("uv"), str(Path(sys.executable).with_name("uv")),
                      str(Path.home() / ".local" / "bin" / "uv")):
        if candidate and Path(candidate).exists():
            return [candidate]
    for python in ("python3", sys.executable):  # scripts/lib.sh may install it as a module only
        if subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False).returncode == 0:
            return [python, "-m", "uv"]
    raise RuntimeError("uv is needed to build the test environment (pip install uv)")


def ensure(version: str) -> Path:
    """The environment's folder (``bin/python`` inside), built when missing or out of date."""
    root = Path(os.environ.get("AIRDECK_TEST_VENVS") or REPO / ".tools")
    venv = root / f"airflow-{version}"
    wanted = requirements(version)
    constraints = locked()
    digest = hashlib.sha256("\n".join([*wanted, "--", *constraints]).encode()).hexdigest()
    stamp = venv / ".airdeck-requirements"
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    if not (stamp.exists() and stamp.read_text() == digest and (venv / "bin" / "python").exists()):
        shutil.rmtree(venv, ignore_errors=True)
        uv = uv_command()
        subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
        pins = venv / "constraints.txt"
        pins.write_text("\n".join(constraints) + "\n")
        subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                        "--constraint", str(pins), *wanted], check=True)
        stamp.write_text(digest)
    (site / "airdeck.pth").write_text(str(REPO / "platform") + "\n")
    return venv


if __name__ == "__main__":
    print(ensure(sys.argv[1] if len(sys.argv) > 1 else "3.2.2"))
