"""Three platforms side by side, in one run, on the same machine and the same DAG files.

* ``airdeck``: ``airdeck up --detach`` with NO airdeck.yaml (what a user gets), private AIRDECK_HOME.
* ``stock``: stock Airflow 3.3.2 services on the same embedded PostgreSQL and Valkey binaries (and the
  same server command line) airdeck uses, started as Airflow's docs show: ``airflow db migrate``, then
  ``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer`` and ``celery worker``, each its
  own process; CeleryExecutor, Airflow's own defaults. Only what a multi-process deployment must set is
  set: the database and broker URLs, the shared secrets (Fernet key, JWT secret, API secret key), the
  api-server port and the Execution API URL pointing at it, the DAG folder, no bundled examples.
* ``standalone``: ``airflow standalone`` (SQLite, LocalExecutor), Airflow's defaults.

Every platform loads airdeck's bundled example DAGs. Per platform the JSON has ``start_cold_s`` (empty
state to every service healthy), ``start_warm_s`` (stop everything, start again), ``idle_pss_mb``
(summed PSS of every process of the platform, 30 s after the warm start), ``idle_processes``,
``idle_cpu_s_per_min``, ``peak_pss_mb`` (largest sample during the fan-outs) and per fan-out size
``fanout_N``: ``tasks_per_min``, ``failed``, ``unfinished``, ``core_s_per_task`` (user+system CPU of
the platform's whole process tree during the run, divided by the tasks that finished), ``wall_s``,
``cpu_by_service``. For airdeck and stock also ``e2e_latency_s``: trigger -> success of the one-task
DAG ``example_slow`` (``seconds=0``), p50/p95 over 20 runs one after the other.

``limit`` is the measured cost of one no-op task with nothing else running (benchmarks/noop_limit.py):
on the stock platform, the scheduler queues ``--limit-tasks`` task instances of the one-task DAG, then
every service but the api-server (and PostgreSQL, Valkey) is stopped and each task instance is run
exactly as a Celery pool process runs it (``supervise_task``: fork the task runner, parse the DAG
file, Execution API calls). Its ``core_s_per_task`` is that process's CPU (with the task runners) plus
the api-server's and PostgreSQL's CPU during the loop, divided by the tasks. ``x_limit`` per platform
and size is its ``core_s_per_task`` over the limit's.

    .venv/bin/python benchmarks/platform_bench.py --json bench.json            # sizes 200,1000
    .venv/bin/python benchmarks/platform_bench.py --quick --json quick.json    # one size of 300

Bounded: every wait has a time limit; only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from airdeck.resources import example_dags_folder  # noqa: E402

from tests.harness import free_port, free_ports, stack_pids  # noqa: E402

FANOUT, MAPPED = "example_fanout", "process.work"
ONE_TASK = "example_slow"  # one task; with seconds=0 it is a no-op
AIRFLOW = str(Path(sys.executable).parent / "airflow")
PLATFORMS = ("airdeck", "stock", "standalone")
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")

Procs = Callable[[], list[psutil.Process]]


# ----------------------------------------------------------------------------- measuring
def pss_mb(procs: list[psutil.Process]) -> int:
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return round(total / 2**20)


def cpu_snapshot(procs: list[psutil.Process]) -> dict[int, tuple[str, float]]:
    """{pid: (name, user+system CPU of it and its reaped children)}."""
    out = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
            out[proc.pid] = (proc.name(), t.user + t.system + t.children_user + t.children_system)
        except psutil.Error:
            continue
    return out


def cpu_delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> float:
    return sum(cpu - (before[pid][1] if pid in before else 0.0) for pid, (_, cpu) in after.items())


class Sampler:
    """Samples the summed PSS of a platform every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, find: Procs, interval: float = 2.0):
        self.find, self.interval, self.peak = find, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, pss_mb(self.find()))
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tree(root: psutil.Process | int) -> list[psutil.Process]:
    try:
        proc = root if isinstance(root, psutil.Process) else psutil.Process(root)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ----------------------------------------------------------------------------- REST
class RestClient:
    def __init__(self, base_url: str, username: str, password: str):
        self.base_url, self.username, self.password = base_url, username, password
        self.token = ""

    def login(self) -> RestClient:
        response = httpx.post(f"{self.base_url}/auth/token", timeout=60,
                              json={"username": self.username, "password": self.password})
        response.raise_for_status()
        self.token = response.json()["access_token"]
        return self

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.base_url}/api/v2{path}", timeout=120,
                             headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def unpause(self, dag_id: str) -> None:
        deadline = time.monotonic() + 300
        while self.call("GET", f"/dags/{dag_id}").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{dag_id} was not parsed within 300 s")
            time.sleep(1)
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        response = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        try:
            return dict(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json())
        except (httpx.HTTPError, ValueError):
            return {}  # an overloaded server may time out; the caller keeps waiting until its limit

    def wait(self, dag_id: str, run_id: str, timeout: float, every: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        run: dict[str, Any] = {}
        while time.monotonic() < end:
            run = self.run(dag_id, run_id) or run
            if run.get("state") in ("success", "failed"):
                break
            time.sleep(every)
        return run

    def states(self, dag_id: str, run_id: str, task_id: str) -> dict[str, int]:
        states: dict[str, int] = {}
        offset = 0
        while True:
            try:
                page = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                                 params={"limit": 100, "offset": offset, "task_id": task_id}).json()
            except (httpx.HTTPError, ValueError):
                return states  # a server that cannot answer: what was read so far, the rest counts unfinished
            items = page.get("task_instances", [])
            for ti in items:
                if ti["task_id"] == task_id:
                    states[str(ti["state"])] = states.get(str(ti["state"]), 0) + 1
            if len(items) < 100:
                return states
            offset += 100


def fanout(client: RestClient, n: int, timeout: float, procs: Procs, names: Callable[[int], str]) -> dict[str, Any]:
    """One ``example_fanout`` run of ``n`` mapped no-op tasks; CPU and memory of the platform around it."""
    before = cpu_snapshot(procs())
    with Sampler(procs) as sampler:
        started, started_epoch = time.monotonic(), time.time()
        run_id = client.trigger(FANOUT, {"n": n})
        run = client.wait(FANOUT, run_id, timeout, 1)
        wall = time.monotonic() - started
    after = cpu_snapshot(procs())
    # The run's own end (Airflow's end_date) rather than when the poll noticed it.
    ended = _epoch(run.get("end_date"))
    if run.get("state") in ("success", "failed") and ended is not None and ended > started_epoch:
        wall = ended - started_epoch
    states = client.states(FANOUT, run_id, MAPPED)
    succeeded = states.get("success", 0)
    failed = states.get("failed", 0) + states.get("upstream_failed", 0)
    core_s = cpu_delta(before, after)
    by_service: dict[str, float] = {}
    for pid, (_, cpu) in after.items():
        name = names(pid)
        by_service[name] = by_service.get(name, 0.0) + cpu - (before[pid][1] if pid in before else 0.0)
    return {"n": n, "run_state": run.get("state", "unknown"), "wall_s": round(wall, 1),
            "tasks_per_min": round(succeeded / wall * 60, 1) if wall else 0.0,
            "succeeded": succeeded, "failed": failed, "unfinished": n - succeeded - failed,
            "core_s": round(core_s, 1), "core_s_per_task": round(core_s / succeeded, 3) if succeeded else None,
            "peak_pss_mb": sampler.peak,
            "cpu_by_service": {k: round(v, 1) for k, v in sorted(by_service.items(), key=lambda kv: -kv[1])}}


def _epoch(stamp: str | None) -> float | None:
    """An ISO time stamp of the REST API as seconds since the epoch."""
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else None


def e2e_latency(client: RestClient, runs: int) -> dict[str, Any]:
    """Trigger -> success of the one-task DAG, one run after the other (the run's end_date as Airflow wrote it)."""
    values, states = [], []
    for _ in range(runs):
        started = time.time()
        run_id = client.trigger(ONE_TASK, {"seconds": 0})
        run = client.wait(ONE_TASK, run_id, 300, 0.2)
        states.append(run.get("state"))
        ended = _epoch(run.get("end_date"))
        if run.get("state") == "success" and ended is not None:
            values.append(ended - started)
    if not values:
        return {"runs": runs, "succeeded": 0}
    return {"runs": runs, "succeeded": len(values), "p50": round(pct(values, 0.5), 2),
            "p95": round(pct(values, 0.95), 2), "max": round(max(values), 2),
            "mean": round(statistics.mean(values), 2)}


def idle(procs: Procs, settle: float, window: float = 30) -> dict[str, Any]:
    time.sleep(settle)  # let start-up work settle
    before = cpu_snapshot(procs())
    time.sleep(window)
    found = procs()
    return {"idle_pss_mb": pss_mb(found), "idle_processes": len(found),
            "idle_cpu_s_per_min": round(cpu_delta(before, cpu_snapshot(found)) * 60 / window, 2)}


def wait_healthy(base_url: str, timeout: float, extra: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=5).json()
            if all((health.get(k) or {}).get("status") == "healthy" for k in HEALTH_KEYS) and extra():
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{base_url} did not become healthy within {timeout:.0f} s")


def stop_tree(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRDECK"))}


# ----------------------------------------------------------------------------- airdeck
class Airdeck:
    """``airdeck up`` with no airdeck.yaml: run from an empty folder, AIRDECK_CONFIG unset."""

    name = "airdeck"

    def __init__(self, workdir: Path):
        self.home = workdir / "home"
        self.cwd = workdir / "cwd"
        self.cwd.mkdir(parents=True)
        self.env = {**clean_env(), "AIRDECK_HOME": str(self.home)}
        self.base_url = ""

    def cli(self, *args: str, check: bool = True) -> str:
        result = subprocess.run([sys.executable, "-m", "airdeck.cli.main", *args], env=self.env, cwd=self.cwd,
                                capture_output=True, text=True, timeout=900, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"airdeck {' '.join(args)} exited {result.returncode}:\n"
                               f"{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self) -> float:
        started = time.monotonic()
        self.cli("up", "--detach")
        return time.monotonic() - started

    def stop(self) -> None:
        self.cli("down", check=False)

    def procs(self) -> list[psutil.Process]:
        out = []
        for pid in stack_pids(self.home):
            try:
                out.append(psutil.Process(pid))
            except psutil.Error:
                continue
        return out

    def service_of(self, pid: int) -> str:
        """The supervisord program a pid belongs to (its ancestor just below supervisord)."""
        try:
            proc = psutil.Process(pid)
            chain = [proc, *proc.parents()]
        except psutil.Error:
            return "?"
        for i, p in enumerate(chain):
            try:
                if "supervisord" in " ".join(p.cmdline()):
                    return "supervisord" if i == 0 else _label(chain[i - 1])
            except psutil.Error:
                continue
        return _label(proc)

    def client(self) -> RestClient:
        creds = json.loads(self.cli("credentials", "--json"))
        self.base_url = "http://127.0.0.1:8080"  # the default api_server.port
        return RestClient(self.base_url, creds["username"], creds["password"]).login()


def _label(proc: psutil.Process) -> str:
    try:
        cmd = proc.cmdline()
    except psutil.Error:
        return "?"
    joined = " ".join(cmd)
    for key in ("api-server", "scheduler", "dag-processor", "triggerer", "celery", "postgres", "valkey",
                "airdeck.metrics", "airdeck.alerts", "standalone"):
        if key in joined:
            return key
    return Path(cmd[0]).name if cmd else "?"


# ----------------------------------------------------------------------------- stock Airflow
class Stock:
    """Stock Airflow services on the embedded PostgreSQL and Valkey, each service its own process."""

    name = "stock"
    SERVICES = (("api-server", ("api-server",)), ("scheduler", ("scheduler",)),
                ("dag-processor", ("dag-processor",)), ("triggerer", ("triggerer",)),
                ("worker", ("celery", "worker")))

    def __init__(self, workdir: Path):
        from airdeck.plan.servers import postgres_user

        self.dir = workdir
        self.airflow_home = workdir / "airflow-home"
        self.pg_dir, self.pg_sock, self.valkey_dir = workdir / "pg", workdir / "pg-sock", workdir / "valkey"
        if postgres_user():  # running as root: PostgreSQL runs as its own user, who must reach its folders
            os.chmod(workdir, 0o755)  # noqa: S103 - PostgreSQL's own user (as root) must reach it
        self.api_port, self.pg_port, self.valkey_port = free_ports(3)
        self.pg_password, self.valkey_password = secrets.token_hex(16), secrets.token_hex(16)
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        db = f"postgresql+psycopg://airflow:{self.pg_password}@127.0.0.1:{self.pg_port}/airflow"
        self.env = {**clean_env(),
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                    "AIRFLOW_HOME": str(self.airflow_home),
                    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
                    "AIRFLOW__CELERY__BROKER_URL": f"redis://:{self.valkey_password}@127.0.0.1:{self.valkey_port}/0",
                    "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
                    "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                    "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                    "AIRFLOW__API__PORT": str(self.api_port),
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                    "AIRFLOW__CORE__DAGS_FOLDER": str(example_dags_folder()),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        self.servers: dict[str, subprocess.Popen[bytes]] = {}
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.prepared = False

    def _popen(self, name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{name}.log").open("ab")
        return subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                **kwargs)

    def _start_servers(self) -> None:
        import pwd

        import psycopg
        from airdeck.plan.servers import postgres_argv, postgres_user, valkey_binary
        from airdeck.stack import postgres

        if not self.prepared:
            postgres.prepare(self.pg_dir, self.pg_sock, self.pg_password)
            self.valkey_dir.mkdir()
            (self.valkey_dir / "valkey.conf").write_text(
                f"bind 127.0.0.1\nport {self.valkey_port}\nprotected-mode yes\nrequirepass \"{self.valkey_password}\"\n"
                f"dir \"{self.valkey_dir}\"\ndaemonize no\nappendonly yes\nappendfsync everysec\nsave \"\"\n")
            os.chmod(self.valkey_dir / "valkey.conf", 0o600)
        kwargs: dict[str, Any] = {}
        user = postgres_user()
        if user:
            entry = pwd.getpwnam(user)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        # airdeck's server command line, including its max_connections, so the database server is the same
        self.servers["postgres"] = self._popen("postgres", list(postgres_argv(self.pg_dir, self.pg_sock, self.pg_port,
                                                                              300)), **kwargs)
        self.servers["valkey"] = self._popen("valkey", [str(valkey_binary()), str(self.valkey_dir / "valkey.conf")],
                                             cwd=self.valkey_dir)
        dsn = f"postgresql://airflow:{self.pg_password}@127.0.0.1:{self.pg_port}/postgres"
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
                    if not self.prepared:
                        conn.execute('CREATE DATABASE "airflow"')
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start; see {self.dir / 'postgres.log'}") from None
                time.sleep(0.2)

    def _worker_ready(self) -> bool:
        from celery import Celery

        app = Celery(broker=self.env["AIRFLOW__CELERY__BROKER_URL"])
        try:
            return bool(app.control.ping(timeout=1.0))
        except Exception:  # noqa: BLE001 - not up yet
            return False
        finally:
            app.close()

    def start(self, only: tuple[str, ...] = ()) -> float:
        started = time.monotonic()
        if not only:
            self._start_servers()
            if not self.prepared:
                subprocess.run([AIRFLOW, "db", "migrate"], env=self.env, check=True, capture_output=True, timeout=900)
                self.prepared = True
        for name, args in self.SERVICES:
            if not only or name in only:
                self.services[name] = self._popen(name, [AIRFLOW, *args])
        wait_healthy(self.base_url, 600, self._worker_ready if "worker" in self.services else lambda: True)
        return time.monotonic() - started

    def stop(self, only: tuple[str, ...] = ()) -> None:
        for name in [n for n in self.services if not only or n in only]:
            stop_tree(self.services.pop(name))
        if not only:
            for name in ("valkey", "postgres"):
                proc = self.servers.pop(name, None)
                if proc is None:
                    continue
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)

    def procs(self) -> list[psutil.Process]:
        return [p for proc in [*self.servers.values(), *self.services.values()] for p in tree(proc.pid)]

    def service_of(self, pid: int) -> str:
        for name, proc in [*self.servers.items(), *self.services.items()]:
            if pid in {p.pid for p in tree(proc.pid)}:
                return name
        return "?"

    def client(self) -> RestClient:
        return RestClient(self.base_url, *_simple_auth_user(self.airflow_home)).login()

    def limit(self, tasks: int) -> dict[str, Any]:
        """The cost of one no-op task with nothing else running (see the module docstring)."""
        self.stop(("worker",))
        client = self.client()
        for _ in range(tasks):
            client.trigger(ONE_TASK, {"seconds": 0})
        deadline = time.monotonic() + 300
        while _queued(self, tasks) < tasks:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the scheduler did not queue {tasks} task instances within 300 s")
            time.sleep(1)
        self.stop(("scheduler", "dag-processor", "triggerer"))
        helper = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "noop_limit.py"), ONE_TASK, str(tasks)],
                                  env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  cwd=self.dir, stderr=(self.dir / "noop_limit.log").open("ab"))
        assert helper.stdin and helper.stdout  # noqa: S101
        ready = json.loads(helper.stdout.readline() or "{}")
        if not ready.get("ready"):
            helper.kill()
            raise RuntimeError("noop_limit.py found no queued task instance")
        others = lambda: [*tree(self.services["api-server"].pid), *tree(self.servers["postgres"].pid)]  # noqa: E731
        before = cpu_snapshot(others())
        helper.stdin.write("go\n")
        helper.stdin.flush()
        result = json.loads(helper.stdout.readline())
        server_cpu = cpu_delta(before, cpu_snapshot(others()))
        helper.wait(60)
        done = [t for t in result["tasks"] if t["exit"] == 0]
        n = len(result["tasks"])
        core = result["cpu_s"] + server_cpu
        # leave the platform as it was: the Celery messages of the tasks run here are stale now
        import redis

        redis.Redis.from_url(self.env["AIRFLOW__CELERY__BROKER_URL"]).delete("default")
        self.start(("scheduler", "dag-processor", "triggerer", "worker"))
        return {"tasks": n, "succeeded": len(done),
                "core_s_per_task": round(core / n, 3),
                "runner_core_s_per_task": round(result["cpu_s"] / n, 3),
                "api_and_db_core_s_per_task": round(server_cpu / n, 3),
                "serial_wall_s_per_task": round(result["wall_s"] / n, 3),
                "tasks_per_min_on_all_cores": round(60 * (os.cpu_count() or 1) * n / core, 1)}


def _queued(stock: Stock, tasks: int) -> int:
    import psycopg

    dsn = f"postgresql://airflow:{stock.pg_password}@127.0.0.1:{stock.pg_port}/airflow"
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM task_instance WHERE dag_id = %s AND state = 'queued'",
                           (ONE_TASK,)).fetchone()
    return int(row[0]) if row else 0


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _simple_auth_user(airflow_home: Path) -> tuple[str, str]:
    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} was not written")
        time.sleep(1)
    username, password = next(iter(json.loads(path.read_text()).items()))
    return username, password


# ----------------------------------------------------------------------------- standalone
class Standalone:
    name = "standalone"

    def __init__(self, workdir: Path):
        self.dir = workdir
        self.home = workdir / "airflow-home"
        api_port = free_port()
        self.base_url = f"http://127.0.0.1:{api_port}"
        self.env = {**clean_env(),
                    "AIRFLOW_HOME": str(self.home),
                    "AIRFLOW__CORE__DAGS_FOLDER": str(example_dags_folder()),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__API__PORT": str(api_port),
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                    # standalone starts its components as `airflow ...` found on PATH
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        started = time.monotonic()
        log = (self.dir / "standalone.log").open("ab")
        self.proc = subprocess.Popen([AIRFLOW, "standalone"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_healthy(self.base_url, 600)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.proc is not None:
            stop_tree(self.proc)

    def procs(self) -> list[psutil.Process]:
        return tree(self.proc.pid) if self.proc else []

    def service_of(self, pid: int) -> str:
        try:
            return _label(psutil.Process(pid))
        except psutil.Error:
            return "?"

    def client(self) -> RestClient:
        return RestClient(self.base_url, *_simple_auth_user(self.home)).login()


# ----------------------------------------------------------------------------- driver
def warm_bytecode() -> float:
    """Compile every module of the shared environment before any platform is timed; return the seconds.

    All three platforms run from this interpreter's environment. Without this, whichever platform starts
    first pays for compiling Airflow's bytecode and the others reuse it, which is a property of the order,
    not of the platform. ``scripts/up`` compiles at install for the same reason.
    """
    import sysconfig

    folders = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], str(REPO / "platform")})
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *folders],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.monotonic() - started, 1)


def bench(platform: Any, sizes: list[int], timeout: float, latency_runs: int, limit_tasks: int,
          settle: float = 30, window: float = 30) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        out["start_cold_s"] = round(platform.start(), 1)
        platform.stop()
        out["start_warm_s"] = round(platform.start(), 1)
        out.update(idle(platform.procs, settle, window))
        client = platform.client()
        client.unpause(FANOUT)
        client.unpause(ONE_TASK)
        if latency_runs:
            out["e2e_latency_s"] = e2e_latency(client, latency_runs)
        for n in sizes:
            out[f"fanout_{n}"] = fanout(client, n, timeout, platform.procs, platform.service_of)
            if out[f"fanout_{n}"]["run_state"] not in ("success", "failed"):
                break  # a platform that could not finish a run is not asked for a bigger one
        out["peak_pss_mb"] = max([out[f"fanout_{n}"]["peak_pss_mb"] for n in sizes if f"fanout_{n}" in out] or [0])
        if limit_tasks and isinstance(platform, Stock):
            try:
                out["limit"] = platform.limit(limit_tasks)
            except Exception as exc:  # noqa: BLE001 - keep the figures measured so far
                out["limit"] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        platform.stop()
    return out


def table(results: dict[str, Any], sizes: list[int]) -> None:
    names = [p for p in PLATFORMS if p in results]
    print(f"\n{'measure':<38}" + "".join(f"{n:>14}" for n in names))

    def row(label: str, get: Callable[[dict[str, Any]], Any]) -> None:
        cells = []
        for n in names:
            try:
                value = get(results[n])
            except (KeyError, TypeError):
                value = "-"
            cells.append(f"{value if value is not None else '-':>14}")
        print(f"{label:<38}" + "".join(cells))

    row("start, cold (s)", lambda r: r["start_cold_s"])
    row("start, warm (s)", lambda r: r["start_warm_s"])
    row("idle memory, PSS (MB)", lambda r: r["idle_pss_mb"])
    row("idle processes", lambda r: r["idle_processes"])
    row("idle CPU (core-s per min)", lambda r: r["idle_cpu_s_per_min"])
    row("peak memory, PSS (MB)", lambda r: r["peak_pss_mb"])
    row("one-task DAG trigger->success p50 (s)", lambda r: r["e2e_latency_s"]["p50"])
    row("one-task DAG trigger->success p95 (s)", lambda r: r["e2e_latency_s"]["p95"])
    for n in sizes:
        for key in ("tasks_per_min", "failed", "unfinished", "core_s_per_task", "x_limit", "wall_s", "run_state"):
            row(f"fan-out {n}: {key}", lambda r, key=key, n=n: r[f"fanout_{n}"][key])
    limit = results.get("limit")
    if limit and "error" in limit:
        print(f"\nno-op task limit not measured: {limit['error']}")
    elif limit:
        print(f"\nno-op task limit ({limit['tasks']} tasks, nothing else running): "
              f"{limit['core_s_per_task']} core-s/task "
              f"(runner {limit['runner_core_s_per_task']}, api-server+db {limit['api_and_db_core_s_per_task']}); "
              f"serial {limit['serial_wall_s_per_task']} s/task; {limit['tasks_per_min_on_all_cores']} tasks/min "
              f"on {os.cpu_count()} cores")
    if "airdeck" in results and "stock" in results:
        for n in sizes:
            try:
                a, s = results["airdeck"][f"fanout_{n}"], results["stock"][f"fanout_{n}"]
                print(f"fan-out {n}: airdeck/stock throughput {a['tasks_per_min'] / s['tasks_per_min']:.2f}x")
            except (KeyError, ZeroDivisionError):
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one fan-out of 300 tasks, standalone limited to 300 s (about 15 min on 2 cores)")
    parser.add_argument("--sizes", help="fan-out sizes, comma-separated (default 200,1000; --quick: 300)")
    parser.add_argument("--platforms", default=",".join(PLATFORMS), help="which platforms, in this order")
    parser.add_argument("--timeout", type=float, default=1200, help="limit per airdeck/stock fan-out, seconds")
    parser.add_argument("--standalone-timeout", type=float, help="limit per standalone fan-out (600; --quick 300)")
    parser.add_argument("--latency-runs", type=int, default=20, help="one-task DAG runs for trigger->success")
    parser.add_argument("--limit-tasks", type=int, default=16, help="no-op tasks for the limit (0: skip)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) for inspection")
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("300" if args.quick else "200,1000")).split(",")]
    standalone_timeout = args.standalone_timeout or (300 if args.quick else 600)
    chosen = [p.strip() for p in args.platforms.split(",") if p.strip()]
    unknown = set(chosen) - set(PLATFORMS)
    if unknown:
        parser.error(f"unknown platform(s): {', '.join(sorted(unknown))}; choose from {', '.join(PLATFORMS)}")
    workdir = Path(tempfile.mkdtemp(prefix="airdeck-bench-", dir="/tmp"))
    os.chmod(workdir, 0o755)  # noqa: S103 - PostgreSQL's own user (as root) must reach it
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "quick": args.quick, "sizes": sizes,
                                           "bytecode_warm_s": warm_bytecode()}}
    print(f"bytecode compiled for every platform alike in {results['machine']['bytecode_warm_s']} s", flush=True)
    try:
        for name in chosen:
            (workdir / name).mkdir()
            platform = {"airdeck": Airdeck, "stock": Stock, "standalone": Standalone}[name](workdir / name)
            started = time.monotonic()
            timeout = standalone_timeout if name == "standalone" else args.timeout
            figures = bench(platform, sizes, timeout, 0 if name == "standalone" else args.latency_runs,
                            args.limit_tasks, *((10, 20) if args.quick else (30, 30)))
            if "limit" in figures:
                results["limit"] = figures.pop("limit")
            figures["bench_wall_s"] = round(time.monotonic() - started)
            results[name] = figures
            print(json.dumps({name: figures}), flush=True)
    finally:
        if args.keep:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    limit = (results.get("limit") or {}).get("core_s_per_task")
    for name in PLATFORMS:
        for n in sizes:
            fan = results.get(name, {}).get(f"fanout_{n}")
            if fan is not None:
                fan["x_limit"] = round(fan["core_s_per_task"] / limit, 2) if limit and fan["core_s_per_task"] else None
    table(results, sizes)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    lost = [f"{name} fan-out {n}" for name in ("airdeck",) if name in results for n in sizes
            if results[name].get(f"fanout_{n}", {}).get("failed", 1) or results[name][f"fanout_{n}"]["unfinished"]]
    print("airdeck LOST TASKS: " + ", ".join(lost) if lost else "airdeck finished every fan-out, zero failed or lost")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
