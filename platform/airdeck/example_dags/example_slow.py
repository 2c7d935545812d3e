"""A slow DAG for SLA / deadline demonstrations: one task sleeps ``seconds`` (default 90)."""

from __future__ import annotations

import time
from datetime import datetime

from airflow.sdk import Param, dag, get_current_context, task


@dag(
    dag_id="example_slow",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "sla-demo"],
    params={"seconds": Param(90, type="integer", minimum=0, maximum=86400)},
    default_args={"owner": "data-platform"},
    doc_md=__doc__,
)
def example_slow():
    @task
    def sleep() -> int:
        seconds = int(get_current_context()["params"]["seconds"])
        time.sleep(seconds)
        return seconds

    sleep()


example_slow()
