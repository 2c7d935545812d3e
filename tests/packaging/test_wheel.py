"""The slow packaging test: build airdeck with `uv build`, install the wheel into a fresh virtual
environment from the lock file, and run it from a folder outside the repository.

It proves that an installed wheel finds its own files (the StatsD mapping, the Prometheus rules, the
dashboards, the roles, the example DAGs) inside site-packages, and then that an editable install of the
same checkout finds the repository's sources. About a minute with a warm uv cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(900)]

#: Run inside the installed environment: where each shipped file is found by the code that uses it.
PROBE = r"""
import json, sys
import airdeck
from airdeck.auth.roles import DEFAULT_FILE, load_roles
from airdeck.config.model import AirdeckConfig
from airdeck.config.observability import mapping_file
from airdeck.metrics.wiring import render_prometheus_config
from airdeck.resources import data_path, example_dags_folder

cfg = AirdeckConfig()
rule_files = render_prometheus_config(cfg)["rule_files"]
print(json.dumps({
    "package": airdeck.__file__,
    "mapping": str(mapping_file(cfg.observability)),
    "rule_files": rule_files,
    "rules": sorted(str(p) for p in data_path("prometheus/rules").glob("*.yml")),
    "dashboards": sorted(str(p) for p in data_path("grafana/dashboards").glob("*.json")),
    "provisioning": str(data_path("grafana/provisioning/dashboards/airdeck.yml")),
    "roles": str(DEFAULT_FILE),
    "roles_count": len(load_roles(DEFAULT_FILE)),
    "example_dags": str(example_dags_folder()),
}))
"""


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    for python in ("python3", sys.executable):
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    pytest.skip("uv is not installed (scripts/test installs it; or: python3 -m pip install uv)")


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def _clean_env(tmp: Path) -> dict[str, str]:
    """The environment of a person outside the checkout: nothing that points Python at the repository."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "UV_PROJECT", "AIRDECK_", "PYTEST"))}
    env["AIRDECK_HOME"] = str(tmp / "home")
    return env


def _inside(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def _check_found_in(found: dict, folder: Path) -> None:
    for key in ("package", "mapping", "provisioning", "roles", "example_dags"):
        assert _inside(found[key], folder), f"{key} found at {found[key]}, not inside {folder}"
    for key in ("rule_files", "rules", "dashboards"):
        assert found[key], f"no {key} found"
        for path in found[key]:
            assert _inside(path, folder), f"{key}: {path} is not inside {folder}"
    assert {Path(p).name for p in found["rules"]} >= {"alerts.yml", "recording.yml"}
    assert found["roles_count"] > 0


def test_the_wheel_installs_and_runs_outside_the_repository_with_its_files(tmp_path: Path) -> None:
    uv = _uv()
    env = _clean_env(tmp_path)
    dist = tmp_path / "dist"
    # Source distribution first, then the wheel built from it: the path a package index would take.
    _run([*uv, "build", "--out-dir", str(dist)], cwd=REPO, env=env)
    wheels = sorted(dist.glob("airdeck-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {dist}: {wheels}"
    with zipfile.ZipFile(wheels[0]) as archive:
        names = set(archive.namelist())
    assert "airdeck/data/prometheus/statsd-mapping.yml" in names
    assert "airdeck/data/security/roles.yaml" in names

    requirements = tmp_path / "requirements.txt"
    _run([*uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet",
          "--output-file", str(requirements)], cwd=REPO, env=env)
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    _run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path, env=env)
    _run([*uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements), str(wheels[0])],
         cwd=tmp_path, env=env, timeout=900)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    airdeck = str(venv / "bin" / "airdeck")
    validate = _run([airdeck, "config", "validate"], cwd=outside, env=env)
    assert validate.stdout.startswith("ok:"), validate.stdout
    render = _run([airdeck, "config", "render", "--service", "scheduler"], cwd=outside, env=env)
    assert "[core]" in render.stdout and "[metrics]" in render.stdout

    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              cwd=outside, env=env).stdout.strip())
    found = json.loads(_run([str(python), "-c", PROBE], cwd=outside, env=env).stdout)
    _check_found_in(found, site_packages)
    assert not any(_inside(str(v), REPO) for v in (found["mapping"], found["roles"], found["package"]))

    # The same checkout installed editable (what `uv sync` does) finds the repository's own sources.
    _run([*uv, "pip", "install", "--quiet", "--no-deps", "--python", str(python), "--editable", str(REPO)],
         cwd=tmp_path, env=env)
    found = json.loads(_run([str(python), "-c", PROBE], cwd=outside, env=env).stdout)
    _check_found_in(found, REPO)
    assert Path(found["mapping"]) == (REPO / "prometheus" / "statsd-mapping.yml").resolve()
    assert Path(found["roles"]) == (REPO / "security" / "roles.yaml").resolve()
