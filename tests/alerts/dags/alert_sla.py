"""Sleeps ``seconds``; its SLA (alerts.slas in airdeck.yaml, not in this file) is 30 s."""

import time
from datetime import datetime

from airflow.sdk import Param, dag, get_current_context, task


@dag(dag_id="alert_sla", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["sla"],
     params={"seconds": Param(90, type="integer")}, max_active_runs=4)
def alert_sla():
    @task
    def sleep() -> None:
        time.sleep(int(get_current_context()["params"]["seconds"]))

    sleep()


alert_sla()
