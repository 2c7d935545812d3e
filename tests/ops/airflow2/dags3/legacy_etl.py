"""legacy_etl (../dags) after the changes `airdeck check-dags` asks for: the same DAG id and tasks on
Airflow 3 (airflow.sdk, the standard provider's operators, `schedule`, no SLA)."""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def _transform(**context):
    if context["dag_run"].conf.get("fail"):
        raise ValueError("failed on purpose")
    return {"rows": 3}


with DAG("legacy_etl", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         default_args={"retries": 0}) as dag:
    extract = BashOperator(task_id="extract", bash_command="echo extracted")
    transform = PythonOperator(task_id="transform", python_callable=_transform)
    load = BashOperator(task_id="load", bash_command="echo loaded")
    extract >> transform >> load
