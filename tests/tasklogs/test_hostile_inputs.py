"""`airdeck logs --task` against hostile ids and log content (issue 22, findings 8 and 13).

The api-server is a local HTTP server that speaks the part of Airflow's REST API the reader uses
(sign-in, DAG, runs, task instance, log) and records every request target as it arrived, so the
tests see the URL the reader really sent and the bytes the CLI really printed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import write_private
from airdeck.tasklogs.reader import read_task_log

from tests.cli.helpers import run

#: What a task may print: ESC sequences (CSI colour, OSC window title, OSC 8 link), CR overwrite, BEL,
#: NUL, a C1 CSI, a bidi override, rich markup.
HOSTILE = ("\x1b[2J\x1b[31mred\x1b]0;pwned\x07\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\ "
           "ok\rFAKE\x00\x9b31m \u202eevil\u202c [red]markup[/] [/]")
FORBIDDEN = ["\x1b", "\r", "\x07", "\x00", "\x9b", "\u202e", "\u202c"]


@dataclass
class FakeApi:
    """The recorded request targets and what the log endpoint returns."""

    port: int = 0
    targets: list[str] = field(default_factory=list)
    run_id: str = "manual__1"
    event: str = "hello"


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._send(201, {"access_token": "t"}) if self.path == "/auth/token" else self._send(404, {})

        def do_GET(self) -> None:  # noqa: N802
            api.targets.append(self.path)
            raw = urlsplit(self.path).path.split("/")
            parts = [unquote(p) for p in raw]
            if self.headers.get("Authorization") != "Bearer t" or parts[:4] != ["", "api", "v2", "dags"]:
                return self._send(404, {})
            rest = parts[4:]
            if len(rest) == 1:
                return self._send(200, {"dag_id": rest[0]})
            if len(rest) == 2 and rest[1] == "dagRuns":
                return self._send(200, {"dag_runs": [{"dag_run_id": api.run_id}]})
            if len(rest) == 5 and rest[1] == "dagRuns" and rest[3] == "taskInstances":
                return self._send(200, {"try_number": 1})
            if len(rest) == 7 and rest[5] == "logs":
                return self._send(200, {"content": [{"timestamp": "2026-01-01T00:00:00Z", "level": "info",
                                                     "event": api.event, "where": api.event}]})
            return self._send(404, {})

    return Handler


@pytest.fixture
def api() -> Iterator[FakeApi]:
    state = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int) -> AirdeckHome:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    write_private(home.secrets / "admin_password", "pw")
    (tmp_path / "airdeck.yaml").write_text(f"api_server:\n  port: {port}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIRDECK_CONFIG", raising=False)
    return home


# ------------------------------------------------------------------ 13: ids are path segments, never path steps
@pytest.mark.parametrize(("dag_id", "task_id", "run_id"), [
    ("d", "t", ".."), ("d", "t", "."), ("..", "t", "r"), ("d", "..", "r"), (".", ".", "..."),
    ("d", "t", "../../../dags/x"), ("d", "t", "%2e%2e"), ("d", "t", "a?b#c"),
])
def test_13_ids_reach_the_api_as_themselves(api: FakeApi, dag_id: str, task_id: str, run_id: str) -> None:
    log = read_task_log(f"http://127.0.0.1:{api.port}", lambda: ("admin", "pw"), dag_id, task_id, run_id=run_id)
    assert log.entries and log.entries[0]["event"] == "hello"
    last = urlsplit(api.targets[-1]).path.split("/")
    assert [unquote(p) for p in last[4:]] == [dag_id, "dagRuns", run_id, "taskInstances", task_id, "logs", "1"]
    for target in api.targets:  # no segment of any request is a dot segment the client could resolve
        assert not any(p in (".", "..") for p in urlsplit(target).path.split("/")), target


def test_13_an_empty_id_is_refused_by_name(api: FakeApi) -> None:
    from airdeck.tasklogs.reader import TaskLogError

    with pytest.raises(TaskLogError, match="run id is empty"):
        read_task_log(f"http://127.0.0.1:{api.port}", lambda: ("admin", "pw"), "d", "t", run_id="")


# ------------------------------------------------------------------ 8: what a task logged reaches the terminal inert
def test_8_a_task_log_prints_control_characters_escaped(api: FakeApi, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    home = _platform(tmp_path, monkeypatch, api.port)
    api.event = HOSTILE + "\nsecond line\tafter a tab"
    api.run_id = "manual__\x1b]0;x\x07[red]"
    ran = run(capsys, "--home", str(home.root), "logs", "--task", "d", "t")
    assert ran.code == 0, ran.err
    for char in FORBIDDEN:
        assert char not in ran.out and char not in ran.err, repr(char)
    assert "\\x1b[2J\\x1b[31mred" in ran.out and "ok\\rFAKE\\x00\\x9b31m" in ran.out
    assert "\\u202eevil" in ran.out and "[red]markup[/] [/]" in ran.out
    assert "\tafter a tab" in ran.out  # a tab stays a tab
    assert "manual__\\x1b]0;x\\x07[red]" in ran.err  # the run id of the header line


def test_8_a_service_log_prints_control_characters_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    home = _platform(tmp_path, monkeypatch, 8080)
    home.service_log("scheduler").parent.mkdir(parents=True, exist_ok=True)
    home.service_log("scheduler").write_text(HOSTILE + "\nnext\n")
    ran = run(capsys, "--home", str(home.root), "logs", "scheduler")
    assert ran.code == 0, ran.err
    for char in FORBIDDEN:
        assert char not in ran.out, repr(char)
    assert "\\x1b[2J" in ran.out and "\nnext" in ran.out
