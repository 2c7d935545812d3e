"""A DAG that fails on purpose, after its retries, to exercise failure alerts and dashboards.

Tagged ``fails-on-purpose`` so routing rules and tests can include or exclude it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="example_fails_on_purpose",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "fails-on-purpose"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=2), "owner": "data-platform"},
    doc_md=__doc__,
)
def example_fails_on_purpose():
    @task
    def prepare() -> str:
        return "ready"

    @task
    def broken_step(state: str) -> None:
        raise RuntimeError(f"this task fails on purpose (upstream said {state!r})")

    broken_step(prepare())


example_fails_on_purpose()
