"""Every session and process group the platform's processes ever had, and the processes still in them.

A process the platform started can outlive everything that knew about it: Airflow's task supervisor
puts each task runner (``airflow worker -- <id>``) in a process group of its own, and ``setproctitle``
overwrites the environment that carried the stack's marker. When its worker dies (``kill -9``, the OOM
killer) or is stopped with SIGKILL, the runner is re-parented to init and keeps running. It never
leaves its session, though: supervisord starts a session of its own when it daemonizes, and every
component, and everything a component forks, stays in it unless it calls ``setsid``.

So ``RUN_DIR/process-groups.jsonl`` records, one JSON line each, the session and process group of
supervisord and of every component each time one starts (with the start time of the id's leader), and
:func:`members` finds every live process in one of them; :func:`orphans` finds those of a session whose
parent left it (re-parented after their own parent died). The kernel does not give a number still used
as a session or group id to a new process; a record whose leader is alive but started at another time
(the number was freed and reused) is ignored, and the file is removed once nothing of it is left.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

FILE = "process-groups.jsonl"
#: A leader started this long after its record is another process that got the same number.
_CLOCK_SLACK = 2.0


def _path(run_dir: Path) -> Path:
    return run_dir / FILE


def record(run_dir: Path, pid: int, service: str) -> None:
    """Remember the session and the process group of ``pid`` (a component or supervisord)."""
    entries = []
    for kind, get in (("session", os.getsid), ("group", os.getpgid)):
        try:
            ident = get(pid)
            started = psutil.Process(ident).create_time() if psutil.pid_exists(ident) else None
        except (OSError, psutil.Error):
            continue
        entries.append({"kind": kind, "id": ident, "leader_started": started, "service": service})
    known = {(e["kind"], e["id"]) for e in recorded(run_dir)}
    new = [e for e in entries if (e["kind"], e["id"]) not in known]
    if not new:
        return
    fd = os.open(_path(run_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write("".join(json.dumps(e) + "\n" for e in new))


def recorded(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``run_dir`` (a damaged line is skipped)."""
    try:
        lines = _path(run_dir).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("kind") in ("session", "group") and isinstance(entry.get("id"), int):
            out.append(entry)
    return out


def forget(run_dir: Path) -> None:
    _path(run_dir).unlink(missing_ok=True)


def _trusted(entries: Iterable[dict[str, Any]]) -> tuple[set[int], set[int]]:
    """The recorded session and group ids that still belong to the platform."""
    sessions: set[int] = set()
    groups: set[int] = set()
    for entry in entries:
        ident = entry["id"]
        if ident <= 1:
            continue
        started = entry.get("leader_started")
        try:
            leader_started = psutil.Process(ident).create_time()
        except psutil.Error:
            leader_started = None  # the leader is gone; members keep the number reserved
        if leader_started is not None and started is not None and leader_started > started + _CLOCK_SLACK:
            continue  # another process got the number
        (sessions if entry["kind"] == "session" else groups).add(ident)
    return sessions, groups


def _spared() -> set[int]:
    """This process and its ancestors: never signalled, whatever session they are in."""
    out = {os.getpid()}
    try:
        out |= {p.pid for p in psutil.Process().parents()}
    except psutil.Error:
        pass
    return out


def _live(proc: psutil.Process) -> bool:
    """Not a zombie: one waits for a parent (or an init that may never reap it) and cannot be ended."""
    return proc.status() != psutil.STATUS_ZOMBIE


def members(run_dir: Path) -> list[psutil.Process]:
    """Every live process in a recorded session or process group (this process and its ancestors aside)."""
    sessions, groups = _trusted(recorded(run_dir))
    if not sessions and not groups:
        return []
    spared = _spared()
    out = []
    for proc in psutil.process_iter():
        if proc.pid in spared:
            continue
        try:
            if (os.getsid(proc.pid) in sessions or os.getpgid(proc.pid) in groups) and _live(proc):
                out.append(proc)
        except (OSError, psutil.Error):
            continue
    return out


def orphans(session: int) -> list[psutil.Process]:
    """Processes of ``session`` whose parent is not in it: their parent died and they were re-parented.

    The session's leader (supervisord) is not one; every process the platform keeps has a parent in it."""
    spared = _spared()
    out = []
    for proc in psutil.process_iter():
        if proc.pid == session or proc.pid in spared:
            continue
        try:
            if os.getsid(proc.pid) != session:
                continue
            parent = proc.ppid()
            if (parent <= 1 or os.getsid(parent) != session) and _live(proc):
                out.append(proc)
        except (OSError, psutil.Error):
            continue
    return out


def end(procs: Iterable[psutil.Process], grace: float) -> list[psutil.Process]:
    """SIGTERM ``procs``, SIGKILL what is left after ``grace`` seconds; the processes still alive after that."""
    procs = list(procs)
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(alive, timeout=5)
    return list(alive)
