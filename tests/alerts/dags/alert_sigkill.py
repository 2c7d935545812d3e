"""A long task the test kills with SIGKILL: no callback can run, the alert must still come."""

import time
from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="alert_sigkill", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["team-a"],
     default_args={"retries": 0, "owner": "team-a"})
def alert_sigkill():
    @task
    def long_step() -> None:
        time.sleep(600)

    long_step()


alert_sigkill()
