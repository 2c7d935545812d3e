"""External database and broker: an unreachable one is named (password masked) and nothing starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.harness import free_port, free_ports, stack_pids


def _up(tmp_path: Path, config: dict) -> subprocess.CompletedProcess[str]:
    (tmp_path / "airdeck.yaml").write_text(yaml.safe_dump(config))
    env = {"PATH": "/usr/bin:/bin", "AIRDECK_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "airdeck.cli.main", "up", "--detach"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def _ports() -> dict:
    api, health, trigger_logs = free_ports(3)
    logs = free_port(span=2)  # the worker's log port and the next one (workers count up from it)
    return {"api_server": {"port": api}, "scheduler": {"health_check_port": health},
            "workers": {"log_server_port": logs}, "triggerer": {"log_server_port": trigger_logs}}


def _nothing_running(home: Path) -> bool:
    return not stack_pids(home) and not (home / "run" / "supervisord.pid").exists()


def test_unreachable_database_is_named_with_password_masked(tmp_path: Path) -> None:
    port = free_port()
    config = {**_ports(), "database": {"url": f"postgresql://airflow:s3cr3t-pw@127.0.0.1:{port}/airflow"}}
    result = _up(tmp_path, config)
    assert result.returncode != 0
    assert f"postgresql://airflow:***@127.0.0.1:{port}/airflow" in result.stderr
    assert "database.url" in result.stderr and "s3cr3t-pw" not in result.stderr + result.stdout
    assert _nothing_running(tmp_path / "home")


def test_unreachable_broker_is_named_with_password_masked(tmp_path: Path) -> None:
    port = free_port()
    pg = free_port()
    config = {**_ports(), "database": {"embedded": {"port": pg}},
              "broker": {"url": f"redis://:br0ker-pw@127.0.0.1:{port}/0"}}
    result = _up(tmp_path, config)
    assert result.returncode != 0
    assert f"redis://:***@127.0.0.1:{port}/0" in result.stderr and "broker.url" in result.stderr
    assert "br0ker-pw" not in result.stderr + result.stdout
    assert _nothing_running(tmp_path / "home")


def test_unresolvable_database_host(tmp_path: Path) -> None:
    config = {**_ports(), "database": {"url": "postgresql://u:pw@no-such-host.invalid:5432/db"}}
    result = _up(tmp_path, config)
    assert result.returncode != 0
    assert "no-such-host.invalid" in result.stderr and "pw@" not in result.stderr
