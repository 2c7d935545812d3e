"""The workers' boot module: preloads, and the exit watch that wakes Airflow's task supervisor."""

from __future__ import annotations

import gc
import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def boot() -> Iterator[ModuleType]:
    from airdeck.plan import worker_boot

    gc.unfreeze()  # importing it froze this test process's objects, as it does a worker's
    yield worker_boot


class Supervisor:
    """What Airflow's ``_service_subprocess`` needs of a supervisor: its selector and an exit check."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        self.proc, self.pid, self.selector = proc, proc.pid, selectors.DefaultSelector()

    def _check_subprocess_exit(self, **_: object) -> int | None:
        return self.proc.poll()


def test_a_process_exit_wakes_the_supervisors_select(boot: ModuleType) -> None:
    """With nothing else registered, Airflow's select() would sleep its whole timeout; the exit wakes it."""
    from airflow.sdk.execution_time.supervisor import WatchedSubprocess

    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    supervisor = Supervisor(proc)
    watch = boot.watch_exit(supervisor)
    assert watch is not None
    fd = watch.fileno()
    # still running: the watch is not readable
    assert WatchedSubprocess._service_subprocess(supervisor, max_wait_time=0.01) is None  # type: ignore[arg-type]
    assert len(supervisor.selector.get_map()) == 1
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait()
    # the exit alone makes the selector ready: nothing else is registered that could wake it
    assert [key.fileobj for key, _ in supervisor.selector.select(timeout=0)] == [watch]
    # Airflow's own loop handles the event (handler, on_close, close) and returns the exit code
    assert WatchedSubprocess._service_subprocess(supervisor, max_wait_time=0) == 0  # type: ignore[arg-type]
    assert len(supervisor.selector.get_map()) == 0  # unregistered by its on_close
    with pytest.raises(OSError):
        os.fstat(fd)  # and closed
    watch.close()  # a second close is harmless


def test_a_watch_the_supervisor_never_read_is_closed_with_the_supervisor(boot: ModuleType) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        supervisor = Supervisor(proc)
        watch = boot.watch_exit(supervisor)
        assert watch is not None
        fd = watch.fileno()
        supervisor.selector.close()  # as ActivitySubprocess.wait() does when the task is done
        del supervisor
        gc.collect()
        with pytest.raises(OSError):
            os.fstat(fd)
    finally:
        proc.kill()
        proc.wait()


def test_no_watch_for_a_process_that_is_gone(boot: ModuleType) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    supervisor = Supervisor(proc)
    supervisor.pid = 2**22 + 12345  # above the kernel's largest pid: no such process
    assert boot.watch_exit(supervisor) is None
    assert len(supervisor.selector.get_map()) == 0


def test_a_worker_importing_it_holds_the_preloads_and_the_watch_once() -> None:
    """What Celery's ``imports`` does in the worker process before it forks its pool."""
    code = ("import json, sys\n"
            "import airdeck.plan.worker_boot as boot\n"
            "from airflow.sdk.execution_time.supervisor import ActivitySubprocess\n"
            "first = ActivitySubprocess._register_pipe_readers\n"
            "again = boot.install_exit_watch()\n"
            "print(json.dumps({'loaded': [m for m in boot.PRELOAD if m in sys.modules],\n"
            "                  'patched': getattr(first, 'airdeck_exit_watch', False), 'again': again,\n"
            "                  'same': ActivitySubprocess._register_pipe_readers is first}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    from airdeck.plan import worker_boot

    assert out == {"loaded": list(worker_boot.PRELOAD), "patched": True, "again": True, "same": True}
