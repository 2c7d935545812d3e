"""An Airflow 2 DAG as teams write them today (airdeck check-dags reports what Airflow 3 needs here)."""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator


def _transform(**context):
    if context["dag_run"].conf.get("fail"):
        raise ValueError("failed on purpose")
    return {"rows": 3}


with DAG("legacy_etl", schedule_interval="@daily", start_date=datetime(2024, 1, 1), catchup=False,
         default_args={"retries": 0}) as dag:
    extract = BashOperator(task_id="extract", bash_command="echo extracted", sla=timedelta(hours=1))
    transform = PythonOperator(task_id="transform", python_callable=_transform)
    load = BashOperator(task_id="load", bash_command="echo loaded")
    extract >> transform >> load
