"""Celery results live in the broker: a run whose broker is killed (-9) mid-run must still finish.

``n`` tasks (run parameter, default 12) each sleep ``seconds`` (default 4) and return their index.
"""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import Param, dag, get_current_context, task


@dag(dag_id="results_across_broker_restart", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
     catchup=False, tags=["test"], max_active_tasks=64,
     params={"n": Param(12, type="integer"), "seconds": Param(4, type="number")})
def results_across_broker_restart() -> None:
    @task
    def items() -> list[int]:
        return list(range(int(get_current_context()["params"]["n"])))

    @task
    def work(i: int) -> int:
        time.sleep(float(get_current_context()["params"]["seconds"]))
        return i

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    total(work.expand(i=items()))


results_across_broker_restart()
