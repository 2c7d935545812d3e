"""supervisord configuration and the event listener, without starting a stack."""

from __future__ import annotations

import configparser
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from airdeck.stack.errors import PortInUseError
from airdeck.stack.ports import check_ports_free, port_is_free
from airdeck.stack.supervisor import Program, render_config
from airdeck.state.home import AirdeckHome


def test_config_quotes_arguments_and_escapes_percent(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "h")
    prog = Program("worker-1", ["/x/airflow", "celery", "worker", "--celery-hostname", "worker-1@%h", "a b"],
                   env={"AIRFLOW_CONFIG": "/p/airflow.cfg"})
    text = render_config(home, [prog], stop_timeout=45, start_retries=5)
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    section = parser["program:worker-1"]
    assert section["command"] == '/x/airflow celery worker --celery-hostname worker-1@%%h "a b"'
    assert section["autostart"] == "false" and section["autorestart"] == "true"
    assert section["stopwaitsecs"] == "45" and section["startretries"] == "5"
    assert section["stopasgroup"] == "true" and section["killasgroup"] == "true"
    assert 'AIRDECK_SERVICE="worker-1"' in section["environment"]
    assert f'AIRDECK_HOME="{home.root}"' in section["environment"]
    assert parser["unix_http_server"]["chmod"] == "0700"


def test_supervisord_accepts_the_rendered_config(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "h")
    home.ensure()
    progs = [Program("sleeper", ["/bin/sleep", "30"], env={"X": "50%"})]
    home.supervisor_conf.write_text(render_config(home, progs, stop_timeout=5, start_retries=1))
    from supervisor.options import ServerOptions

    options = ServerOptions()
    options.realize(args=["-c", str(home.supervisor_conf)])
    group = next(g for g in options.process_group_configs if g.name == "sleeper")
    assert group.process_configs[0].environment["X"] == "50%"


def _listener(tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "airdeck.stack.events", str(tmp_path / "events.jsonl"),
                             str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _send(proc: subprocess.Popen[str], eventname: str, payload: str) -> None:
    assert proc.stdin and proc.stdout
    assert proc.stdout.readline() == "READY\n"
    proc.stdin.write(f"ver:3.0 server:supervisor serial:1 pool:airdeck-events poolserial:1 "
                     f"eventname:{eventname} len:{len(payload)}\n{payload}")
    proc.stdin.flush()
    assert proc.stdout.readline() == "RESULT 2\n"
    assert proc.stdout.read(2) == "OK"


def test_event_listener_records_states_and_pid_files(tmp_path: Path) -> None:
    # A stand-in for a service that dies and leaves a child behind: a process group whose leader exits.
    group = subprocess.Popen(["/bin/sh", "-c", "sleep 300 & wait"], start_new_session=True)
    deadline = time.monotonic() + 30
    while not psutil.Process(group.pid).children():
        assert time.monotonic() < deadline, "the stand-in service did not start its child"
        time.sleep(0.05)
    child = psutil.Process(group.pid).children()[0]
    proc = _listener(tmp_path)
    try:
        _send(proc, "PROCESS_STATE_RUNNING",
              f"processname:scheduler groupname:scheduler from_state:STARTING pid:{group.pid}")
        assert (tmp_path / "scheduler.pid").read_text() == f"{group.pid}\n"
        _send(proc, "PROCESS_STATE_EXITED",
              f"processname:scheduler groupname:scheduler from_state:RUNNING expected:0 pid:{group.pid}")
        assert not (tmp_path / "scheduler.pid").exists()
        _send(proc, "PROCESS_STATE_STARTING", "processname:scheduler groupname:scheduler from_state:EXITED tries:0")
        # the orphaned child of the exited service is ended with its process group
        assert child.wait(timeout=30) is not None or not child.is_running()
    finally:
        proc.kill()
        proc.wait()
        group.kill()
        group.wait()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["state"] for e in events] == ["RUNNING", "EXITED", "STARTING"]
    assert events[1]["expected"] is False and events[2]["from"] == "EXITED"


def test_port_in_use_names_key_and_owner() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free(port)
        with pytest.raises(PortInUseError) as info:
            check_ports_free([("api_server.port", port)])
    text = str(info.value)
    assert f"port {port} (api_server.port)" in text and "pid" in text and "airdeck.yaml" in text
