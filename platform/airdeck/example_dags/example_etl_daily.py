"""A daily extract -> transform -> load pipeline: the shape of most production DAGs."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="example_etl_daily",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "etl"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10), "owner": "data-platform"},
    doc_md=__doc__,
)
def example_etl_daily():
    @task
    def extract() -> list[dict]:
        return [{"order": n, "amount": round(10 + n * 1.5, 2)} for n in range(50)]

    @task
    def transform(rows: list[dict]) -> dict:
        total = sum(row["amount"] for row in rows)
        return {"orders": len(rows), "revenue": round(total, 2)}

    @task
    def load(summary: dict) -> None:
        if summary["orders"] != 50:
            raise ValueError(f"expected 50 orders, got {summary['orders']}")
        print(f"loaded summary {summary}")

    load(transform(extract()))


example_etl_daily()
