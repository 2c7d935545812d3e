"""Boot a real airdeck stack for tests: free loopback ports, a private AIRDECK_HOME, REST helpers.

Usage::

    with running_stack(tmp_path, {"workers": {"replicas": 2}}) as stack:
        run_id = stack.trigger("example_fanout", conf={"n": 5})
        assert stack.wait_for_run("example_fanout", run_id) == "success"
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
AIRDECK = [sys.executable, "-m", "airdeck.cli.main"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports, each with its successor free too (worker log ports count up)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and port + 1 not in ports and port - 1 not in ports and port < 65000:
            ports.append(port)
    return ports


def new_home() -> Path:
    """A fresh AIRDECK_HOME for one test stack.

    It is not under pytest's tmp folder: that folder is mode 0700 and pytest resets it to 0700
    whenever another pytest starts, while the embedded PostgreSQL (run as the user ``pgserver``
    when tests run as root) must be able to reach its data directory."""
    folder = Path(tempfile.mkdtemp(prefix="airdeck-test-", dir="/tmp"))
    # airdeck opens no folder outside its state folder for the pgserver user (and the workers' system
    # user): the test lets them through this one (search only), as a person running as root would (see
    # the error of stack.postgres).
    folder.chmod(0o711)
    return folder / "home"


def remove_home(home: Path) -> None:
    shutil.rmtree(home.parent, ignore_errors=True)


def stack_pids(home: Path) -> set[int]:
    """Every live process of the stack in ``home``: supervisord's whole tree, plus any process
    carrying the stack's environment marker (a crashed run's orphans have no supervisord parent)."""
    import psutil

    pids: set[int] = set()
    try:
        root = psutil.Process(int((home / "run" / "supervisord.pid").read_text().strip()))
        pids |= {root.pid, *(child.pid for child in root.children(recursive=True))}
    except (OSError, ValueError, psutil.Error):
        pass
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("AIRDECK_STACK") == str(home):
                pids.add(proc.pid)
        except psutil.Error:
            continue
    return pids


def alive(pids: set[int]) -> set[int]:
    """The pids that still name a running (non-zombie) process."""
    import psutil

    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.Error:
            continue
    return out


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, extra: dict[str, Any] | None = None) -> Path:
    api, health, pg, valkey, logs, bridge, prometheus, trigger_logs = free_ports(8)
    config = {
        "api_server": {"port": api, "workers": 1},
        "scheduler": {"health_check_port": health},
        "database": {"embedded": {"port": pg}},
        "broker": {"embedded": {"port": valkey}},
        "workers": {"log_server_port": logs},
        "triggerer": {"log_server_port": trigger_logs},  # two stacks on one machine must not share it
        "airflow": {"dags_are_paused_at_creation": False},
        "observability": {"statsd": {"port": free_udp_port()}, "bridge": {"metrics_port": bridge},
                          "prometheus": {"port": prometheus}},
    }
    if os.geteuid() == 0:
        # Here the tests run as root with an interpreter under /root (pyenv), which the workers' own user
        # cannot reach: airdeck refuses workers as root unless the configuration says why (a test that
        # wants the isolated workers, or the refusal, sets up its own way; see tests/workerkeys).
        config["workers"]["run_as_root_reason"] = "the test suite runs as root with an interpreter others cannot reach"
    config = deep_merge(config, extra or {})
    path = folder / "airdeck.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Stack:
    """A running stack started by :func:`running_stack`."""

    def __init__(self, home: Path, config: Path):
        self.home = home
        self.config = config
        self.settings = yaml.safe_load(config.read_text())
        self.base_url = f"http://127.0.0.1:{self.settings['api_server']['port']}"
        self._token: str | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update({"AIRDECK_HOME": str(self.home), "AIRDECK_CONFIG": str(self.config)})
        return env

    def airdeck(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*AIRDECK, *args], env=self.env(), capture_output=True, text=True,
                                timeout=timeout, check=False, cwd=REPO)
        if check and result.returncode != 0:
            raise AssertionError(f"airdeck {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def credentials(self) -> dict[str, str]:
        return json.loads(self.airdeck("credentials", "--json").stdout)

    def token(self, username: str | None = None, password: str | None = None) -> str:
        if username is None and self._token:
            return self._token
        creds = self.credentials()
        response = httpx.post(f"{self.base_url}/auth/token",
                              json={"username": username or creds["username"],
                                    "password": password or creds["password"]}, timeout=30)
        response.raise_for_status()
        token = response.json()["access_token"]
        if username is None:
            self._token = token
        return token

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}"}
        return httpx.request(method, f"{self.base_url}/api/v2{path}", headers=headers, timeout=60, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api("GET", f"/dags/{dag_id}").status_code == 200:
                return
            time.sleep(2)
        raise AssertionError(f"DAG {dag_id} was not parsed within {timeout}s")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.wait_for_dag(dag_id)
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        response = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        state = "unknown"
        while time.monotonic() < deadline:
            response = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if response.status_code == 200:
                state = response.json()["state"]
                if state in ("success", "failed"):
                    return state
            time.sleep(3)
        raise AssertionError(f"run {run_id} of {dag_id} still {state} after {timeout}s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            response = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                                params={"limit": 100, "offset": offset})
            response.raise_for_status()
            page = response.json()["task_instances"]
            items += page
            if len(page) < 100:
                return items
            offset += 100

    def status(self) -> dict[str, Any]:
        result = self.airdeck("status", "--json", check=False)
        try:
            return dict(json.loads(result.stdout))
        except ValueError:
            raise AssertionError(f"airdeck status --json printed no JSON (exit {result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}") from None


@contextmanager
def running_stack(folder: Path, extra: dict[str, Any] | None = None,
                  up_args: tuple[str, ...] = ()) -> Iterator[Stack]:
    """Start a stack on free ports in ``folder`` and stop it afterwards, whatever happens.

    ``up_args`` are added to ``airdeck up --detach`` (e.g. ``("--with-prometheus",)``)."""
    config = write_config(folder, extra)
    stack = Stack(new_home(), config)
    try:
        stack.airdeck("up", "--detach", *up_args)
        yield stack
    finally:
        stack.airdeck("down", check=False, timeout=300)
        remove_home(stack.home)


class PostgresServer:
    """A throwaway PostgreSQL from the pgserver wheel's binaries (as the pgserver user when run as root),
    with one empty database ``database`` owned by the role ``airflow``. Call :meth:`stop` when done."""

    def __init__(self, folder: Path, database: str, password: str):
        import pwd

        import psycopg
        from airdeck.plan.servers import postgres_argv, postgres_user
        from airdeck.stack import postgres

        self.port = free_port()
        self.password = password
        self.database = database
        data, sockets = folder / "data", folder / "sock"
        postgres.prepare(data, sockets, self.password)
        user = postgres_user()
        kwargs: dict[str, Any] = {}
        if user:
            entry = pwd.getpwnam(user)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        self.log = open(folder / "postgres.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(postgres_argv(data, sockets, self.port, 100), stdout=self.log,
                                     stderr=subprocess.STDOUT, **kwargs)
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{database}"')
                break
            except psycopg.OperationalError as exc:  # not up yet
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    log = (folder / "postgres.log").read_text()[-2000:]
                    raise RuntimeError(f"PostgreSQL did not start: {log}") from exc
                time.sleep(0.3)

    def dsn(self, db: str | None = None) -> str:
        return f"postgresql://airflow:{self.password}@127.0.0.1:{self.port}/{db or self.database}"

    @property
    def url(self) -> str:
        """The SQLAlchemy form, as airdeck gives it to Airflow."""
        return f"postgresql+psycopg://airflow:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def stop(self) -> None:
        self.proc.send_signal(2)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@contextmanager
def postgres_server(database: str, password: str) -> Iterator[PostgresServer]:
    """A :class:`PostgresServer` in a fresh folder under /tmp, stopped and removed afterwards.

    Not under pytest's tmp folder: another pytest run resets that to 0700, which locks out the
    PostgreSQL user (``pgserver`` when tests run as root); see :func:`new_home`."""
    folder = Path(tempfile.mkdtemp(prefix="airdeck-pg-", dir="/tmp"))
    server = PostgresServer(folder, database, password)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
