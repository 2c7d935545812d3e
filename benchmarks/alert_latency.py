"""Alerting benchmark: failure → Slack latency, missed deadline → Slack latency, dispatcher throughput.

    .venv/bin/python benchmarks/alert_latency.py                 # everything (boots one stack)
    .venv/bin/python benchmarks/alert_latency.py --part throughput
    .venv/bin/python benchmarks/alert_latency.py --part stack --events 50

Latency is measured from Airflow's own timestamps (the task instance's end_date, the deadline's
deadline_time) to the moment the local Slack-webhook receiver accepted the message.
Throughput queues alerts straight into the outbox (real PostgreSQL) and times their delivery.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airdeck-bench-airflow-"))
os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")

from tests.alerts.servers import Postgres, SlackReceiver, SmtpServer, free_port, set_connection_env  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no events measured"
    return (f"{name}: n={len(values)} p50={pct(values, 0.5):.2f}s p95={pct(values, 0.95):.2f}s "
            f"max={max(values):.2f}s mean={statistics.mean(values):.2f}s")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def throughput(count: int) -> None:
    from airdeck.alerts.dispatcher import Dispatcher
    from airdeck.alerts.store import NewAlert, Outbox, metadata, utcnow
    from airdeck.config.alerts import AlertsSettings

    with tempfile.TemporaryDirectory(prefix="airdeck-bench-") as tmp:
        pg, slack, smtp = Postgres(Path(tmp)), SlackReceiver(), SmtpServer()
        try:
            set_connection_env("bench_slack", slack.connection("/bench"))
            set_connection_env("bench_smtp", smtp.connection())
            box = Outbox.connect(pg.url)
            metadata.drop_all(box.engine)
            box.create()
            for kind, channel in (("slack", {"type": "slack", "connection": "bench_slack"}),
                                  ("email", {"type": "email", "connection": "bench_smtp", "to": ["a@example.com"]})):
                settings = AlertsSettings.model_validate({"channels": {kind: channel},
                                                          "digest": {"threshold": 10000}})
                dispatcher = Dispatcher(settings, box, None, "http://airflow")
                alerts = [NewAlert(f"task_failed|bench|run{n}|t|-1|1|{kind}", kind, "task_failed", utcnow(),
                                   {"event": "task_failed", "dag_id": "bench", "run_id": f"run{n}", "task_id": "t",
                                    "try_number": 1, "max_tries": 0, "occurred_at": utcnow().isoformat(),
                                    "log_excerpt": ["ERROR x"] * 5, "links": {}}, "bench", f"run{n}", "t")
                          for n in range(count)]
                box.enqueue(alerts)
                started = time.perf_counter()
                while box.counts()["sent"] < count * (1 if kind == "slack" else 2):
                    dispatcher.deliver_once()
                elapsed = time.perf_counter() - started
                print(f"throughput {kind}: {count} alerts in {elapsed:.2f}s = {count / elapsed:.1f} alerts/s "
                      f"(concurrency {settings.delivery.concurrency})")
            box.dispose()
        finally:
            slack.stop()
            smtp.stop()
            pg.stop()


BENCH_DAGS = '''
import time
from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="bench_fail", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["bench"],
     default_args={"retries": 0}, max_active_runs=50)
def bench_fail():
    @task
    def fail() -> None:
        raise RuntimeError("benchmark failure")

    fail()


@dag(dag_id="bench_sla", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["bench"],
     max_active_runs=50)
def bench_sla():
    @task
    def sleep() -> None:
        time.sleep(25)

    sleep()


bench_fail()
bench_sla()
'''


def stack(events: int) -> None:
    from tests.harness import running_stack

    slack = SlackReceiver()
    with tempfile.TemporaryDirectory(prefix="airdeck-bench-stack-") as tmp:
        folder = Path(tmp)
        (folder / "dags").mkdir()
        (folder / "dags" / "bench_dags.py").write_text(textwrap.dedent(BENCH_DAGS))
        extra = {
            "airflow": {"dags_folder": str(folder / "dags"), "parallelism": 32, "max_active_tasks_per_dag": 32},
            "workers": {"concurrency": 12},
            "alerts": {"channels": {"slack": {"type": "slack", "connection": "bench_slack"}},
                       "slas": [{"dag_id": "bench_sla", "within": "5s"}],
                       "digest": {"threshold": 10000},
                       "delivery": {"poll_interval": "2s"},
                       "dispatcher": {"port": free_port()}},
        }
        try:
            with running_stack(folder, extra) as st:
                conn = {"connection_id": "bench_slack", **slack.connection("/bench")}
                st.api("POST", "/connections", json=conn).raise_for_status()
                fail_runs = [st.trigger("bench_fail") for _ in range(events)]
                sla_runs = [st.trigger("bench_sla") for _ in range(events)]
                for run_id in fail_runs:
                    st.wait_for_run("bench_fail", run_id, timeout=1800)
                failure: list[float] = []
                deadline_at = time.monotonic() + 600
                while len(failure) < events and time.monotonic() < deadline_at:
                    failure = []
                    for run_id in fail_runs:
                        post = next((p for p in slack.posts if run_id in p.text and "Task failed" in p.text), None)
                        if post is not None:
                            (ti,) = st.task_instances("bench_fail", run_id)
                            failure.append(post.at - epoch(ti["end_date"]))
                    time.sleep(2)
                for run_id in sla_runs:
                    st.wait_for_run("bench_sla", run_id, timeout=1800)
                sla: list[float] = []
                deadline_at = time.monotonic() + 300
                while len(sla) < events and time.monotonic() < deadline_at:
                    sla = []
                    for run_id in sla_runs:
                        post = next((p for p in slack.posts if run_id in p.text and "SLA missed" in p.text), None)
                        if post is not None:
                            match = re.search(r"Deadline:\* ([0-9TZ:.+\- ]+) \(", post.text)
                            if match:
                                sla.append(post.at - epoch(match.group(1).strip().replace(" ", "T")))
                    time.sleep(2)
                print(summary("task final failure → Slack", failure))
                print(summary("missed deadline → Slack", sla))
        finally:
            slack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "throughput", "stack"], default="all")
    parser.add_argument("--events", type=int, default=50, help="failures and missed deadlines (default 50)")
    parser.add_argument("--alerts", type=int, default=500, help="alerts for the throughput part (default 500)")
    args = parser.parse_args()
    if args.part in ("all", "throughput"):
        throughput(args.alerts)
    if args.part in ("all", "stack"):
        stack(args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
