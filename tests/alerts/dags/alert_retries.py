"""Fails on every try; alerts must come once, after the last of its three tries."""

from datetime import datetime, timedelta

from airflow.sdk import dag, task


@dag(dag_id="alert_retries", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["team-a"],
     default_args={"retries": 2, "retry_delay": timedelta(seconds=1), "owner": "team-a"})
def alert_retries():
    @task
    def load_rows() -> None:
        print("loading rows")
        raise ValueError("alert-test: bad row 42")

    load_rows()


alert_retries()
