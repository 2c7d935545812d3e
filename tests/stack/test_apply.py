"""A configuration change applied to a running platform: only what changed restarts, a broken change is
rolled back, the platform stays up (one stack for the module; the tests run in order). TLS enabled on a
running platform and `airdeck restart`: tests/docs/test_docs.py."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.harness import Stack, deep_merge, free_port, new_home, remove_home, write_config

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

#: Measured change → healthy times, printed at the end of the module (the issue asks for the figure).
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("apply")
    config = write_config(folder, {
        "workers": {"concurrency": 4},
        "supervision": {"start_retries": 1, "start_timeout": "90s"},
        "alerts": {"channels": {"slack_a": {"type": "slack", "connection": "slack_a"}}},
    })
    s = Stack(new_home(), config)
    try:
        s.airdeck("up", "--detach")
        yield s
    finally:
        s.airdeck("down", check=False, timeout=300)
        remove_home(s.home)
        for what, seconds in TIMINGS.items():
            print(f"change → healthy: {what}: {seconds:.1f}s")


def change(stack: Stack, extra: dict[str, Any]) -> None:
    stack.settings = deep_merge(stack.settings, extra)
    stack.config.write_text(yaml.safe_dump(stack.settings), encoding="utf-8")


def pids(stack: Stack) -> dict[str, int]:
    status = stack.status()
    assert all(s["health"] == "healthy" for s in status["services"]), status
    return {s["name"]: s["pid"] for s in status["services"]}


def restarted(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {name for name, pid in after.items() if before.get(name) != pid}


def timed_up(stack: Stack, what: str, *args: str, check: bool = True) -> Any:
    started = time.monotonic()
    result = stack.airdeck("up", "--detach", *args, check=check)
    TIMINGS[what] = time.monotonic() - started
    return result


def test_up_again_with_the_same_configuration_restarts_nothing(stack: Stack) -> None:
    before = pids(stack)
    result = stack.airdeck("up", "--detach")
    assert "already matches the configuration; nothing to restart" in result.stderr
    # in the foreground too: it returns and leaves running what it did not start
    foreground = stack.airdeck("up", timeout=120)
    assert "was already running and keeps running" in " ".join((foreground.stdout + foreground.stderr).split())
    assert restarted(before, pids(stack)) == set()


def test_dry_run_names_the_change_and_changes_nothing(stack: Stack) -> None:
    before = pids(stack)
    worker_cfg = stack.home / "services" / "worker-1" / "airflow.cfg"
    written = worker_cfg.read_text()
    change(stack, {"workers": {"concurrency": 6}})
    result = stack.airdeck("up", "--dry-run", "--json")
    rows = {row["service"]: row for row in json.loads(result.stdout)["changes"]}
    assert rows["worker-1"]["action"] == "restart"
    assert "[celery] worker_concurrency: 4 → 6" in rows["worker-1"]["why"]
    # the pool grows to the new concurrency too (workers.idle_processes keeps its 1)
    assert "[celery] worker_autoscale: 4,1 → 6,1" in rows["worker-1"]["why"]
    assert set(rows["worker-1"]["why"]) <= {"[celery] worker_concurrency: 4 → 6",
                                            "[celery] worker_autoscale: 4,1 → 6,1", "command", "files"}
    assert {n for n, row in rows.items() if row["action"] != "keep"} == {"worker-1"}
    assert worker_cfg.read_text() == written, "a dry run writes nothing"
    assert restarted(before, pids(stack)) == set()


def test_worker_concurrency_change_restarts_only_the_worker(stack: Stack) -> None:
    before = pids(stack)
    result = timed_up(stack, "workers.concurrency 4 → 6 (worker-1 restarted)")
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert "restart worker-1:" in said and "[celery] worker_concurrency: 4 → 6" in said
    assert restarted(before, pids(stack)) == {"worker-1"}
    assert "worker_concurrency = 6" in (stack.home / "services" / "worker-1" / "airflow.cfg").read_text()


def test_new_alert_channel_restarts_only_the_dispatcher(stack: Stack) -> None:
    before = pids(stack)
    change(stack, {"alerts": {"channels": {"slack_b": {"type": "slack", "connection": "slack_b"}}}})
    timed_up(stack, "a second alert channel (alert-dispatcher restarted)")
    assert restarted(before, pids(stack)) == {"alert-dispatcher"}
    settings = json.loads((stack.home / "services" / "alert-dispatcher" / "dispatcher.json").read_text())
    assert set(settings["alerts"]["channels"]) == {"slack_a", "slack_b"}


def test_broken_change_is_rolled_back_and_the_rest_keeps_running(stack: Stack) -> None:
    before = pids(stack)
    old_port = stack.settings["observability"]["bridge"]["metrics_port"]
    with socket.socket() as squatter:  # another program holds the port the new configuration names
        squatter.bind(("127.0.0.1", free_port()))
        squatter.listen()
        taken = squatter.getsockname()[1]
        change(stack, {"observability": {"bridge": {"metrics_port": taken}}})
        result = timed_up(stack, "a broken change, rolled back (metrics-bridge)", check=False)
        assert result.returncode == 1, result.stderr
        message = " ".join(result.stderr.split())
        assert "service metrics-bridge exited repeatedly" in message
        assert "metrics-bridge was put back on its previous configuration and is healthy again" in message
        assert "Everything else keeps running" in message
        after = pids(stack)
    assert restarted(before, after) == {"metrics-bridge"}
    assert httpx.get(f"http://127.0.0.1:{old_port}/metrics", timeout=10).status_code == 200
    # The record still says the bridge runs the old port: the broken change is pending, not applied.
    dry = json.loads(stack.airdeck("up", "--dry-run", "--json").stdout)
    assert {r["service"] for r in dry["changes"] if r["action"] == "restart"} == {"metrics-bridge"}
    change(stack, {"observability": {"bridge": {"metrics_port": old_port}}})
    dry = json.loads(stack.airdeck("up", "--dry-run", "--json").stdout)
    assert all(r["action"] == "keep" for r in dry["changes"]), dry


def test_restart_of_an_unknown_service_changes_nothing(stack: Stack) -> None:
    before = pids(stack)
    bad = stack.airdeck("restart", "no-such-service", check=False)
    assert bad.returncode == 2 and "unknown service 'no-such-service'" in bad.stderr
    assert restarted(before, pids(stack)) == set()


# `airdeck restart SERVICE` and TLS enabled on the running platform are run from the docs' own text,
# with the same checks, by tests/docs/test_docs.py (one boot fewer).


def test_the_record_of_the_running_plan_holds_no_secret(stack: Stack) -> None:
    assert (stack.home / "run" / "applied.json").exists()
    record = (stack.home / "run" / "applied.json").read_text()
    secrets = [p.read_text().strip() for p in (stack.home / "secrets").iterdir() if p.is_file()]
    assert all(value not in record for value in secrets if len(value) >= 8), "no secret in the record"
    assert oct((stack.home / "run" / "applied.json").stat().st_mode & 0o777) == "0o600"
