"""A worker killed with -9 while a task runs: nothing it started outlives it, nor `airdeck down`.

Airflow's task supervisor puts each task runner (``airflow worker -- <ti id>``) in a process group of
its own and setproctitle overwrites the environment marker, so neither the worker's group nor the marker
finds the runner once its parents are gone. One platform (one worker) serves both tests; each starts a
sleeping task, kills the worker with SIGKILL and checks, by /proc, that the runner is gone: after the
restart (the event listener's sweep), and after `airdeck down` (every session and group recorded).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from tests.harness import Stack, new_home, remove_home, write_config

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = write_config(tmp_path_factory.mktemp("orphans"), {"workers": {"replicas": 1, "concurrency": 2}})
    s = Stack(new_home(), config)
    result = s.airdeck("up", "--detach", check=False)
    try:
        assert result.returncode == 0, f"airdeck up failed:\n{result.stdout}\n{result.stderr}"
        yield s
    finally:
        s.airdeck("down", check=False, timeout=300)
        remove_home(s.home)


def _service(stack: Stack, name: str) -> dict[str, Any]:
    return next(s for s in stack.status()["services"] if s["name"] == name)


def _healthy_worker(stack: Stack, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    svc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        svc = _service(stack, "worker-1")
        if svc["state"] == "RUNNING" and svc["health"] == "healthy":
            return svc
        time.sleep(2)
    raise AssertionError(f"worker-1 not healthy within {timeout}s: {svc}")


def _with_marker(marker: str) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and marker in " ".join(proc.info["cmdline"] or []):
                out.append(proc)
        except psutil.Error:
            continue
    return out


def _sleeping_task(stack: Stack, timeout: float = 300) -> tuple[str, psutil.Process]:
    """A run of example_slow whose task sleeps for 15 minutes: its task runner's marker and process."""
    run_id = stack.trigger("example_slow", {"seconds": 900})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [ti for ti in stack.task_instances("example_slow", run_id) if ti["state"] == "running"]
        if running:
            marker = f"airflow worker -- {running[0]['id']}"
            procs = _with_marker(marker)
            if procs:
                return marker, procs[0]
        time.sleep(1)
    raise AssertionError(f"the task of {run_id} never ran within {timeout}s")


def _gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    alive = procs
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(1)
    return alive


def test_the_task_runner_of_a_killed_worker_is_ended_with_it(stack: Stack) -> None:
    worker = _healthy_worker(stack)
    marker, runner = _sleeping_task(stack)
    assert os.getpgid(runner.pid) != worker["pid"], "the runner is in a process group of its own"
    os.kill(worker["pid"], signal.SIGKILL)
    left = _gone([runner], timeout=60)
    assert not left, f"{marker} (pid {runner.pid}) still runs 60 s after its worker was killed"
    assert _healthy_worker(stack)["pid"] != worker["pid"]  # supervisord restarted it


def test_down_after_a_kill_9_leaves_no_process_of_the_platform(stack: Stack) -> None:
    worker = _healthy_worker(stack)
    marker, runner = _sleeping_task(stack)
    supervisord = int((stack.home / "run" / "supervisord.pid").read_text())
    sessions = {os.getsid(supervisord)}
    groups = {os.getpgid(runner.pid), worker["pid"]}
    record = stack.home / "run" / "process-groups.jsonl"
    if record.exists():  # what airdeck recorded: every session and group a component had
        for entry in map(json.loads, record.read_text().splitlines()):
            (sessions if entry["kind"] == "session" else groups).add(entry["id"])
    os.kill(worker["pid"], signal.SIGKILL)
    result = stack.airdeck("down", timeout=300)
    assert result.returncode == 0, result.stderr
    left = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if os.getsid(proc.pid) in sessions or os.getpgid(proc.pid) in groups \
                    or marker in " ".join(proc.info["cmdline"] or []):
                left.append((proc.pid, " ".join(proc.info["cmdline"] or [])[:120]))
        except (psutil.Error, OSError):
            continue
    assert not left, f"processes of the platform still run after `airdeck down`: {left}"
    assert not record.exists(), "the records are dropped once nothing is left in them"
