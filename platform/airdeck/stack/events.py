"""A supervisord event listener that records every service state change.

Run by supervisord as ``python -m airdeck.stack.events EVENTS_FILE RUN_DIR``. It appends one JSON
line per PROCESS_STATE event to EVENTS_FILE (restarts are counted from it) and keeps
``RUN_DIR/<service>.pid`` true: written when a service is RUNNING, removed when it stops or exits.

When a service exits on its own (crash, OOM kill, ``kill -9``), its children live on: gunicorn
workers, Celery pool processes, Airflow's log and health servers. They would keep ports the
restarted service needs and do work nobody supervises. supervisord starts every service as the
leader of its own process group, so the listener ends that group: SIGTERM, then SIGKILL after
:data:`GRACE_SECONDS`. Some of them are in a group of their own (Airflow's task runners): once the
group is gone, every process of supervisord's session whose parent left the session (an orphan of the
dead service) is ended the same way. Each service's session and group are recorded at RUNNING
(:mod:`airdeck.stack.sessions`), so ``airdeck down`` finds whatever survives all that.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from airdeck.stack import sessions

GRACE_SECONDS = 10.0


def end_process_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the group now and SIGKILL whatever is left after ``grace`` seconds, then end the orphans
    of this session (in a thread)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass

    def _finish() -> None:
        time.sleep(grace)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        end_orphans(grace)

    threading.Thread(target=_finish, daemon=True).start()


def end_orphans(grace: float = GRACE_SECONDS) -> None:
    """End every process of supervisord's session whose parent left it: what a dead service left.

    Only under a supervisord that leads its own session (it daemonized): another session is not ours."""
    session = os.getsid(0)
    if session != os.getppid():
        return
    time.sleep(1.0)  # children are re-parented once their parent is gone
    sessions.end(sessions.orphans(session), grace)


def _parse(line: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in line.split() if ":" in token)


def record(events_file: Path, run_dir: Path, eventname: str, payload: dict[str, str]) -> None:
    name = payload.get("processname", "?")
    state = eventname.removeprefix("PROCESS_STATE_")
    entry = {"time": time.time(), "service": name, "state": state,
             "from": payload.get("from_state"), "pid": payload.get("pid")}
    if "expected" in payload:
        entry["expected"] = payload["expected"] == "1"
    with events_file.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    pidfile = run_dir / f"{name}.pid"
    if state == "RUNNING" and payload.get("pid"):
        pidfile.write_text(payload["pid"] + "\n", encoding="ascii")
        if payload["pid"].isdigit():
            sessions.record(run_dir, int(payload["pid"]), name)
    elif state in ("STOPPED", "EXITED", "FATAL", "BACKOFF"):
        pidfile.unlink(missing_ok=True)
    if state == "EXITED" and payload.get("pid", "").isdigit():
        end_process_group(int(payload["pid"]))
    elif state == "STOPPED":  # supervisord signalled the group; processes in groups of their own remain
        threading.Thread(target=end_orphans, daemon=True).start()


def main(argv: list[str]) -> int:
    events_file, run_dir = Path(argv[0]), Path(argv[1])
    try:
        sessions.record(run_dir, os.getpid(), "airdeck-events")  # supervisord's session
    except OSError as exc:
        print(f"airdeck-events: cannot record the session: {exc}", file=sys.stderr, flush=True)
    stdin, stdout = sys.stdin, sys.stdout
    while True:
        stdout.write("READY\n")
        stdout.flush()
        header = _parse(stdin.readline())
        payload_text = stdin.read(int(header.get("len", "0")))
        try:
            record(events_file, run_dir, header.get("eventname", ""), _parse(payload_text))
        except OSError as exc:
            print(f"airdeck-events: cannot record event: {exc}", file=sys.stderr, flush=True)
        stdout.write("RESULT 2\nOK")
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
