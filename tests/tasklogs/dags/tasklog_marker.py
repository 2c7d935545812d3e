"""Prints the marker its run's conf carries: the task log tests look for it in object storage."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="tasklog_marker", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def tasklog_marker() -> None:
    @task
    def say(**context: object) -> None:
        print(f"MARKER {context['dag_run'].conf.get('marker', 'none')}")  # type: ignore[attr-defined]

    say()


tasklog_marker()
