"""Benchmark the platform spine against `airflow standalone`, in one run, on the same DAG files.

Measures, for airdeck and for stock `airflow standalone` (SQLite, LocalExecutor):
  1. time from command to all-healthy (airdeck: cold = empty AIRDECK_HOME, warm = second start);
  2. a 200-task and a 1000-task mapped fan-out of no-op tasks (example_fanout): wall time,
     tasks per minute, failed and unfinished tasks;
  3. idle and peak memory (PSS) of the whole stack.
Prints a table and the airdeck/standalone ratios; writes the figures as JSON with --json FILE.

    .venv/bin/python benchmarks/platform_bench.py [--sizes 200,1000] [--standalone-timeout 900]

Bounded: every wait has a time limit; only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from airdeck.resources import example_dags_folder  # noqa: E402

from tests.harness import Stack, free_ports, stack_pids, write_config  # noqa: E402

DAG = "example_fanout"
MAPPED = "process.work"


class MemorySampler:
    """Samples the summed PSS of a set of processes every ``interval`` seconds in a thread."""

    def __init__(self, find: Any, interval: float = 2.0):
        self.find = find
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        total = 0
        for proc in self.find():
            try:
                total += proc.memory_full_info().pss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def marked(home: Path) -> list[psutil.Process]:
    """Every process of the airdeck stack: supervisord's whole tree (services rewrite their titles,
    so an environment scan alone misses gunicorn workers and Celery pool processes)."""
    procs = []
    for pid in stack_pids(home):
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return procs


def tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


class RestClient:
    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url
        self.username, self.password = username, password
        self.token = ""

    def login(self) -> None:
        response = httpx.post(f"{self.base_url}/auth/token", json={"username": self.username,
                                                                     "password": self.password}, timeout=60)
        response.raise_for_status()
        self.token = response.json()["access_token"]

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.base_url}/api/v2{path}", timeout=120,
                             headers={"Authorization": f"Bearer {self.token}"}, **kwargs)


def run_fanout(client: RestClient, n: int, timeout: float, sampler: MemorySampler) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while client.call("GET", f"/dags/{DAG}").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{DAG} was not parsed within 300 s")
        time.sleep(2)
    client.call("PATCH", f"/dags/{DAG}", json={"is_paused": False}).raise_for_status()
    started = time.monotonic()
    response = client.call("POST", f"/dags/{DAG}/dagRuns", json={"logical_date": None, "conf": {"n": n}})
    response.raise_for_status()
    run_id = response.json()["dag_run_id"]
    state = "queued"
    end = started + timeout
    while time.monotonic() < end:
        try:
            state = client.call("GET", f"/dags/{DAG}/dagRuns/{run_id}").json().get("state", state)
        except (httpx.HTTPError, ValueError):
            pass  # an overloaded server may time out; keep waiting until the limit
        if state in ("success", "failed"):
            break
        time.sleep(3)
    wall = time.monotonic() - started
    states: dict[str, int] = {}
    offset = 0
    while True:
        page = client.call("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances",
                           params={"limit": 100, "offset": offset, "task_id": MAPPED}).json()
        items = [ti for ti in page.get("task_instances", []) if ti["task_id"] == MAPPED]
        for ti in items:
            states[str(ti["state"])] = states.get(str(ti["state"]), 0) + 1
        if len(page.get("task_instances", [])) < 100:
            break
        offset += 100
    succeeded = states.get("success", 0)
    return {"n": n, "run_state": state, "wall_seconds": round(wall, 1),
            "finished_in_time": state in ("success", "failed"),
            "succeeded": succeeded, "failed": states.get("failed", 0) + states.get("upstream_failed", 0),
            "not_finished": n - succeeded - states.get("failed", 0) - states.get("upstream_failed", 0),
            "tasks_per_minute": round(succeeded / wall * 60, 1) if wall else 0.0,
            "peak_memory_mb": round(sampler.peak / 2**20)}


def bench_airdeck(workdir: Path, sizes: list[int], timeout: float) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir, {"workers": {"replicas": 1, "concurrency": 16}})
    stack = Stack(workdir / "home", config)
    out: dict[str, Any] = {}
    try:
        for label in ("cold", "warm"):
            started = time.monotonic()
            stack.airdeck("up", "--detach")
            out[f"start_{label}_seconds"] = round(time.monotonic() - started, 1)
            if label == "cold":
                stack.airdeck("down")
        time.sleep(30)  # let start-up work settle before measuring idle memory
        out["idle_memory_mb"] = round(MemorySampler(lambda: marked(stack.home)).sample() / 2**20)
        creds = stack.credentials()
        client = RestClient(stack.base_url, creds["username"], creds["password"])
        client.login()
        for n in sizes:
            with MemorySampler(lambda: marked(stack.home)) as sampler:
                out[f"fanout_{n}"] = run_fanout(client, n, timeout, sampler)
    finally:
        stack.airdeck("down", check=False)
    return out


@contextmanager
def standalone(workdir: Path) -> Any:
    api_port = free_ports(1)[0]
    home = workdir / "airflow-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(example_dags_folder()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # standalone starts its components as `airflow ...` found on PATH
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    })
    log = (workdir / "standalone.log").open("wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "standalone"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, f"http://127.0.0.1:{api_port}", home
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def bench_standalone(workdir: Path, sizes: list[int], timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with standalone(workdir) as (proc, base_url, home):
        started = time.monotonic()
        deadline = started + 600
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=5).json()
                if all((health.get(k) or {}).get("status") == "healthy"
                       for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        else:
            raise RuntimeError("airflow standalone did not become healthy within 600 s")
        out["start_cold_seconds"] = round(time.monotonic() - started, 1)
        time.sleep(30)
        out["idle_memory_mb"] = round(MemorySampler(lambda: tree(psutil.Process(proc.pid))).sample() / 2**20)
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        username, password = next(iter(passwords.items()))
        client = RestClient(base_url, username, password)
        client.login()
        for n in sizes:
            with MemorySampler(lambda: tree(psutil.Process(proc.pid))) as sampler:
                out[f"fanout_{n}"] = run_fanout(client, n, timeout, sampler)
    return out


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--timeout", type=float, default=1200, help="limit per airdeck fan-out, seconds")
    parser.add_argument("--standalone-timeout", type=float, default=900, help="limit per standalone fan-out")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--skip-standalone", action="store_true",
                        help="measure airdeck only (e.g. to compare two airdeck commits on one machine)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="airdeck-bench-"))
    try:
        results = {"airdeck": bench_airdeck(workdir / "airdeck", sizes, args.timeout)}
        print(json.dumps({"airdeck": results["airdeck"]}), flush=True)
        if args.skip_standalone:
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=2))
            return _airdeck_ok(results["airdeck"], sizes)
        (workdir / "standalone").mkdir()
        results["standalone"] = bench_standalone(workdir / "standalone", sizes, args.standalone_timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    a, s = results["airdeck"], results["standalone"]
    print(f"{'measure':<34}{'airdeck':>14}{'standalone':>14}{'ratio':>10}")
    print(f"{'start, cold (s)':<34}{a['start_cold_seconds']:>14}{s['start_cold_seconds']:>14}"
          f"{ratio(a['start_cold_seconds'], s['start_cold_seconds']):>10}")
    print(f"{'start, warm (s)':<34}{a['start_warm_seconds']:>14}{'-':>14}{'':>10}")
    print(f"{'idle memory, PSS (MB)':<34}{a['idle_memory_mb']:>14}{s['idle_memory_mb']:>14}"
          f"{ratio(a['idle_memory_mb'], s['idle_memory_mb']):>10}")
    for n in sizes:
        fa, fs = a[f"fanout_{n}"], s[f"fanout_{n}"]
        for key, label in (("wall_seconds", "wall (s)"), ("tasks_per_minute", "tasks/min"), ("failed", "failed"),
                           ("not_finished", "not finished"), ("peak_memory_mb", "peak memory (MB)")):
            print(f"{f'fan-out {n}: {label}':<34}{fa[key]:>14}{fs[key]:>14}"
                  f"{ratio(fa[key], fs[key]) if key in ('wall_seconds', 'tasks_per_minute') else '':>10}")
        print(f"{f'fan-out {n}: run state':<34}{fa['run_state']:>14}{fs['run_state']:>14}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return _airdeck_ok(a, sizes)


def _airdeck_ok(a: dict[str, Any], sizes: list[int]) -> int:
    ok = all(a[f"fanout_{n}"]["failed"] == 0 and a[f"fanout_{n}"]["run_state"] == "success" for n in sizes)
    print("airdeck finished every fan-out with zero failed tasks" if ok else "airdeck LOST TASKS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
