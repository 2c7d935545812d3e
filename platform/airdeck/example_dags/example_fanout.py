"""Dynamic task mapping inside a TaskGroup: one mapped task instance per item.

Trigger with the run parameter ``n`` to choose the width of the fan-out (default 20).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task, task_group


@dag(
    dag_id="example_fanout",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "fanout"],
    params={"n": Param(20, type="integer", minimum=1, maximum=5000)},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=5), "owner": "data-platform"},
    max_active_tasks=64,
    doc_md=__doc__,
)
def example_fanout():
    @task
    def partitions() -> list[int]:
        return list(range(int(get_current_context()["params"]["n"])))

    @task_group(group_id="process")
    def process(items):
        @task
        def work(i: int) -> int:
            return i * i

        return work.expand(i=items)

    @task
    def combine(values) -> int:
        total = sum(values)
        print(f"combined {total}")
        return total

    combine(process(partitions()))


example_fanout()
