"""The session and process-group records of airdeck.stack.sessions, on real processes: an orphan in a
group of its own (as Airflow's task runners are) is found by its session after its parent died, a
recorded session finds every member, and a number reused by another process is not trusted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from airdeck.stack import sessions

# A session leader (like a daemonized supervisord) with a child (a worker's pool process) whose own
# child (a task runner) sits in a process group of its own.
TREE = r"""
import os, time
child = os.fork()
if child == 0:
    runner = os.fork()
    if runner == 0:
        os.setpgid(0, 0)
        time.sleep(300)
        os._exit(0)
    os.setpgid(runner, runner)  # from both sides, as Airflow's supervisor does
    os.write(1, f"runner {runner}\n".encode())
    time.sleep(300)
    os._exit(0)
os.write(1, f"child {child}\n".encode())
time.sleep(300)
"""


@pytest.fixture
def tree() -> Iterator[dict[str, int]]:
    leader = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    assert leader.stdout is not None
    pids = {"leader": leader.pid}
    try:
        for _ in range(2):
            line = leader.stdout.readline()
            kind, _, pid = line.partition(" ")
            assert kind in ("child", "runner") and pid.strip().isdigit(), repr(line)
            pids[kind] = int(pid)
        yield pids
    finally:
        leader.stdout.close()
        for pid in pids.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        leader.wait(timeout=10)


def _wait_orphaned(pid: int) -> None:
    deadline = time.monotonic() + 10
    while psutil.Process(pid).ppid() != 1 and os.getsid(psutil.Process(pid).ppid()) == os.getsid(pid):
        assert time.monotonic() < deadline, "the runner was not re-parented"
        time.sleep(0.05)


def test_an_orphan_in_a_group_of_its_own_is_found_by_its_session(tree: dict[str, int]) -> None:
    session = tree["leader"]
    assert os.getsid(tree["runner"]) == session and os.getpgid(tree["runner"]) == tree["runner"]
    assert sessions.orphans(session) == []  # every member has its parent in the session
    os.kill(tree["child"], signal.SIGKILL)
    _wait_orphaned(tree["runner"])
    assert [p.pid for p in sessions.orphans(session)] == [tree["runner"]]
    assert sessions.end(sessions.orphans(session), grace=5) == []
    assert not psutil.pid_exists(tree["runner"]) or psutil.Process(tree["runner"]).status() == psutil.STATUS_ZOMBIE


def test_a_recorded_session_finds_every_member_and_is_forgotten(tree: dict[str, int], tmp_path: Path) -> None:
    sessions.record(tmp_path, tree["child"], "worker-1")
    sessions.record(tmp_path, tree["child"], "worker-1")  # once per session and group
    entries = sessions.recorded(tmp_path)
    assert {(e["kind"], e["id"]) for e in entries} == {("session", tree["leader"]), ("group", tree["leader"])}
    assert len(entries) == 2 and (tmp_path / sessions.FILE).stat().st_mode & 0o077 == 0
    os.kill(tree["child"], signal.SIGKILL)
    _wait_orphaned(tree["runner"])
    found = {p.pid for p in sessions.members(tmp_path)}
    assert {tree["leader"], tree["runner"]} <= found and os.getpid() not in found
    sessions.forget(tmp_path)
    assert sessions.members(tmp_path) == []


def test_a_number_reused_by_another_process_is_not_trusted(tmp_path: Path) -> None:
    mine = os.getsid(0)  # a live leader, started long after this record says its leader was
    (tmp_path / sessions.FILE).write_text(
        json.dumps({"kind": "session", "id": mine, "leader_started": 1.0, "service": "supervisord"}) + "\n"
        + "not json\n")
    assert sessions.members(tmp_path) == []
