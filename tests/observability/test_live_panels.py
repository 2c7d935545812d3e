"""Every panel proven, on the running platform, with the value the provoked state implies.

One module-scoped stack (``airdeck up --with-prometheus``, free ports, a 2 s scrape interval) runs the
example DAGs (a TaskGroup with mapped tasks, retries, a DAG that fails on purpose) and the DAGs of
``dags/``: ``observability_probe`` (a deferred sensor, a task in its own pool, a missed Deadline
Alert), ``observability_held`` (task instances held scheduled in a pool too small for them, queued, running
and deferred; a trigger that fails and one that blocks the event loop), ``observability_ticker``
(scheduled every minute) and ``observability_slow_parse`` (a file that outlives the parsing timeout).
The fixture then provokes the failures a healthy run does not make: a locked critical section, a task
state changed outside the executor, a worker that stops heartbeating, a broker that does not take a
publish in time, a malformed StatsD line. Each counted event happens at least twice, the second after
Prometheus scraped the first: the bridge creates a counter series at its first event, so ``rate()``
and ``increase()`` only ever show the events after that. Airflow's StatsD goes through a recording UDP
tee to the bridge; its traces go to a local OTLP/HTTP receiver. Then, against the real Prometheus:

- every dashboard query and every recording rule meets the expectation stated for it in
  ``PANELS`` / ``RULES`` (one row each, with the reason): a value > 0, an exact value, or, only where
  0 is the truthful value here, a series; "over the run" means at some instant since the platform
  started (what a time-series panel over that range shows), "now" at the end;
- the two 10-minute first-failure rules (``offset 10m``) load and evaluate without error on the live
  series, and promtool evaluates them on the live series themselves (queried back from Prometheus,
  after 11 minutes of bridge history without them) to the exact counts the test provoked: no 10
  minutes of wall time;
- the bridge saw no unmapped, conflicting or malformed event from Airflow;
- every metric a dashboard or rule uses was in the live capture and mapped;
- spans arrived for DAG runs and their tasks (scheduler, api-server and worker spans, one trace).

``AIRDECK_WRITE_GOLDEN=1`` also rewrites ``golden/`` from this run's capture (see golden_capture.py).
Skips loudly when Prometheus is not installed (CI installs Debian ``prometheus``).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
import redis
import yaml
from airdeck.metrics.wiring import prometheus_binary

from tests.harness import REPO, Stack, free_port, running_stack

sys.path.insert(0, str(REPO / "grafana"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboards_src import iter_queries, iter_variable_queries, render_expr  # noqa: E402
from golden_capture import NOT_IN_CAPTURE, map_lines, referenced_metrics, trim, write_capture  # noqa: E402
from receivers import OtlpReceiver, UdpTee, dump_spans  # noqa: E402

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.timeout(1800)]

if prometheus_binary() is None:
    pytest.skip("PROMETHEUS IS NOT INSTALLED: the live panel test needs the `prometheus` binary "
                "(Debian package prometheus; CI installs it). Nothing was proven here.", allow_module_level=True)

RUNS = [  # dag_id, conf, expected final state
    ("example_fanout", {"n": 5}, "success"),
    ("example_etl_daily", {}, "success"),
    ("example_fails_on_purpose", {}, "failed"),
    ("example_slow", {"seconds": 3}, "success"),
    ("observability_probe", {}, "success"),
]
PROBE_POOL = "observability_probe"
STARVED_POOL = "observability_starved"  # 1 slot: observability_held's task needs 2 and waits there for ever
UNSERVED_QUEUE = "observability_unserved"  # no worker consumes it: observability_held's task stays queued
SCRAPE_SECONDS = 2
CRITICAL_SECTION_LOCK = 2  # airflow.utils.db.DBLocks.SCHEDULER_CRITICAL_SECTION.value in Airflow 3.3.2
MALFORMED = b"airdeck_live_test:not-a-number|c"  # sent twice to the bridge: the pipeline's error panel
#: How often the fixture makes each failure: a counter series is born at its first event, and only the
#: events after Prometheus scraped it are seen by rate() and increase().
TWICE = 2


@dataclass
class Live:
    stack: Stack
    prometheus: str
    bridge: str
    tee: UdpTee
    otlp: OtlpReceiver
    runs: dict[str, str]  # dag_id -> run_id
    provoked: dict[str, float]  # what the fixture provoked on purpose -> seconds it took to show
    started: float  # wall clock when Prometheus began scraping the bridge
    finished: float = 0.0  # wall clock when everything provoked was seen


def _dags_folder(folder: Path) -> Path:
    dags = folder / "dags"
    dags.mkdir()
    for source in (REPO / "platform" / "airdeck" / "example_dags").glob("*.py"):
        shutil.copy(source, dags / source.name)
    for source in (Path(__file__).resolve().parent / "dags").glob("*.py"):
        shutil.copy(source, dags / source.name)
    return dags


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    # not under pytest's basetemp: a concurrent pytest run prunes old basetemp folders under our stack
    folder = Path(tempfile.mkdtemp(prefix="airdeck-live-observability-"))
    bridge_udp = free_port()
    tee = UdpTee(("127.0.0.1", bridge_udp)).start()
    otlp = OtlpReceiver().start()
    extra = {
        "observability": {
            "statsd": {"port": bridge_udp},
            "prometheus": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": "5s"},
            "tracing": {"otlp_endpoint": otlp.endpoint},
        },
        "airflow": {
            "dags_folder": str(_dags_folder(folder)),
            # Airflow sends to the recording tee, which forwards every datagram to the bridge.
            "extra_config": {
                "metrics": {"statsd_port": tee.port},
                # observability_held's BlockingTrigger, importable by the worker and the triggerer; and an
                # import timeout longer than the processor timeout: with the defaults (30 s < 50 s) the parsing
                # process's own import timeout ends observability_slow_parse.py first, as an import error, and
                # the dag-processor never has a processor to kill (no dag_processing.processor_timeouts).
                "core": {"plugins_folder": str(Path(__file__).resolve().parent / "plugins"),
                         "dagbag_import_timeout": "600"},
                "dag_processor": {"dag_file_processor_timeout": "20"},
                # observability_held's unserved task must stay queued for the whole test (default 600 s)
                "scheduler": {"task_queued_timeout": 3600},
            },
        },
    }
    try:
        with running_stack(folder, extra, up_args=("--with-prometheus",)) as stack:
            settings = stack.settings["observability"]
            live = Live(stack, f"http://127.0.0.1:{settings['prometheus']['port']}",
                        f"http://127.0.0.1:{settings['bridge']['metrics_port']}", tee, otlp, {}, {},
                        time.time())  # Prometheus scrapes the bridge from here on
            stack.wait_for_dag("observability_held")
            for pool, slots in ((PROBE_POOL, 1), (STARVED_POOL, 1)):
                stack.api("POST", "/pools", json={"name": pool, "slots": slots}).raise_for_status()
            live.runs["observability_held"] = stack.trigger("observability_held")
            for dag_id, conf, _ in RUNS:
                live.runs[dag_id] = stack.trigger(dag_id, conf)
            states = {dag_id: stack.wait_for_run(dag_id, live.runs[dag_id]) for dag_id, _, _ in RUNS}
            assert states == {dag_id: want for dag_id, _, want in RUNS}
            # a second run of the fan-out: histogram rates need more than the first observation
            stack.wait_for_run("example_fanout", stack.trigger("example_fanout", {"n": 3}))
            _provoke_error_paths(live, bridge_udp)
            # A second failure and a second missed deadline, long after Prometheus scraped the first ones:
            # the "in range" panels count them, and promtool counts both (see test_ten_minute_rules_...).
            for dag_id in ("example_fails_on_purpose", "observability_probe"):
                stack.wait_for_run(dag_id, stack.trigger(dag_id))
            _wait_for_expectations(live)
            live.finished = time.time()
            if os.environ.get("AIRDECK_WRITE_GOLDEN") == "1":
                write_capture(tee.lines())
            yield live
    finally:
        tee.stop()
        otlp.stop()
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------- provoking
def _db(stack: Stack) -> psycopg.Connection:
    password = (stack.home / "secrets" / "database_password").read_text().strip()
    return psycopg.connect(host="127.0.0.1", port=stack.settings["database"]["embedded"]["port"], user="airflow",
                           password=password, dbname="airflow", autocommit=True)


def _times_sent(live: Live, name: str) -> int:
    """How many times Airflow sent the tagged StatsD metric ``airflow.<name>`` (seen by the recording tee)."""
    return sum(1 for line in live.tee.lines() if line.startswith((f"airflow.{name},", f"airflow.{name}:")))


def _wait_sent(live: Live, name: str, timeout: float, while_waiting: Callable[[], None] | None = None,
               times: int = 1) -> None:
    start = time.monotonic()
    while _times_sent(live, name) < times:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"Airflow did not send {name} {times} time(s) within {timeout:.0f}s of "
                                 f"provoking it (sent {_times_sent(live, name)})")
        if while_waiting is not None:
            while_waiting()
        else:
            time.sleep(1)
    live.provoked[name] = round(live.provoked.get(name, 0.0) + time.monotonic() - start, 1)


def _wait_sent_again(live: Live, name: str, timeout: float, while_waiting: Callable[[], None] | None = None) -> None:
    """One more ``airflow.<name>`` after Prometheus has scraped the ones before it."""
    time.sleep(SCRAPE_SECONDS + 1)
    _wait_sent(live, name, timeout, while_waiting, times=_times_sent(live, name) + 1)


def _held_ti(live: Live, task_id: str, state: str, try_number: int = 1, timeout: float = 240) -> None:
    run_id = live.runs["observability_held"]
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        response = live.stack.api("GET", f"/dags/observability_held/dagRuns/{run_id}/taskInstances/{task_id}")
        body = response.json() if response.status_code == 200 else {}
        seen = (body.get("state"), body.get("try_number")) if body else response.status_code
        if seen == (state, try_number):
            return
        time.sleep(2)
    raise AssertionError(f"observability_held.{task_id} is {seen}, not ({state}, try {try_number}), "
                         f"after {timeout:.0f}s")


def _provoke_error_paths(live: Live, bridge_udp: int) -> None:
    """The failures a healthy run does not make, each provoked the way it happens in production, twice."""
    stack, run_id = live.stack, live.runs["observability_held"]
    # A malformed line reaches the bridge (the pipeline's error panel).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(MALFORMED, ("127.0.0.1", bridge_udp))
        time.sleep(SCRAPE_SECONDS + 1)
        sock.sendto(MALFORMED, ("127.0.0.1", bridge_udp))
    with _db(stack) as conn:
        # A second scheduler inside the critical section: on PostgreSQL the scheduler first tries the
        # transaction-scoped advisory lock airflow.utils.db.DBLocks.SCHEDULER_CRITICAL_SECTION (= 2) and
        # counts critical_section_busy when another session holds it (at every loop while it is held).
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CRITICAL_SECTION_LOCK,))
            _wait_sent(live, "scheduler.critical_section_busy", 60)
            _wait_sent_again(live, "scheduler.critical_section_busy", 60)
        for attempt in range(1, TWICE + 1):  # both tries of the task (retries=1)
            # A task instance's state changed behind the executor's back while it runs.
            _held_ti(live, "changed_outside", "running", attempt)
            time.sleep(SCRAPE_SECONDS + 1)  # Prometheus has seen the count before this one
            conn.execute("UPDATE task_instance SET state = 'queued' WHERE dag_id = 'observability_held' "
                         "AND run_id = %s AND task_id = 'changed_outside'", (run_id,))
            _wait_sent(live, "scheduler.tasks.killed_externally", 180, times=attempt)
        for attempt in range(1, TWICE + 1):
            # A worker that stops heartbeating: the task's supervisor process (it heartbeats for the task) is
            # frozen, and the last heartbeat is moved past [scheduler] task_instance_heartbeat_timeout (300 s)
            # instead of waiting it out.
            _held_ti(live, "heartbeat_lost", "running", attempt)
            time.sleep(SCRAPE_SECONDS + 1)
            _lose_heartbeat(live, conn, run_id, attempt)
    # A broker that does not accept writes in time: Celery's publish times out ([celery] operation_timeout).
    password = (stack.home / "secrets" / "broker_password").read_text().strip()
    broker = redis.Redis(host="127.0.0.1", port=stack.settings["broker"]["embedded"]["port"], password=password)
    slow_runs: list[tuple[str, float]] = []

    def pause_writes() -> None:
        if not slow_runs or (len(slow_runs) < 8 and time.monotonic() - slow_runs[-1][1] > 20):
            slow_runs.append((stack.trigger("example_slow", {"seconds": 1}), time.monotonic()))
        broker.execute_command("CLIENT", "PAUSE", "3000", "WRITE")
        time.sleep(3.5)

    try:
        _wait_sent(live, "celery.task_timeout_error", 120, pause_writes)
        _wait_sent_again(live, "celery.task_timeout_error", 150, pause_writes)
    finally:
        broker.execute_command("CLIENT", "UNPAUSE")
        broker.close()
    for slow_run, _ in slow_runs:
        assert stack.wait_for_run("example_slow", slow_run) == "success"  # the publish was retried
    # observability_held's triggers: one raises (twice: the task has one retry), one blocks the event loop
    # every few seconds.
    _wait_sent(live, "triggers.failed", 120, times=TWICE)
    _wait_sent(live, "triggers.blocked_main_thread", 120)
    _wait_sent_again(live, "triggers.blocked_main_thread", 60)
    # observability_slow_parse.py outlives [dag_processor] dag_file_processor_timeout at every parse.
    _wait_sent(live, "dag_processing.processor_timeouts", 240)
    _wait_sent_again(live, "dag_processing.processor_timeouts", 240)


def _lose_heartbeat(live: Live, conn: psycopg.Connection, run_id: str, attempt: int) -> None:
    row = conn.execute("SELECT pid FROM task_instance WHERE dag_id = 'observability_held' AND run_id = %s "
                       "AND task_id = 'heartbeat_lost'", (run_id,)).fetchone()
    assert row is not None and row[0], "observability_held.heartbeat_lost runs but has no pid"
    task = psutil.Process(row[0])
    supervisor = task.parent()
    assert supervisor is not None and supervisor.cmdline()[0].startswith("airflow supervisor:"), (
        f"the parent of task pid {row[0]} is not its task supervisor: {supervisor and supervisor.cmdline()[:1]}")
    supervisor.suspend()
    try:
        conn.execute("UPDATE task_instance SET last_heartbeat_at = now() - interval '1 hour' "
                     "WHERE dag_id = 'observability_held' AND run_id = %s AND task_id = 'heartbeat_lost'",
                     (run_id,))
        _wait_sent(live, "task_instances_without_heartbeats_killed", 120, times=attempt)
    finally:
        for process in (task, supervisor):
            with contextlib.suppress(psutil.Error):
                process.kill()


# ------------------------------------------------------------------------------------------- expectations
@dataclass(frozen=True)
class Want:
    """What one query must show, and why the provoked or held state implies it.

    ``kind``: ``positive`` (a value > 0), ``exact`` (that value), ``series`` (a series, any value: only
    where 0 is the truthful value here), ``promtool`` (a 10-minute rule: it evaluates without error live,
    its values are proven by test_ten_minute_rules_on_the_live_series). ``over``: ``now`` (at the end) or
    ``run`` (at some instant since the platform started). Each dict of ``labels`` must be met by one series.
    """

    kind: str
    why: str
    labels: tuple[dict[str, str], ...] = ({},)
    value: float = 0.0
    over: str = "now"


def now(why: str, *labels: dict[str, str]) -> Want:
    return Want("positive", why, labels or ({},))


def seen(why: str, *labels: dict[str, str]) -> Want:
    return Want("positive", why, labels or ({},), over="run")


def exactly(value: float, why: str, *labels: dict[str, str]) -> Want:
    return Want("exact", why, labels or ({},), value)


def zero_is_truthful(why: str) -> Want:
    return Want("series", why)


TEN_MINUTES = Want("promtool", "offset 10m: its values are proven by promtool on the live series "
                               "(test_ten_minute_rules_on_the_live_series); live it must evaluate without error")
_TWICE = "each provoked twice, the second after a scrape (a counter's first event is its series' birth)"
_HELD = "observability_held's run never ends"
_STARVED = ("observability_held.starved needs 2 slots of a 1-slot pool (Airflow 3.3.2 never counts a task in a "
            "pool with no open slot as starving: scheduler_job_runner.py leaves such pools out of its query)")
OK, FAILED = {"state": "success"}, {"state": "failed"}

PANELS: dict[str, Want] = {
    # ---- overview
    "airdeck-overview:Scheduler heartbeats / min:A": now("the scheduler heartbeats every loop"),
    "airdeck-overview:DAG processor heartbeats / min:A": now("the dag-processor heartbeats every loop"),
    "airdeck-overview:Triggerer heartbeats / min:A": now("the triggerer heartbeats every loop"),
    "airdeck-overview:Metrics bridge up:A": exactly(1, "Prometheus scrapes the bridge"),
    "airdeck-overview:DAG import errors:A": now("observability_slow_parse.py outlives the processor timeout "
                                                "and is recorded as an import error"),
    "airdeck-overview:Firing alerts:A": zero_is_truthful(
        "every alert rule waits its `for:` (2 to 15 minutes) and the run is shorter; the alerts themselves "
        "are proven by promtool (prometheus/tests/alerts_test.yml)"),
    "airdeck-overview:Task attempts finished / s, by state:A": seen(
        "tasks succeed all along (the ticker) and fail (example_fails_on_purpose, twice)", OK, FAILED),
    "airdeck-overview:DAG runs finished / min, by state:A": seen(
        "runs succeed all along and example_fails_on_purpose fails twice", OK, FAILED),
    "airdeck-overview:Running:A": now(_HELD),
    "airdeck-overview:Running:B": now("observability_held.running sleeps an hour on a worker"),
    "airdeck-overview:Task starts / min:A": seen("the ticker and the example runs start tasks"),
    "airdeck-overview:Failed DAG runs (last 10 min), by DAG:A": TEN_MINUTES,
    "airdeck-overview:Task failure ratio (1 h), worst 10 DAGs:A": seen(
        "example_fails_on_purpose's tasks fail in both runs", {"dag_id": "example_fails_on_purpose"}),
    "airdeck-overview:Deadline misses (last 10 min), by DAG:A": TEN_MINUTES,
    "airdeck-overview:Deadlines missed in range:A": seen("observability_probe misses its 2 s deadline twice"),
    "airdeck-overview:Tasks killed without heartbeat in range:A": seen(
        f"observability_held.heartbeat_lost loses its heartbeat, {_TWICE}"),
    # ---- scheduler
    "airdeck-scheduler:Scheduler loop duration:A": now("the scheduler loops all the time"),
    "airdeck-scheduler:Scheduler loop duration:B": now("the scheduler loops all the time"),
    "airdeck-scheduler:Critical section duration:A": seen("the scheduler queues tasks in its critical section"),
    "airdeck-scheduler:Critical section duration:B": seen("the scheduler queues tasks in its critical section"),
    "airdeck-scheduler:Critical section query duration:A": seen("the critical section queries the pools"),
    "airdeck-scheduler:Critical section busy / min:A": seen(
        "the test holds the critical-section lock over several scheduler loops"),
    "airdeck-scheduler:Mean time queued before running (15 min), all queues:A": seen(
        "observability_held.unserved stays queued while other tasks start"),
    "airdeck-scheduler:Queued task instances, by queue:A": exactly(
        1, "observability_held.unserved, alone in a queue no worker consumes", {"queue": UNSERVED_QUEUE}),
    "airdeck-scheduler:Scheduled → queued latency, by queue:A": seen("every task started is queued first"),
    "airdeck-scheduler:Scheduled → queued latency, by queue:B": seen("every task started is queued first"),
    # A gauge set in each scheduler loop: a task is executable only between two loops, so the scrapes can
    # miss every non-zero sample on a loaded machine (CI saw only 0 once). Zero is a truthful reading.
    "airdeck-scheduler:Executable and starving tasks:A": zero_is_truthful(
        "executable only between two scheduler loops; the scrapes may never see it"),
    "airdeck-scheduler:Executable and starving tasks:B": now(_STARVED),
    "airdeck-scheduler:Task state changes outside the executor:A": seen(
        f"observability_held.changed_outside is set queued while it runs, {_TWICE}"),
    "airdeck-scheduler:Task state changes outside the executor:B": seen(
        f"observability_held.heartbeat_lost loses its heartbeat, {_TWICE}"),
    "airdeck-scheduler:Executor slots:A": now("the executor's parallelism is far from used"),
    "airdeck-scheduler:Executor slots:B": zero_is_truthful(
        "BaseExecutor.heartbeat reports queued_tasks and hands them to Celery in the same heartbeat; a 2 s "
        "scrape catches that instant only by chance"),
    "airdeck-scheduler:Executor slots:C": now("observability_held.running sleeps an hour on a worker"),
    "airdeck-scheduler:Executor utilisation:A": now("observability_held.running holds an executor slot"),
    "airdeck-scheduler:Parse time and queue:A": now("the dag-processor parses the DAG files"),
    "airdeck-scheduler:Parse time and queue:B": zero_is_truthful(
        "the file queue empties at each parse loop; its size is sampled between loops"),
    "airdeck-scheduler:Stalest DAG files:A": now("every file was parsed some seconds ago"),
    "airdeck-scheduler:Slowest DAG files to parse:A": now("every file is parsed again and again"),
    "airdeck-scheduler:Import errors and processor timeouts:A": now(
        "observability_slow_parse.py is recorded as an import error"),
    "airdeck-scheduler:Import errors and processor timeouts:B": seen(
        f"observability_slow_parse.py outlives the processor timeout at every parse, {_TWICE}"),
    # ---- one DAG (all DAGs selected)
    "airdeck-dag:DAG run success ratio (range):A": now("the ticker succeeds every minute"),
    "airdeck-dag:Finished runs (range):A": seen("runs succeed and example_fails_on_purpose fails twice", OK, FAILED),
    "airdeck-dag:DAG run success ratio (1 day), by DAG:A": seen(
        "the ticker succeeds every minute", {"dag_id": "observability_ticker"}),
    "airdeck-dag:Task outcomes / min, by task and state:A": seen("tasks succeed and fail", OK, FAILED),
    "airdeck-dag:Task failure ratio (1 h), by DAG:A": seen(
        "example_fails_on_purpose's tasks fail in both runs", {"dag_id": "example_fails_on_purpose"}),
    "airdeck-dag:DAG run duration (trailing hour), by DAG:A": seen("runs succeed, each taking some time"),
    "airdeck-dag:DAG run duration (trailing hour), by DAG:B": seen("runs succeed, each taking some time"),
    "airdeck-dag:Task duration (trailing hour), by task:A": seen("tasks run, each taking some time"),
    "airdeck-dag:Task duration (trailing hour), by task:B": seen("tasks run, each taking some time"),
    "airdeck-dag:Mean task duration (trailing hour), by task:A": seen("tasks run, each taking some time"),
    "airdeck-dag:Mean time queued (trailing hour), by task:A": zero_is_truthful(
        "ti.queued is sampled every 30 s ([scheduler] ti_metrics_interval): a task that starts in between "
        "is never seen queued (0 is its truthful mean); the one task always queued, unserved, never starts"),
    "airdeck-dag:Schedule delay (trailing hour), by DAG:A": seen(
        "the ticker's scheduled runs start after their logical date", {"dag_id": "observability_ticker"}),
    "airdeck-dag:First task scheduling delay (trailing hour), by DAG:A": seen("runs schedule their first task"),
    "airdeck-dag:Deadline misses / hour, by DAG:A": seen(
        "observability_probe misses its deadline twice", {"dag_id": "observability_probe"}),
    # ---- workers
    "airdeck-workers:Pool slots:A": exactly(1, "nothing runs in the 1-slot pool; default_pool has plenty "
                                            "(checked below)", {"pool_name": STARVED_POOL}),
    "airdeck-workers:Pool slots:B": now("observability_held.running holds a default_pool slot",
                                        {"pool_name": "default_pool"}),
    "airdeck-workers:Pool slots:C": now("observability_held.unserved is queued in default_pool",
                                        {"pool_name": "default_pool"}),
    "airdeck-workers:Pool slots:D": exactly(2, "observability_held.starved stays scheduled in its pool with its 2 "
                                            "slots (pool.scheduled_slots counts slots, not tasks)",
                                            {"pool_name": STARVED_POOL}),
    "airdeck-workers:Pool slots:E": now("observability_held.deferred and trigger_blocks are deferred",
                                        {"pool_name": "default_pool"}),
    "airdeck-workers:Pool utilisation:A": now("observability_held.running holds a default_pool slot",
                                              {"pool_name": "default_pool"}),
    "airdeck-workers:Starving tasks:A": exactly(1, _STARVED,
                                                {"pool_name": STARVED_POOL}),
    "airdeck-workers:Task instances by state:A": now("observability_held.starved is scheduled for ever"),
    "airdeck-workers:Task instances by state:B": now("observability_held.unserved is queued for ever"),
    "airdeck-workers:Task instances by state:C": now("observability_held.running runs for an hour"),
    "airdeck-workers:Task instances by state:D": now("observability_held.deferred waits an hour deferred"),
    "airdeck-workers:Queued and running by queue:A": exactly(1, "observability_held.unserved",
                                                             {"queue": UNSERVED_QUEUE}),
    "airdeck-workers:Queued and running by queue:B": now("observability_held.running runs on the default queue"),
    "airdeck-workers:Task starts and finishes / min:A": seen("tasks start all along"),
    "airdeck-workers:Task starts and finishes / min:B": seen("tasks finish all along"),
    "airdeck-workers:Celery publish timeouts / min:A": seen(f"the broker refuses writes, {_TWICE}"),
    "airdeck-workers:Triggers running and capacity left:A": now(
        "observability_held.deferred and trigger_blocks' triggers run for ever"),
    "airdeck-workers:Triggers running and capacity left:B": now("the triggerer runs far below its capacity"),
    "airdeck-workers:Triggerer capacity free:A": now("the triggerer runs far below its capacity"),
    "airdeck-workers:Trigger outcomes / min:A": seen("observability_probe's sensor trigger fires (twice)"),
    "airdeck-workers:Trigger outcomes / min:B": seen(f"FailureTrigger raises, {_TWICE} (the task's retry)"),
    "airdeck-workers:Trigger outcomes / min:C": seen("BlockingTrigger blocks the event loop every 5 s"),
    # ---- pipeline
    "airdeck-pipeline:Bridge up:A": exactly(1, "Prometheus scrapes the bridge"),
    "airdeck-pipeline:Mapping rules loaded:A": now("the bridge loaded prometheus/statsd-mapping.yml"),
    "airdeck-pipeline:Unmapped events (range):A": exactly(0, "everything Airflow sends is mapped"),
    "airdeck-pipeline:Type conflicts (range):A": exactly(0, "no metric changes type"),
    "airdeck-pipeline:Scrape duration:A": now("every scrape takes some time"),
    "airdeck-pipeline:Series exported:A": now("the bridge exports Airflow's series"),
    "airdeck-pipeline:Events / s, by type:A": seen("Airflow sends all along"),
    "airdeck-pipeline:Mapping outcomes / s:A": seen("events are mapped and legacy names dropped",
                                                    {"action": "map"}, {"action": "drop"}),
    "airdeck-pipeline:Mapping outcomes / s:B": exactly(0, "everything Airflow sends is mapped"),
    "airdeck-pipeline:Errors / s:A": seen(f"the test sends a malformed line to the bridge, {_TWICE}"),
    "airdeck-pipeline:Errors / s:B": exactly(0, "Airflow's influx tags all parse"),
    "airdeck-pipeline:UDP packet drops / s:A": exactly(0, "the bridge keeps up with Airflow"),
}

RULES: dict[str, Want] = {
    "airflow:ti_finish:rate5m": seen("tasks succeed and fail", OK, FAILED),
    "airflow:ti_finish:increase1h": seen("tasks succeed and fail", OK, FAILED),
    "airflow:ti_failure_ratio:1h": seen("example_fails_on_purpose's tasks fail in both runs",
                                        {"dag_id": "example_fails_on_purpose"}),
    "airflow:task_queued_wait_seconds:mean15m": seen("observability_held.unserved stays queued while tasks start"),
    "airflow:dagrun_finished:increase1d": seen("runs succeed and example_fails_on_purpose fails twice", OK, FAILED),
    "airflow:dagrun_success_ratio:1d": seen("the ticker succeeds every minute", {"dag_id": "observability_ticker"}),
    "airflow:dagrun_failed:increase10m": TEN_MINUTES,
    "airflow:deadline_missed:increase10m": TEN_MINUTES,
    "airflow:pool_utilisation:ratio": now("observability_held.running holds a default_pool slot",
                                          {"pool_name": "default_pool"}),
    "airflow:executor_utilisation:ratio": now("observability_held.running holds an executor slot"),
    "airflow:triggerer_capacity_left:ratio": now("the triggerer runs far below its capacity"),
    "airflow:scheduler_loop_duration_seconds:p95_5m": now("the scheduler loops all the time"),
    "airflow:scheduler_critical_section_duration_seconds:p95_5m": seen(
        "the scheduler queues tasks in its critical section"),
}
#: What each 10-minute rule counts, and the counts per DAG the fixture provoked.
TEN_MINUTE_RULES: dict[str, tuple[str, dict[str, float]]] = {
    "airflow:dagrun_failed:increase10m": ('airflow_dagrun_duration_seconds_count{state="failed"}',
                                          {"example_fails_on_purpose": 2}),
    "airflow:deadline_missed:increase10m": ("airflow_deadline_alerts_deadline_missed_total",
                                            {"observability_probe": 2}),
}


def _query(live: Live, expr: str) -> list[dict]:
    response = httpx.get(f"{live.prometheus}/api/v1/query", params={"query": expr}, timeout=30)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", f"{expr}\n{body}"
    result = body["data"]["result"]
    return result if isinstance(result, list) else [{"value": result}]


def _query_range(live: Live, expr: str, start: float, end: float, step: float) -> list[dict]:
    response = httpx.get(f"{live.prometheus}/api/v1/query_range",
                         params={"query": expr, "start": start, "end": end, "step": step}, timeout=60)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", f"{expr}\n{body}"
    return body["data"]["result"]


def _has_data(result: list[dict]) -> bool:
    return any(not math.isnan(float(item["value"][1])) for item in result)


def _observed(live: Live, expr: str, over: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) per series: the value now, or the largest since the platform started."""
    if over == "now":
        return [(item.get("metric", {}), float(item["value"][1])) for item in _query(live, expr)]
    found = []
    for item in _query_range(live, expr, live.started, time.time(), 5):
        values = [float(v) for _, v in item["values"] if not math.isnan(float(v))]
        if values:
            found.append((item["metric"], max(values)))
    return found


def _rule_health(live: Live) -> dict[str, tuple[str, str, str]]:
    groups = httpx.get(f"{live.prometheus}/api/v1/rules", timeout=30).json()["data"]["groups"]
    return {rule["name"]: (rule.get("health", ""), rule.get("lastError", ""), rule.get("lastEvaluation", ""))
            for g in groups for rule in g["rules"]}


def _unmet(live: Live, expr: str, want: Want, record: str | None = None) -> str | None:
    """Why ``expr`` does not show what ``want`` says (None when it does)."""
    if want.kind == "promtool":
        _query(live, expr)  # evaluates without error on the live series
        if record is None:
            return None
        health, error, evaluated = _rule_health(live).get(record, ("missing", "", ""))
        if health != "ok" or error or evaluated.startswith("0001"):
            return f"rule {record} is {health!r} (last error {error!r}, last evaluated {evaluated})"
        return None
    observed = _observed(live, expr, want.over)
    for labels in want.labels:
        matching = [v for metric, v in observed if labels.items() <= metric.items() and not math.isnan(v)]
        if want.kind == "series" and matching:
            continue
        if want.kind == "positive" and any(v > 0 for v in matching):
            continue
        if want.kind == "exact" and any(math.isclose(v, want.value, abs_tol=1e-9) for v in matching):
            continue
        wanted = {"series": "a series", "positive": "a value > 0", "exact": f"the value {want.value:g}"}[want.kind]
        where = {"now": "now", "run": "at any instant of the run"}[want.over]
        got = sorted(f"{{{', '.join(f'{k}={v}' for k, v in sorted(metric.items()) if k != '__name__')}}} {value:g}"
                     for metric, value in observed)[:8]
        return (f"wanted {wanted} {where} for {labels or 'some series'} because {want.why}; "
                f"Prometheus has {got or 'nothing'}")
    return None


def _recording_rules() -> list[tuple[str, str]]:
    return [(rule["record"], rule["expr"])
            for path in sorted((REPO / "prometheus" / "rules").glob("*.yml"))
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "record" in rule]


QUERIES = list(iter_queries())
RECORDS = _recording_rules()


def _query_id(query: Any) -> str:
    return f"{query.dashboard_uid}:{query.panel_title}:{query.ref_id}"


def _wait_for_expectations(live: Live, timeout: float = 300) -> None:
    """Wait until every query and rule shows what it should (the rule groups run every minute; the ticker
    needs its second scheduled run). The tests then say which one did not."""
    checks: list[tuple[str, Want, str | None]] = [(render_expr(q.expr), PANELS[_query_id(q)], None)
                                                  for q in QUERIES]
    checks += [(expr, RULES[name], name) for name, expr in RECORDS]
    checks += [(name, RULES[name], name) for name, _ in RECORDS]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_unmet(live, expr, want, record) is None for expr, want, record in checks):
            return
        time.sleep(10)


# ------------------------------------------------------------------------------------------- panels
def test_every_query_and_rule_states_what_it_must_show() -> None:
    """No query is left to a blanket "has data": each one has its row, and each row a reason."""
    assert set(PANELS) == {_query_id(q) for q in QUERIES}, (
        f"without a row: {sorted({_query_id(q) for q in QUERIES} - set(PANELS))}; "
        f"stale rows: {sorted(set(PANELS) - {_query_id(q) for q in QUERIES})}")
    assert set(RULES) == {name for name, _ in RECORDS}
    assert {name for name, want in RULES.items() if want.kind == "promtool"} == set(TEN_MINUTE_RULES)
    assert all(want.why for want in [*PANELS.values(), *RULES.values()])


@pytest.mark.parametrize("query", QUERIES, ids=[_query_id(q) for q in QUERIES])
def test_dashboard_query_shows_the_provoked_state(live: Live, query) -> None:  # type: ignore[no-untyped-def]
    problem = _unmet(live, render_expr(query.expr), PANELS[_query_id(query)])
    assert problem is None, f"panel {query.panel_title!r} of {query.dashboard_uid}: {problem}\n{query.expr}"


def test_default_pool_has_open_slots(live: Live) -> None:
    assert _unmet(live, "sum by (pool_name) (airflow_pool_open_slots)",
                  now("default_pool has 128 slots, few used", {"pool_name": "default_pool"})) is None


def _variable_expr(query: str) -> str:
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip(), re.S)
    assert match, f"unsupported variable query {query!r}"
    return f"count by ({match.group(2)}) ({render_expr(match.group(1))})"


@pytest.mark.parametrize("variable", list(iter_variable_queries()), ids=lambda v: f"{v.dashboard_uid}:{v.name}")
def test_dashboard_variable_has_values(live: Live, variable) -> None:  # type: ignore[no-untyped-def]
    result = _query(live, _variable_expr(variable.query))
    values = {item["metric"].get(_variable_expr(variable.query).split("(")[1].split(")")[0]) for item in result}
    assert values - {None, ""}, f"variable {variable.name} of {variable.dashboard_uid} has no values"


def test_dashboard_variables_see_the_example_dags(live: Live) -> None:
    dag_ids = {item["metric"]["dag_id"] for item in _query(live, "count by (dag_id) (airflow_ti_finish_total)")}
    assert {dag_id for dag_id, _, _ in RUNS} <= dag_ids
    task_ids = {item["metric"]["task_id"] for item in
                _query(live, 'count by (task_id) (airflow_ti_finish_total{dag_id="example_fanout"})')}
    assert "process.work" in task_ids  # a TaskGroup task id keeps its dot; mapped instances share it
    pools = {item["metric"]["pool_name"] for item in _query(live, "count by (pool_name) (airflow_pool_open_slots)")}
    assert {"default_pool", PROBE_POOL, STARVED_POOL} <= pools


# ------------------------------------------------------------------------------------------- rules
@pytest.mark.parametrize(("record", "expr"), RECORDS, ids=[name for name, _ in RECORDS])
def test_recording_rule_shows_the_provoked_state(live: Live, record: str, expr: str) -> None:
    want = RULES[record]
    problem = _unmet(live, expr, want, record)
    assert problem is None, f"recording rule {record}'s expression: {problem}\n{expr}"
    problem = _unmet(live, record, want, record)
    assert problem is None, f"Prometheus' recorded {record}: {problem}"


def test_first_failure_ingredients_are_live(live: Live) -> None:
    """What the 10-minute rules count is in Prometheus, with the counts the fixture provoked."""
    for record, (selector, counts) in TEN_MINUTE_RULES.items():
        got = {item["metric"]["dag_id"]: float(item["value"][1])
               for item in _query(live, f"sum by (dag_id) ({selector})")}
        assert got == counts, (record, selector, got)


def _series_text(metric: dict[str, str]) -> str:
    name = metric.get("__name__", "")
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{labels}}}"


def test_ten_minute_rules_on_the_live_series(live: Live, tmp_path: Path) -> None:
    """promtool evaluates the two ``offset 10m`` rules on the series Prometheus scraped in this run.

    The live series are read back at a 5 s step and placed after 11 minutes in which the bridge was up
    and none of them existed yet (so the rules' "first event" branch is armed), then held flat for
    13 minutes. 90 s after the capture each rule must count every failure and missed deadline
    the fixture provoked (both series were born inside the window); twelve minutes after, nothing
    (the dashboards' ``> 0`` panels are empty again)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("PROMTOOL IS NOT INSTALLED (Debian package prometheus): the 10-minute rules were not "
                    "evaluated on the live series")
    step = 5
    points = int((live.finished - live.started) // step) + 1
    pad, tail = 11 * 60 // step, 13 * 60 // step
    series = []
    for selector in ['up{job="airdeck-statsd"}', *(sel for sel, _ in TEN_MINUTE_RULES.values())]:
        matrix = _query_range(live, selector, live.started, live.started + (points - 1) * step, step)
        assert matrix, f"nothing in Prometheus for {selector}"
        for item in matrix:
            by_step = {round((float(ts) - live.started) / step): value for ts, value in item["values"]}
            captured = [by_step.get(i, "_") for i in range(points)]
            last = next(value for value in reversed(captured) if value != "_")
            before = ["1" if item["metric"].get("__name__") == "up" else "_"] * pad
            series.append({"series": _series_text(item["metric"]),
                           "values": " ".join([*before, *captured, *[last] * tail])})
    captured_end = (pad + points - 1) * step
    first = min(i for s in series if not s["series"].startswith("up{")
                for i, value in enumerate(s["values"].split()) if value != "_") * step
    # the 10-minute window two minutes after the capture must still reach back to the first event
    assert captured_end + 90 - 600 < first, (
        f"the run took {captured_end - first} s from the first failure to its end: longer than one 10-minute "
        "window can hold, so the counts below would not all be inside it")
    cases = []
    for record, (_, counts) in TEN_MINUTE_RULES.items():
        samples = [{"labels": f'{record}{{dag_id="{dag_id}"}}', "value": count} for dag_id, count in counts.items()]
        cases += [
            {"expr": record, "eval_time": f"{captured_end + 90}s", "exp_samples": samples},
            {"expr": f"{record} > 0", "eval_time": f"{captured_end + 90}s", "exp_samples": samples},
            {"expr": record, "eval_time": f"{captured_end + 720}s",
             "exp_samples": [{**sample, "value": 0} for sample in samples]},
            {"expr": f"{record} > 0", "eval_time": f"{captured_end + 720}s", "exp_samples": []},
        ]
    test_file = tmp_path / "live_ten_minute_rules_test.yml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [str(REPO / "prometheus" / "rules" / "recording.yml")],
        "evaluation_interval": "1m",
        "tests": [{"name": "the 10-minute rules on this run's live series", "interval": f"{step}s",
                   "input_series": series, "promql_expr_test": cases}],
    }, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, f"promtool on the live series ({test_file}):\n{result.stdout}{result.stderr}"


def test_rules_loaded_without_errors(live: Live) -> None:
    unhealthy = {name: state for name, state in _rule_health(live).items() if state[0] not in ("ok", "unknown")}
    assert _rule_health(live) and not unhealthy


def test_prometheus_scrapes_the_bridge(live: Live) -> None:
    up = _query(live, 'up{job="airdeck-statsd"}')
    assert [item["value"][1] for item in up] == ["1"]


# ------------------------------------------------------------------------------------------- mapping
def _bridge_self_metrics(live: Live) -> dict[str, float]:
    text = httpx.get(f"{live.bridge}/metrics", timeout=30).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("statsd_exporter_") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = values.get(name, 0.0) + float(value)
    return values


def test_bridge_saw_nothing_unmapped_or_broken(live: Live) -> None:
    # Airflow keeps sending (a processor times out every minute): compare at a moment both sides agree.
    for _ in range(20):
        values = _bridge_self_metrics(live)
        refused = _refused_decrements(live.tee.lines())
        errors = {k: v for k, v in values.items() if k.startswith("statsd_exporter_events_error_total")}
        if sum(errors.values()) == refused:
            break
        time.sleep(0.5)
    assert sum(v for k, v in values.items() if k.startswith("statsd_exporter_events_total")) > 1000
    for prefix in ("statsd_exporter_events_unmapped_total", "statsd_exporter_events_conflict_total",
                   "statsd_exporter_tag_errors_total", "statsd_exporter_udp_packet_drops_total"):
        assert sum(v for k, v in values.items() if k.startswith(prefix)) == 0, prefix
    assert set(errors) <= {'statsd_exporter_events_error_total{reason="illegal_negative_counter"}'}, errors
    assert sum(errors.values()) == refused, (errors, refused)


_DECREMENT = re.compile(r"airflow\.dag_processing\.processes[,:][^|]*:-")


def _refused_decrements(lines: list[str]) -> float:
    """The only events the bridge may refuse: Airflow decrements ``dag_processing.processes`` when it kills
    a parsing process (here the timed-out observability_slow_parse.py), and a StatsD counter cannot go
    down (see the mapping). How many of these lines the bridge's engine refuses."""
    return map_lines([line for line in lines if _DECREMENT.match(line)])[1]["errors"]


def test_live_capture_maps_everything_dashboards_and_rules_use(live: Live) -> None:
    lines = live.tee.lines()
    assert len(lines) > 1000
    series, stats = map_lines(trim(lines))
    assert stats["unmapped"] == 0 and stats["conflicts"] == 0, stats
    assert stats["errors"] == _refused_decrements(trim(lines)) > 0, stats  # the processor timeouts' decrements
    produced = {name for name, _ in series}
    missing = {metric: sorted(where)[:3] for metric, where in referenced_metrics().items()
               if metric.startswith("airflow_") and metric not in produced and metric not in NOT_IN_CAPTURE}
    assert not missing, f"used by dashboards/rules but not in the live capture: {missing}"


# ------------------------------------------------------------------------------------------- traces
def test_traces_for_dag_run_and_tasks(live: Live) -> None:
    run_id = live.runs["example_fanout"]

    def complete(spans: list) -> bool:  # type: ignore[type-arg]
        names = {s.name for s in spans if s.attributes.get("airflow.dag_run.run_id") == run_id
                 or s.attributes.get("airflow.dag_id") == "example_fanout"}
        return "dag_run.example_fanout" in names and any(n.startswith("worker.process.work[") for n in names)

    assert live.otlp.wait_for(complete, timeout=120), dump_spans(live.otlp.spans)
    assert all("protobuf" in content_type for content_type in live.otlp.requests)  # OTLP/HTTP protobuf
    dag_run = next(s for s in live.otlp.spans if s.name == "dag_run.example_fanout"
                   and s.attributes.get("airflow.dag_run.run_id") == run_id)
    in_trace = [s for s in live.otlp.spans if s.trace_id == dag_run.trace_id]
    names = {s.name for s in in_trace}
    # the scheduler's DAG-run span, the api-server's task spans and the workers' task spans share one trace
    assert {"task_run.partitions", "task_run.combine"} <= names, sorted(names)
    assert {f"task_run.process.work[{i}]" for i in range(5)} <= names, sorted(names)
    assert any(n.startswith("worker.process.work[") for n in names), sorted(names)
    task_runs = [s for s in in_trace if s.name.startswith("task_run.")]
    assert all(s.parent_span_id == dag_run.span_id for s in task_runs)
    services = {s.resource.get("airdeck.service") for s in in_trace}
    assert {"scheduler", "api-server", "worker-1"} <= services, services
