"""The whole platform on real servers: boot, run the example DAGs, survive kill -9, stop cleanly.

One stack (embedded PostgreSQL and Valkey, api-server, scheduler, dag-processor, triggerer, two
Celery workers) serves every test in this module; the last test stops it and checks nothing is left.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.harness import Stack, alive, new_home, remove_home, stack_pids, write_config

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

AIRFLOW_KINDS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker-1")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    config = write_config(folder, {
        "workers": {"replicas": 2, "concurrency": 8},
        # A task whose worker died is retried after 60 s instead of 300 s.
        "airflow": {"extra_config": {"scheduler": {"task_instance_heartbeat_timeout": 60}}},
    })
    s = Stack(new_home(), config)
    result = s.airdeck("up", "--detach", check=False)
    try:
        assert result.returncode == 0, f"airdeck up failed:\n{result.stdout}\n{result.stderr}"
        yield s
    finally:
        s.airdeck("down", check=False, timeout=300)
        remove_home(s.home)


def _services(stack: Stack) -> dict[str, dict]:
    return {svc["name"]: svc for svc in stack.status()["services"]}


def test_up_prints_the_admin_password_once_and_status_table(stack: Stack) -> None:
    creds = stack.credentials()
    assert creds["username"] == "admin" and len(creds["password"]) >= 16
    again = stack.airdeck("up", "--detach")  # idempotent: everything already healthy
    assert creds["password"] not in again.stdout + again.stderr, "the password is shown only when created"
    assert "api-server" in again.stdout and "healthy" in again.stdout


def test_status_json_reports_every_service_healthy(stack: Stack) -> None:
    services = _services(stack)
    assert {"postgres", "valkey", "api-server", "scheduler", "dag-processor", "triggerer",
            "worker-1", "worker-2"} <= set(services)
    for name, svc in services.items():
        assert svc["state"] == "RUNNING", (name, svc)
        assert svc["health"] == "healthy", (name, svc)
        assert isinstance(svc["pid"], int) and psutil.pid_exists(svc["pid"])
    assert services["api-server"]["url"] == stack.base_url
    health = httpx.get(f"{stack.base_url}/api/v2/monitor/health", timeout=10).json()
    assert health["scheduler"]["status"] == "healthy"


def test_the_triggerer_log_server_listens_on_its_own_key(stack: Stack) -> None:
    """triggerer.log_server_port moves it (it was fixed at 8794, worker 2's port); it wants a token."""
    port = stack.settings["triggerer"]["log_server_port"]
    triggerer = psutil.Process(_services(stack)["triggerer"]["pid"])
    family = {triggerer.pid} | {child.pid for child in triggerer.children(recursive=True)}
    listeners = {c.pid for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
    assert listeners and listeners <= family, (port, listeners, family)
    assert httpx.get(f"http://127.0.0.1:{port}/log/x.log", timeout=10).status_code == 403


def test_secrets_never_in_process_listings_and_files_private(stack: Stack) -> None:
    secret_values = [p.read_text().strip() for p in (stack.home / "secrets").iterdir()]
    marker_root = str(stack.home)
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.environ().get("AIRDECK_STACK") != marker_root:
                continue
        except psutil.Error:
            continue
        cmdline = " ".join(proc.info["cmdline"] or [])
        for value in secret_values:
            assert value not in cmdline, f"a secret is visible in the command line of pid {proc.pid}"
    for cfg in (stack.home / "services").glob("*/airflow.cfg"):
        assert stat.S_IMODE(cfg.stat().st_mode) == 0o600, cfg
    for log in (stack.home / "logs").glob("*.log"):
        text = log.read_text(errors="replace")
        for value in secret_values:
            assert value not in text, f"a secret is in {log}"


def test_rest_api_needs_a_token(stack: Stack) -> None:
    assert httpx.get(f"{stack.base_url}/api/v2/dags", timeout=10).status_code == 401
    bad = httpx.post(f"{stack.base_url}/auth/token", json={"username": "admin", "password": "wrong"}, timeout=10)
    assert bad.status_code in (401, 403)
    assert stack.api("GET", "/dags").status_code == 200


def test_example_dags_reach_their_final_states(stack: Stack) -> None:
    runs = {
        "example_etl_daily": (stack.trigger("example_etl_daily"), "success"),
        "example_fanout": (stack.trigger("example_fanout", {"n": 12}), "success"),
        "example_fails_on_purpose": (stack.trigger("example_fails_on_purpose"), "failed"),
        "example_slow": (stack.trigger("example_slow", {"seconds": 2}), "success"),
    }
    for dag_id, (run_id, expected) in runs.items():
        assert stack.wait_for_run(dag_id, run_id) == expected, dag_id
    fanout = stack.task_instances("example_fanout", runs["example_fanout"][0])
    mapped = [ti for ti in fanout if ti["task_id"] == "process.work"]
    assert len(mapped) == 12 and all(ti["state"] == "success" for ti in mapped)
    failed = stack.task_instances("example_fails_on_purpose", runs["example_fails_on_purpose"][0])
    broken = next(ti for ti in failed if ti["task_id"] == "broken_step")
    assert broken["state"] == "failed" and broken["try_number"] == 2  # one retry, then final failure


def _wait_restarted(stack: Stack, name: str, old_pid: int, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    svc: dict = {}
    while time.monotonic() < deadline:
        svc = _services(stack)[name]
        if svc["pid"] not in (None, old_pid) and svc["health"] == "healthy":
            return svc
        time.sleep(2)
    raise AssertionError(f"{name} was not restarted and healthy within {timeout}s: {svc}")


def test_kill_9_of_each_service_kind_loses_nothing(stack: Stack) -> None:
    run_id = stack.trigger("example_fanout", {"n": 60})
    for name in AIRFLOW_KINDS:
        before = _services(stack)[name]
        os.kill(before["pid"], signal.SIGKILL)
        after = _wait_restarted(stack, name, before["pid"])
        assert after["restarts"] >= before["restarts"] + 1, (name, before, after)
    assert stack.wait_for_run("example_fanout", run_id, timeout=900) == "success"
    tis = stack.task_instances("example_fanout", run_id)
    assert len([ti for ti in tis if ti["task_id"] == "process.work"]) == 60
    assert all(ti["state"] == "success" for ti in tis), [ti for ti in tis if ti["state"] != "success"]


def test_port_in_use_names_port_and_owner(stack: Stack, tmp_path: Path) -> None:
    # A second platform configured onto the first one's api-server port must refuse to start.
    other = write_config(tmp_path, {"api_server": {"port": stack.settings["api_server"]["port"]}})
    clash = Stack(new_home(), other)
    result = clash.airdeck("up", "--detach", check=False, timeout=120)
    assert result.returncode != 0
    port = str(stack.settings["api_server"]["port"])
    assert f"port {port} (api_server.port) is already in use by pid" in result.stderr
    assert not (clash.home / "run" / "supervisord.pid").exists()
    remove_home(clash.home)


def test_down_leaves_nothing_running(stack: Stack) -> None:
    pids = stack_pids(stack.home)
    assert {svc["pid"] for svc in _services(stack).values()} <= pids
    result = stack.airdeck("down", timeout=300)
    assert result.returncode == 0
    assert alive(pids) == set(), "every process of the stack, children included, is gone"
    assert stack_pids(stack.home) == set()
    assert list((stack.home / "run").glob("*.pid")) == []
    assert not (stack.home / "run" / "supervisord.sock").exists()
    status = stack.status()
    assert all(svc["state"] == "STOPPED" for svc in status["services"])
