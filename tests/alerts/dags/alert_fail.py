"""One failing task per DAG, for routing (team-b) and outage (team-a) tests."""

from datetime import datetime

from airflow.sdk import dag, task


def failing(dag_id: str, tag: str):
    @dag(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=[tag],
         default_args={"retries": 0, "owner": tag})
    def _dag():
        @task
        def step() -> None:
            raise RuntimeError(f"alert-test: {dag_id} failed")

        step()

    return _dag()


failing("alert_team_b", "team-b")
failing("alert_outage", "team-a")
