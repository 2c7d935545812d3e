"""Cluster policies rendered from alerts.slas: Deadline Alerts added without touching DAG files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from airdeck import concerns
from airdeck.alerts.policy import DEADLINE_NAME, FailureNudge, make_policies
from airdeck.alerts.wiring import local_settings_path
from airdeck.config.loader import parse_config
from airdeck.plan.render import materialise
from airdeck.state.home import AirdeckHome

CONFIG = json.dumps({"slas": [{"dag_id": "etl_*", "tags": [], "owners": [], "after": "queued_at",
                               "within_seconds": 30.0},
                              {"dag_id": None, "tags": ["nightly"], "owners": [], "after": "logical_date",
                               "within_seconds": 3600.0}],
                     "dispatcher_url": "http://127.0.0.1:9465", "nudge_on_failure": True})


def _dag(dag_id: str, tags: list[str] | None = None, **kwargs):  # type: ignore[no-untyped-def]
    from airflow.sdk import DAG
    from airflow.sdk.bases.operator import BaseOperator

    dag = DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), tags=tags or [], **kwargs)
    with dag:
        BaseOperator(task_id="t")
    return dag


def test_sla_rule_becomes_a_deadline_alert() -> None:
    from airflow.sdk import DeadlineReference

    dag_policy, _ = make_policies(CONFIG)
    dag = _dag("etl_daily")
    dag_policy(dag)
    (alert,) = dag.deadline
    assert alert.interval == timedelta(seconds=30) and alert.name == DEADLINE_NAME
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert alert.callback.path == "airdeck.alerts.policy.deadline_missed"
    assert alert.callback.kwargs == {"dispatcher_url": "http://127.0.0.1:9465"}


def test_tag_rule_and_logical_date_reference() -> None:
    from airflow.sdk import DeadlineReference

    dag_policy, _ = make_policies(CONFIG)
    dag = _dag("report", tags=["nightly"])
    dag_policy(dag)
    assert dag.deadline[0].reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    other = _dag("unrelated")
    dag_policy(other)
    assert not other.deadline


def test_the_dag_authors_own_deadline_wins() -> None:
    from airdeck.alerts.policy import deadline_missed
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    own = DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(hours=2),
                        callback=AsyncCallback(deadline_missed), name="mine")
    dag = _dag("etl_custom", deadline=own)
    make_policies(CONFIG)[0](dag)
    assert [a.name for a in dag.deadline] == ["mine"]


def test_task_policy_appends_one_nudge_and_keeps_existing_callbacks() -> None:
    _, task_policy = make_policies(CONFIG)
    dag = _dag("etl_daily")
    task = dag.get_task("t")

    def mine(context):  # type: ignore[no-untyped-def]
        return None

    task.on_failure_callback = mine
    task_policy(task)
    task_policy(task)
    assert task.on_failure_callback[0] is mine
    assert [type(cb) for cb in task.on_failure_callback[1:]] == [FailureNudge]


def test_rendered_local_settings_is_importable(tmp_path: Path) -> None:
    cfg = parse_config({"alerts": {"channels": {"s": {"type": "slack", "connection": "c"}},
                                   "slas": [{"tags": ["nightly"], "within": "1h"}]}})
    home = AirdeckHome(tmp_path)
    (spec,) = [f for f in concerns.plan(cfg, home).files if f.path == str(local_settings_path(home))]
    path = materialise(spec, str)
    assert path == tmp_path / "airflow" / "config" / "airflow_local_settings.py"
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - our own rendered file
    assert callable(namespace["dag_policy"]) and callable(namespace["task_policy"])
    # Without channels the policies are no-ops.
    files = concerns.plan(parse_config({}), home).files
    assert any('"slas": []' in f.content for f in files if f.path == str(path))
