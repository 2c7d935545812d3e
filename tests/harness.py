"""Boot a real airdeck stack for tests: free loopback ports, a private AIRDECK_HOME, REST helpers.

Usage::

    with running_stack(tmp_path, {"workers": {"replicas": 2}}) as stack:
        run_id = stack.trigger("example_fanout", conf={"n": 5})
        assert stack.wait_for_run("example_fanout", run_id) == "success"
"""

from __future__ import annotations

import contextlib
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


#: Lowest port handed out: below it sit the well-known and registered services a machine may run.
PORT_FLOOR = 10000
#: Where a port handed out is reserved across processes (an flock held until the process ends), so two
#: test runs on one machine (two checkouts, or a test run beside a benchmark) skip each other's ports.
PORT_LOCKS = Path(tempfile.gettempdir()) / "airdeck-test-ports"
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")

_handed_out: set[int] = set()
_port_locks: dict[int, int] = {}
_next_index = 0


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (first, last), both included."""
    try:
        first, last = (int(n) for n in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return first, last


def port_block(worker: str | None = None, workers: int | None = None) -> list[int]:
    """The ports this test process may hand out, in order: a block of its own keyed by the pytest-xdist
    worker id (gw0 → block 1, gw1 → block 2, …; the main process → block 0) among ``workers`` + 1 equal
    blocks, all between :data:`PORT_FLOOR` and 65535 and outside the ephemeral range. Neither the other
    xdist process nor the kernel's outgoing connections (which take their local ports in that range,
    TIME_WAIT included) are ever given a port of this block."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker
    if workers is None:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    low, high = ephemeral_range()
    usable = [*range(PORT_FLOOR, max(low, PORT_FLOOR)), *range(max(high + 1, PORT_FLOOR), 65536)]
    blocks = max(workers, index) + 1
    size = len(usable) // blocks
    if size < 500:
        raise RuntimeError(
            f"no block of test ports for process {worker or 'main'}: {len(usable)} ports lie between {PORT_FLOOR} "
            f"and 65535 outside the ephemeral range {low}-{high} ({EPHEMERAL_RANGE}), too few for {blocks} "
            "processes; run fewer test processes (AIRDECK_TEST_PROCESSES) or narrow that range")
    return usable[index * size:(index + 1) * size]


def _bindable(port: int) -> bool:
    """True if nothing holds ``port`` on the loopback for TCP (listening, connected or in TIME_WAIT:
    no SO_REUSEADDR) nor for UDP."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _reserve(port: int) -> bool:
    """Take the machine-wide reservation of ``port`` for this process (kept until it exits)."""
    import fcntl

    if not PORT_LOCKS.is_dir():
        PORT_LOCKS.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            PORT_LOCKS.chmod(0o1777)  # every user's test runs share it (sticky: each keeps its own files)
    try:
        fd = os.open(PORT_LOCKS / str(port), os.O_RDWR | os.O_CREAT, 0o600)
    except PermissionError:  # another user's reservation
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _port_locks[port] = fd
    return True


def free_port(span: int = 1) -> int:
    """A loopback port no other test process will be handed, free for TCP and UDP, together with the
    ``span - 1`` ports after it (a range such as the workers' log ports, ``log_server_port + i``).

    The port comes from this process's own block (:func:`port_block`), is checked bindable, is reserved
    machine-wide, and is never handed out twice by this process."""
    global _next_index
    block = port_block()
    index = _next_index
    while index + span <= len(block):
        wanted = range(block[index], block[index] + span)
        if wanted[-1] == block[index + span - 1] and all(p not in _handed_out and _bindable(p) for p in wanted):
            taken = [p for p in wanted if _reserve(p)]
            _handed_out.update(taken)  # what another process holds is skipped; what we took is ours for good
            if len(taken) == span:
                _next_index = index + span
                return wanted[0]
        index += 1
    raise RuntimeError(f"the {len(block)} test ports of this process ({block[0]}-{block[-1]}) are used up; "
                       "something asks for far more ports than the suite does (tests/harness.py free_port)")


def free_ports(count: int, span: int = 1) -> list[int]:
    """``count`` ports from :func:`free_port`, each followed by ``span - 1`` free ports of its own."""
    return [free_port(span) for _ in range(count)]


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


#: Worker log ports kept free after ``workers.log_server_port`` by :func:`write_config`.
WORKER_LOG_SPAN = 4


def write_config(folder: Path, extra: dict[str, Any] | None = None) -> Path:
    """An airdeck.yaml in ``folder`` whose every port the platform opens comes from :func:`free_port`
    (``extra`` is merged on top). Keep :data:`WORKER_LOG_SPAN` ports for the workers' log servers
    (``log_server_port + i``), so a test may scale the workers up over down/up cycles."""
    api, health, pg, valkey, bridge, prometheus, trigger_logs, dispatcher, statsd = free_ports(9)
    replicas = int(((extra or {}).get("workers") or {}).get("replicas", 1))
    logs = free_port(span=max(WORKER_LOG_SPAN, replicas))
    config = {
        "api_server": {"port": api, "workers": 1},
        "scheduler": {"health_check_port": health},
        "database": {"embedded": {"port": pg}},
        "broker": {"embedded": {"port": valkey}},
        "workers": {"log_server_port": logs},
        "triggerer": {"log_server_port": trigger_logs},  # two stacks on one machine must not share it
        "airflow": {"dags_are_paused_at_creation": False},
        "alerts": {"dispatcher": {"port": dispatcher}},
        "observability": {"statsd": {"port": statsd}, "bridge": {"metrics_port": bridge},
                          "prometheus": {"port": prometheus}},
    }
    if os.geteuid() == 0:
        # Under root the workers run as airdeck-worker (on stack.runtime's copy of pyenv's interpreter under
        # /root). Many tests keep their DAGs in pytest's tmp folders (0700), which that user cannot reach:
        # airdeck refuses workers as root there unless the configuration says why. Where the DAGs are
        # reachable (the example DAGs) the key is unused and the workers run isolated; a test that wants
        # to see the isolation or the refusal removes it (tests/stack/test_root_workers.py).
        config["workers"]["run_as_root_reason"] = "the test suite runs as root with DAG folders others cannot reach"
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
