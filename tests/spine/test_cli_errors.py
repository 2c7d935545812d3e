"""Commands given a state folder they cannot use, or a platform that is not running, say so plainly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import airdeck
import yaml
from airdeck.state.secrets import SecretStore

from tests.harness import free_port

#: The package under test, for the child process (not whichever copy the environment installed).
PLATFORM = Path(airdeck.__file__).resolve().parents[1]


def _airdeck(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PLATFORM), "AIRDECK_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "airdeck.cli.main", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def test_unusable_state_folder_is_named_without_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    result = _airdeck(tmp_path, "--home", str(blocker / "home"), "up", "--detach")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(blocker) in result.stderr and "AIRDECK_HOME" in result.stderr


def test_alerts_list_with_the_platform_down_names_the_database(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "airdeck.yaml").write_text(yaml.safe_dump({"database": {"embedded": {"port": port}}}))
    password = SecretStore(tmp_path / "home" / "secrets").get("database_password")  # as an earlier `up` left it
    result = _airdeck(tmp_path, "alerts", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert f"airflow:***@127.0.0.1:{port}/airflow" in result.stderr and "airdeck status" in result.stderr
    assert password not in result.stderr


def test_alerts_list_before_the_first_up_says_so(tmp_path: Path) -> None:
    result = _airdeck(tmp_path, "alerts", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ") and "database_password" in result.stderr
    assert not (tmp_path / "home" / "secrets" / "database_password").exists(), "listing must generate nothing"
