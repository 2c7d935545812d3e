"""Imported once by every Celery worker before it forks its pool (Celery's ``imports`` setting).

The plan names this module in ``[celery] extra_celery_config`` of every worker, local and on Kubernetes.
Each task runs in a process forked from a pool process, itself forked from the worker, so what the
worker holds before the fork every task gets for free. Two things, each measured (docs/performance.md):

* **Preload what parsing a DAG file imports.** The task runner parses the task's DAG file through
  ``airflow.dag_processing.dagbag``, which pulls in Airflow's serialization modules. Airflow's own
  preload (``on_celery_import_modules``) does not include them, and profiling the worker during a
  fan-out found each task process spending about three quarters of its CPU importing them again.
  Imported here once, every task process inherits them.
* **Wake the task supervisor the moment its task process exits.** Airflow's supervisor waits in
  ``select()`` on the task process's sockets for up to ``[workers] min_heartbeat_interval`` (5 s) at a
  time. When the task process closes its sockets and only then exits, nothing is left to wake that
  ``select()``: about one task in ten then held its pool slot for 5 s after it had finished. A pidfd
  (readable when the process exits) registered beside the sockets ends the wait at once. Where pidfds
  are not available (Linux before 5.3) the supervisor behaves exactly as Airflow ships it.

Nothing here changes what a task does, its state, or its heartbeats; every failure falls back to
Airflow's own behaviour.
"""

from __future__ import annotations

import gc
import logging
import os
import selectors
import weakref
from typing import Any

log = logging.getLogger(__name__)

#: What the task runner imports to parse a DAG file, beyond Airflow's own Celery preload: the DAG
#: bag and the serialization modules it pulls in, and what ``from airflow.sdk import task`` loads.
PRELOAD = ("airflow.dag_processing.dagbag", "airflow.serialization.serialized_objects",
           "airflow.sdk.definitions.decorators", "airflow.sdk.definitions.asset.metadata")


class ExitWatch:
    """A pidfd in a supervisor's selector: readable once the watched process has exited."""

    def __init__(self, pid: int, selector: selectors.BaseSelector):
        self._fd: int | None = os.pidfd_open(pid)
        self._selector = selector

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("the exit watch is closed")
        return self._fd

    def close(self) -> None:
        """Unregister and close; safe to call more than once."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            self._selector.unregister(self)
        except (KeyError, ValueError, RuntimeError, OSError):
            pass  # already unregistered, or the supervisor closed its selector
        os.close(fd)

    # The supervisor calls a readable object's handler, then its on_close(), then its close().
    @staticmethod
    def exited(_watch: ExitWatch) -> bool:
        return False  # nothing to read: the process has exited, and the supervisor checks that next

    @staticmethod
    def closed(watch: ExitWatch) -> None:
        watch.close()


def watch_exit(supervisor: Any) -> ExitWatch | None:
    """Register an exit watch for ``supervisor``'s task process; None when pidfds are unavailable."""
    try:
        watch = ExitWatch(supervisor.pid, supervisor.selector)
    except (AttributeError, OSError):
        return None  # no os.pidfd_open (not Linux, or older than 5.3), or the process is already gone
    try:
        supervisor.selector.register(watch, selectors.EVENT_READ, (ExitWatch.exited, ExitWatch.closed))
    except (OSError, ValueError):
        watch.close()
        return None
    # The supervisor may notice the exit another way first and drop itself with the watch unread.
    weakref.finalize(supervisor, watch.close)
    return watch


def install_exit_watch() -> bool:
    """Make Airflow's task supervisor register an exit watch for every task process it starts."""
    try:
        from airflow.sdk.execution_time.supervisor import ActivitySubprocess
    except ImportError:
        return False
    original = ActivitySubprocess._register_pipe_readers
    if getattr(original, "airdeck_exit_watch", False):
        return True

    def register_pipe_readers(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        watch_exit(self)

    register_pipe_readers.airdeck_exit_watch = True  # type: ignore[attr-defined]
    ActivitySubprocess._register_pipe_readers = register_pipe_readers  # type: ignore[method-assign]
    return True


def preload() -> None:
    """Import what every task process would import again; keep it out of the collector's way."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # a newer Airflow that moved a module: tasks import what they need
            log.warning("airdeck worker preload: %s not imported: %s", name, exc)
    # As Airflow's own Celery preload does: objects created so far stay out of the garbage
    # collector's generations, so pool and task processes do not copy their pages by touching them.
    gc.freeze()


preload()
install_exit_watch()
