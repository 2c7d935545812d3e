"""A DAG whose ids are near Airflow's limits (issue 13, finding 2): its alert must be queued and sent.

The dag_id has 240 characters and the task_id 200 (Airflow allows 250 each; the folder names of the
task log, ``dag_id=<id>``, must stay under the file system's 255 bytes); the test triggers it with a
200-character run_id. Together they make an alert key of about 660 characters, longer than the
outbox's former 500-character key column.
"""

from datetime import datetime

from airflow.sdk import dag, task

DAG_ID = "alert_long_" + "d" * 229
TASK_ID = "t" * 200


@dag(dag_id=DAG_ID, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["long-ids"],
     default_args={"retries": 0, "owner": "long-ids"})
def _long_ids():
    @task(task_id=TASK_ID)
    def step() -> None:
        raise RuntimeError("alert-test: long ids failed <!channel>")

    step()


_long_ids()
