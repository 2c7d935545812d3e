"""Foreground mode stops on Ctrl-C; a crashed run (supervisord killed) is detected and cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.harness import AIRDECK, REPO, Stack, alive, new_home, remove_home, stack_pids, write_config

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1200)]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(new_home(), write_config(tmp_path))
    try:
        yield s
    finally:
        s.airdeck("down", check=False, timeout=300)
        remove_home(s.home)


def _wait_healthy(stack: Stack, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = stack.status()
        if status["services"] and all(s["health"] == "healthy" for s in status["services"]):
            return status
        time.sleep(3)
    raise AssertionError(f"not healthy within {timeout}s: {status}")


def test_foreground_up_stops_everything_on_ctrl_c(stack: Stack) -> None:
    log = (stack.home.parent / "foreground.log").open("w")
    proc = subprocess.Popen([*AIRDECK, "up"], env=stack.env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(stack)
        deadline = time.monotonic() + 120  # `up` has finished starting when it says how to stop it
        while "press Ctrl-C to stop" not in (stack.home.parent / "foreground.log").read_text():
            assert time.monotonic() < deadline and proc.poll() is None, "foreground up never finished starting"
            time.sleep(0.5)
        pids = stack_pids(stack.home)
        assert proc.poll() is None, "foreground mode keeps running while the platform runs"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert alive(pids) == set()
    assert list((stack.home / "run").glob("*.pid")) == []
    assert "airdeck is stopped" in (stack.home.parent / "foreground.log").read_text()


def test_crashed_run_is_cleaned_up_by_the_next_up(stack: Stack) -> None:
    stack.airdeck("up", "--detach")
    supervisord = int((stack.home / "run" / "supervisord.pid").read_text())
    orphans = stack_pids(stack.home) - {supervisord}
    assert len(orphans) > 10, "services, gunicorn workers, Celery pool processes, ..."
    os.kill(supervisord, signal.SIGKILL)  # the supervisor crashes; its services keep running
    deadline = time.monotonic() + 30
    while psutil.pid_exists(supervisord) and psutil.Process(supervisord).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert stack.status()["services"][0]["state"] == "STOPPED"
    result = stack.airdeck("up", "--detach")
    assert "cleaned up" in result.stderr and "left by an earlier run" in result.stderr
    assert alive(orphans) == set(), "the crashed run's processes, children included, were all stopped"
    _wait_healthy(stack, timeout=60)


def test_service_that_never_becomes_healthy_shows_its_log_and_stops_everything(tmp_path: Path) -> None:
    config = write_config(tmp_path, {
        "airflow": {"extra_config": {"core": {"executor": "no_such_module.NoSuchExecutor"}}},
        "supervision": {"start_retries": 1, "start_timeout": 180},
    })
    s = Stack(new_home(), config)
    try:
        result = s.airdeck("up", "--detach", check=False)
        assert result.returncode != 0
        assert "service scheduler" in result.stderr, result.stderr
        assert "Last lines of" in result.stderr and "airdeck logs scheduler" in result.stderr
        assert "no_such_module" in result.stderr, "the log tail shows the cause"
        assert "stopping what was started" in result.stderr
        assert stack_pids(s.home) == set(), "a failed start leaves nothing running"
    finally:
        s.airdeck("down", check=False, timeout=300)
        remove_home(s.home)


def test_api_server_on_another_address_is_checked_and_reached_there(tmp_path: Path) -> None:
    """``api_server.host`` other than 127.0.0.1 (127.0.0.2: another address of this machine, on loopback
    because tests send traffic nowhere else): every health check and every component reaches it there.
    The api-server does not listen on 127.0.0.1 at all, so any check or URL still built for 127.0.0.1
    would keep the platform from becoming healthy."""
    import httpx
    import yaml

    config = write_config(tmp_path, {"api_server": {"host": "127.0.0.2"}})
    s = Stack(new_home(), config)
    try:
        result = s.airdeck("up", "--detach", check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        status = s.status()
        assert {svc["name"]: svc["health"] for svc in status["services"]} == {
            svc["name"]: "healthy" for svc in status["services"]}
        port = yaml.safe_load(config.read_text())["api_server"]["port"]
        assert next(svc for svc in status["services"] if svc["name"] == "api-server")["url"] == \
            f"http://127.0.0.2:{port}"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5)
        health = httpx.get(f"http://127.0.0.2:{port}/api/v2/monitor/health", timeout=10).json()
        assert health["scheduler"]["status"] == health["triggerer"]["status"] == "healthy"
    finally:
        s.airdeck("down", check=False, timeout=300)
        remove_home(s.home)
