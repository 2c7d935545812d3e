"""Drive supervisord: render its configuration, start it, and talk to it over XML-RPC.

supervisord does the supervision (restart with backoff, log rotation, process groups); airdeck
adds ordering and health gates on top (see :mod:`airdeck.stack.orchestrator`).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from airdeck.stack.errors import StackError
from airdeck.state.home import AirdeckHome


@dataclass
class Program:
    """One supervised process."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    directory: Path | None = None
    user: str | None = None
    stop_signal: str = "TERM"
    start_secs: int = 5
    priority: int = 500


def _no_inline_comment(text: str) -> str:
    """Break every whitespace + ``;``/``#`` pair with an empty quoted string (``" "";x"``): supervisord's
    configuration parser ends a value there (an inline comment), shlex joins the pieces back."""
    out = []
    for index, char in enumerate(text):
        if char in ";#" and index > 0 and text[index - 1].isspace():
            out.append('""')
        out.append(char)
    return "".join(out)


def _quote_arg(arg: str) -> str:
    """One argument of a ``command=`` line: supervisord expands ``%(...)s`` there (so ``%`` is doubled),
    drops inline comments, then splits the line with shlex (POSIX rules)."""
    if arg and all(c.isalnum() and c.isascii() or c in "/._-=:,@+%" for c in arg):
        return arg.replace("%", "%%")
    quoted = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return '"' + _no_inline_comment(quoted) + '"'


def _env_value(key: str, value: str) -> str:
    """One value of an ``environment=`` line. supervisord reads it with a non-POSIX shlex (no escapes:
    a value is quoted with a quote character it does not hold) and strips quote characters from both
    ends, so some values cannot be written at all: those are refused, never written altered."""
    quote = '"' if '"' not in value else "'"
    problem = None
    if quote in value:
        problem = "holds both kinds of quotes"
    elif value[:1] in ("'", '"') or value[-1:] in ("'", '"'):
        problem = "starts or ends with a quote character"
    elif any(c in ";#" and i > 0 and value[i - 1].isspace() for i, c in enumerate(value)):
        problem = "holds a space followed by ; or #"
    elif any(c in "\r\n\x00" for c in value):
        problem = "holds a line break"
    if problem:
        raise StackError(f"environment variable {key} {problem}, which supervisord.conf cannot carry unchanged; "
                         "change the airdeck.yaml value it comes from")
    return quote + value.replace("%", "%%") + quote


def _env_line(env: dict[str, str]) -> str:
    return ",".join(f"{key}={_env_value(key, value)}" for key, value in env.items())


def render_config(home: AirdeckHome, programs: list[Program], *, stop_timeout: int, start_retries: int) -> str:
    run = home.run
    lines = [
        "; Rendered by airdeck. Do not edit: it is rewritten at every start.",
        "[unix_http_server]",
        f"file={home.supervisor_socket}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={home.logs / 'supervisord.log'}",
        "logfile_maxbytes=10MB",
        "logfile_backups=3",
        f"pidfile={home.supervisor_pidfile}",
        f"directory={home.root}",
        "loglevel=info",
        "minfds=4096",
        # Service logs (and whatever the services create) readable by the running user only.
        "umask=077",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{home.supervisor_socket}",
        "",
        "[eventlistener:airdeck-events]",
        f"command={_quote_arg(sys.executable)} -m airdeck.stack.events {_quote_arg(str(home.events_log))} "
        f"{_quote_arg(str(run))}",
        "events=PROCESS_STATE",
        "autostart=true",
        "autorestart=true",
        "buffer_size=1000",
        f"stderr_logfile={home.logs / 'airdeck-events.log'}",
        "stderr_logfile_maxbytes=5MB",
        f"environment=AIRDECK_HOME=\"{home.root}\"",
        "",
    ]
    for prog in programs:
        lines += [
            f"[program:{prog.name}]",
            "command=" + " ".join(_quote_arg(a) for a in prog.argv),
            "autostart=false",
            "autorestart=true",
            f"startsecs={prog.start_secs}",
            f"startretries={start_retries}",
            f"stopsignal={prog.stop_signal}",
            f"stopwaitsecs={stop_timeout}",
            "stopasgroup=true",
            "killasgroup=true",
            f"priority={prog.priority}",
            "redirect_stderr=true",
            f"stdout_logfile={home.service_log(prog.name)}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=5",
        ]
        if prog.directory:
            lines.append(f"directory={prog.directory}")
        if prog.user:
            lines.append(f"user={prog.user}")
        env = {"AIRDECK_HOME": str(home.root), "AIRDECK_SERVICE": prog.name, **prog.env}
        lines.append(f"environment={_env_line(env)}")
        lines.append("")
    return "\n".join(lines)


class Supervisor:
    """A client for the supervisord of one $AIRDECK_HOME."""

    def __init__(self, home: AirdeckHome):
        self.home = home
        self._proxy: Any = self._connect()

    def _connect(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.home.supervisor_socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    @property
    def rpc(self) -> Any:
        return self._proxy.supervisor

    def is_running(self) -> bool:
        if not self.home.supervisor_socket.exists():
            return False
        try:
            return self.rpc.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error, http.client.HTTPException):
            # The transport keeps one connection; after a failure it is unusable, so start afresh.
            self._proxy = self._connect()
            return False

    def pid(self) -> int | None:
        try:
            return int(self.rpc.getPID())
        except (OSError, xmlrpc.client.Error, http.client.HTTPException):
            self._proxy = self._connect()
            return None

    def start_daemon(self, env: dict[str, str], timeout: float = 20.0) -> None:
        """Start supervisord in the background and wait until it answers."""
        conf = self.home.supervisor_conf
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
            env=env, capture_output=True, text=True, check=False,
            umask=0o077,  # supervisord opens its own log before it applies umask= of its configuration
        )
        if result.returncode != 0:
            raise StackError(f"supervisord did not start: {(result.stderr or result.stdout).strip()[-600:]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_running():
                return
            time.sleep(0.2)
        raise StackError(f"supervisord did not answer on {self.home.supervisor_socket} within {timeout:.0f}s; "
                         f"see {self.home.logs / 'supervisord.log'}")

    def reload(self) -> None:
        """Re-read the configuration: add new programs, drop removed ones (stopped first)."""
        added, changed, removed = self.rpc.reloadConfig()[0]
        for name in removed + changed:
            try:
                self.rpc.stopProcessGroup(name, True)
            except xmlrpc.client.Fault:
                pass
            self.rpc.removeProcessGroup(name)
        for name in changed + added:
            self.rpc.addProcessGroup(name)

    def info(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.rpc.getProcessInfo(name))
        except xmlrpc.client.Fault:
            return None

    def all_info(self) -> dict[str, dict[str, Any]]:
        return {item["name"]: dict(item) for item in self.rpc.getAllProcessInfo()}

    def start(self, name: str) -> None:
        """Ask supervisord to start ``name`` without waiting for startsecs (health gates wait)."""
        try:
            self.rpc.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise StackError(f"supervisord could not start {name}: {fault.faultString}") from None

    def stop(self, name: str) -> None:
        try:
            self.rpc.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString and "BAD_NAME" not in fault.faultString:
                raise StackError(f"supervisord could not stop {name}: {fault.faultString}") from None

    def shutdown(self, timeout: float = 60.0) -> None:
        pid = self.pid()
        try:
            self.rpc.shutdown()
        except (OSError, xmlrpc.client.Error):
            pass
        if pid is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
