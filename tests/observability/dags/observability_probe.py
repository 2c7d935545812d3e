"""A DAG for the live observability test: a deferred sensor (triggerer metrics), a task in its own
pool (pool metrics by pool_name) and a Deadline Alert that is always missed (deadline metrics).

The pool ``observability_probe`` is created by the test before the run is triggered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airdeck.alerts.policy import deadline_missed  # a harmless awaitable the triggerer can import
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference, dag, task


@dag(
    dag_id="observability_probe",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["test", "observability"],
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(seconds=2),
        callback=AsyncCallback(deadline_missed),
    ),
)
def observability_probe():
    wait = TimeDeltaSensor(task_id="wait", delta=timedelta(seconds=5), deferrable=True)

    @task(pool="observability_probe")
    def pooled() -> str:
        return "ran in its own pool"

    wait >> pooled()


observability_probe()
