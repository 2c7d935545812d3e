"""200 mapped tasks that all fail at once: an alert storm."""

from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="alert_storm", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["storm"],
     default_args={"retries": 0}, max_active_tasks=32)
def alert_storm():
    @task
    def boom(i: int) -> None:
        raise RuntimeError(f"alert-test: storm {i}")

    boom.expand(i=list(range(200)))


alert_storm()
