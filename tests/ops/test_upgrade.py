"""`airdeck upgrade` from Airflow 3.2.2 to the pinned Airflow: history kept, canary run succeeds.

The platform is created and given history by airdeck running on Airflow 3.2.2 (a throw-away
environment, cached under .tools/, see airflow_venv.py); `airdeck upgrade` then runs in this
environment (the pinned Airflow).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.harness import AIRDECK, REPO, Stack, new_home, remove_home, write_config
from tests.ops import airflow_venv

pytestmark = [pytest.mark.stack, pytest.mark.timeout(2400)]

OLD = "3.2.2"
PASSPHRASE = "upgrade passphrase"


def _history(stack: Stack, run_id: str) -> list[tuple[str, int, str]]:
    return sorted((t["task_id"], t["map_index"], t["state"]) for t in stack.task_instances("example_fanout", run_id))


def test_upgrade_keeps_history_and_runs_the_canary(tmp_path) -> None:
    venv = airflow_venv.ensure(OLD)
    stack = Stack(new_home(), write_config(tmp_path))
    env = {**stack.env(), "AIRDECK_BACKUP_PASSPHRASE": PASSPHRASE}

    def old(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin" / "python"), "-m", "airdeck.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=1200, check=False, cwd=REPO)

    def new(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*AIRDECK, *args], env=env, capture_output=True, text=True, timeout=1800, check=False,
                              cwd=REPO)

    try:
        started = old("up", "--detach")
        assert started.returncode == 0, started.stdout + started.stderr
        recorded = json.loads((stack.home / "platform.json").read_text())
        assert recorded["airflow_version"] == OLD
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
        assert f"upgraded Airflow {OLD} →" in text and "canary run of example_fanout: success" in text
        assert "to roll back" in text and "airdeck restore" in text
        assert (stack.home.parent / "before-upgrade.airdeck-backup").exists()
        recorded = json.loads((stack.home / "platform.json").read_text())
        assert recorded["airflow_version"] != OLD and recorded["history"][-1]["event"].startswith("upgraded from")
        after = _history(stack, run_id)
        assert after == before
        again = new("upgrade")
        assert again.returncode == 1 and "nothing to upgrade" in again.stderr
    finally:
        new("down")
        old("down")
        remove_home(stack.home)
