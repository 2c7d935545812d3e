"""Upgrades of a platform: from the previous airdeck release, and to the pinned Airflow from an older one.

Two paths, each booting an old platform, giving it history and handing it to this checkout's airdeck:

* from the previous release (``v0.1.0``, recorded in previous_release.py): that release's airdeck in its
  own environment, installed from its own lock file, creates the platform; this airdeck's
  `airdeck upgrade` finds the same Airflow and schema and says so without touching anything, and its
  `airdeck up` takes the state folder over: runs, a connection, a variable and a user survive, the record
  names this checkout's pinned Airflow and the schema head, and new runs succeed;
* from Airflow 3.2.2 (airflow_venv.py: this checkout's airdeck on Airflow 3.2.2, every other package as
  locked): `airdeck upgrade` migrates the schema, takes a backup and runs the canary; it is the only path
  that exercises the migration, since every airdeck release so far pins Airflow 3.3.2.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from airdeck.stack import schema

from tests.harness import AIRDECK, REPO, Stack, new_home, remove_home, write_config
from tests.ops import airflow_venv, previous_release

pytestmark = [pytest.mark.stack, pytest.mark.timeout(2400)]

OLD = "3.2.2"
PASSPHRASE = "upgrade passphrase"
USER = {"username": "carried-over", "password": "Carried-over-pw-1", "email": "carried@example.com",
        "first_name": "Carried", "last_name": "Over", "roles": [{"name": "Viewer"}]}


def pinned_airflow(pyproject: Path = REPO / "pyproject.toml") -> str:
    """The Airflow version a pyproject.toml pins (``apache-airflow-core[…]==X``)."""
    for dep in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]:
        found = re.fullmatch(r"apache-airflow-core(\[[^\]]*\])?==(\S+)", dep.replace(" ", ""))
        if found:
            return found.group(2)
    raise AssertionError(f"{pyproject} pins no apache-airflow-core version")


def _history(stack: Stack, run_id: str) -> list[tuple[str, int, str]]:
    return sorted((t["task_id"], t["map_index"], t["state"]) for t in stack.task_instances("example_fanout", run_id))


def _record(stack: Stack) -> dict[str, object]:
    return json.loads((stack.home / "platform.json").read_text())


def _runner(python: list[str], env: dict[str, str], cwd: Path,
            timeout: float) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*python, *args], env=env, capture_output=True, text=True, timeout=timeout,
                              check=False, cwd=cwd)
    return run


def _release_venv() -> Path:
    try:
        return previous_release.ensure()
    except previous_release.Unavailable as error:
        if previous_release.in_ci():
            pytest.fail(str(error))
        pytest.skip(str(error))


def _as_the_release_reads_it(config: str) -> str:
    """The test configuration without the keys v0.1.0 did not know (its model refuses unknown keys):
    ``workers.run_as_root_reason`` came later; the release ran its workers as root with a warning instead."""
    settings = yaml.safe_load(config)
    settings.get("workers", {}).pop("run_as_root_reason", None)
    return yaml.safe_dump(settings)


def test_upgrade_from_the_previous_release_keeps_the_state(tmp_path) -> None:
    venv = _release_venv()
    stack = Stack(new_home(), write_config(tmp_path))
    current = stack.config.read_text()
    stack.config.write_text(_as_the_release_reads_it(current))
    env = {**stack.env(), "AIRDECK_BACKUP_PASSPHRASE": PASSPHRASE}
    env.pop("PYTHONPATH", None)  # the release's services import the release's airdeck, nothing of this checkout
    old = _runner([str(venv / "bin" / "python"), "-m", "airdeck.cli.main"], env, venv.parent, 1200)
    new = _runner(AIRDECK, env, REPO, 1800)
    expected = pinned_airflow()
    try:
        started = old("up", "--detach")
        assert started.returncode == 0, started.stdout + started.stderr
        assert _record(stack)["airflow_version"] == pinned_airflow(venv.parent / "src" / "pyproject.toml")
        run_id = stack.trigger("example_fanout", conf={"n": 5})
        assert stack.wait_for_run("example_fanout", run_id) == "success"
        before = _history(stack, run_id)
        stack.api("POST", "/connections", json={"connection_id": "carried_db", "conn_type": "postgres",
                                                 "host": "db.example", "login": "etl",
                                                 "password": "carried-secret"}).raise_for_status()
        stack.api("POST", "/variables", json={"key": "carried_var", "value": "carried value"}).raise_for_status()
        created = httpx.post(f"{stack.base_url}/auth/fab/v1/users", json=USER, timeout=60,
                             headers={"Authorization": f"Bearer {stack.token()}"})
        assert created.status_code == 200, created.text
        stopped = old("down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        stack._token = None
        recorded = (stack.home / "platform.json").read_text()

        # This checkout's configuration (keys the release did not have yet), as a user would edit it.
        stack.config.write_text(current)
        # The same Airflow and schema: `airdeck upgrade` has nothing to migrate and changes nothing.
        same = new("upgrade", "--backup-to", str(stack.home.parent / "not-taken.airdeck-backup"))
        assert same.returncode == 1 and "nothing to upgrade" in " ".join(same.stderr.split()), same.stderr
        assert (stack.home / "platform.json").read_text() == recorded
        assert not (stack.home.parent / "not-taken.airdeck-backup").exists()

        up = new("up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        after = _record(stack)
        assert after["airflow_version"] == expected and after["schema_revision"] == schema.head()
        assert _history(stack, run_id) == before
        conn = stack.api("GET", "/connections/carried_db").json()
        assert (conn["host"], conn["login"]) == ("db.example", "etl")
        assert stack.api("GET", "/variables/carried_var").json()["value"] == "carried value"
        fernet = new("fernet", "status", "--json")
        assert fernet.returncode == 0, fernet.stdout + fernet.stderr
        keys = json.loads(fernet.stdout)
        assert keys["encrypted_values"] >= 2 and keys["undecryptable"] == [], keys  # the password, the variable
        assert stack.token(str(USER["username"]), str(USER["password"]))
        second = stack.trigger("example_fanout", conf={"n": 3})
        assert stack.wait_for_run("example_fanout", second) == "success"
    finally:
        new("down")
        old("down")
        remove_home(stack.home)


def test_upgrade_from_airflow_3_2_migrates_and_runs_the_canary(tmp_path) -> None:
    venv = airflow_venv.ensure(OLD)
    stack = Stack(new_home(), write_config(tmp_path))
    env = {**stack.env(), "AIRDECK_BACKUP_PASSPHRASE": PASSPHRASE}
    old = _runner([str(venv / "bin" / "python"), "-m", "airdeck.cli.main"], env, REPO, 1200)
    new = _runner(AIRDECK, env, REPO, 1800)
    expected = pinned_airflow()
    try:
        started = old("up", "--detach")
        assert started.returncode == 0, started.stdout + started.stderr
        recorded = _record(stack)
        assert recorded["airflow_version"] == OLD and recorded["schema_revision"] != schema.head()
        run_id = stack.trigger("example_fanout", conf={"n": 5})
        assert stack.wait_for_run("example_fanout", run_id) == "success"
        before = _history(stack, run_id)
        stack._token = None

        refused = new("up", "--detach")  # the new airdeck does not migrate on its own
        assert refused.returncode != 0
        assert "airdeck upgrade" in " ".join(refused.stderr.split())

        upgraded = new("upgrade", "--backup-to", str(stack.home.parent / "before-upgrade.airdeck-backup"))
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        text = " ".join(upgraded.stderr.split())
        assert f"upgraded Airflow {OLD} → {expected}" in text, text
        assert "canary run of example_fanout: success" in text
        assert "to roll back" in text and "airdeck restore" in text
        assert (stack.home.parent / "before-upgrade.airdeck-backup").exists()
        recorded = _record(stack)
        assert recorded["airflow_version"] == expected and recorded["schema_revision"] == schema.head()
        assert recorded["history"][-1]["event"] == f"upgraded from Airflow {OLD}"  # type: ignore[index]
        assert _history(stack, run_id) == before
        again = new("upgrade")
        assert again.returncode == 1 and "nothing to upgrade" in again.stderr
    finally:
        new("down")
        old("down")
        remove_home(stack.home)
