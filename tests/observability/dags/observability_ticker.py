"""A DAG for the live observability test scheduled every minute.

Only scheduler-made runs of a periodic DAG send ``dagrun.schedule_delay`` and
``dagrun.first_task_scheduling_delay``; the trailing-hour p95 panels need at least two observations
of a DAG's series (a histogram rate over a series born with its only observation is 0/0).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="observability_ticker", schedule="* * * * *", start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, tags=["test", "observability"])
def observability_ticker():
    @task
    def tick() -> str:
        return "tick"

    tick()


observability_ticker()
