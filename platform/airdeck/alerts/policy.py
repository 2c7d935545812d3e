"""Cluster policies rendered into ``airflow_local_settings.py``: SLAs as Deadline Alerts, failure nudges.

Imported by every Airflow process, so this module imports nothing heavy at import time.

* ``dag_policy`` (run by the dag-processor for each parsed DAG) adds a ``DeadlineAlert`` from the
  first matching ``alerts.slas`` rule, unless the DAG file sets its own ``deadline=`` (the author's
  override wins). The alert's callback runs in the triggerer and only wakes the dispatcher; the
  dispatcher learns of the missed deadline from Airflow's state, so a lost callback loses nothing.
* ``task_policy`` appends an ``on_failure_callback`` that wakes the dispatcher (best effort, 1 s,
  no database access). It only shortens latency; alerts never depend on it.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

DEADLINE_NAME = "airdeck-sla"


def _matches(rule: dict[str, Any], dag_id: str, tags: set[str], owners: set[str]) -> bool:
    if rule.get("dag_id") and not fnmatchcase(dag_id, rule["dag_id"]):
        return False
    if rule.get("tags") and not set(rule["tags"]) & tags:
        return False
    return not (rule.get("owners") and not set(rule["owners"]) & owners)


def sla_for(rules: list[dict[str, Any]], dag_id: str, tags: set[str], owners: set[str]) -> dict[str, Any] | None:
    """The first SLA rule that applies to a DAG."""
    return next((rule for rule in rules if _matches(rule, dag_id, tags, owners)), None)


def nudge(url: str, timeout: float = 1.0) -> None:
    """POST to the dispatcher's /nudge; never raises."""
    try:
        request = urllib.request.Request(f"{url}/nudge", data=b"{}", method="POST")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310
            pass
    except Exception:  # noqa: BLE001,S110 - a nudge is only a hint
        pass


async def deadline_missed(dispatcher_url: str = "", context: dict[str, Any] | None = None, **_: Any) -> str:
    """Deadline Alert callback (runs in the triggerer): wake the dispatcher, which reads the miss itself."""
    if dispatcher_url:
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, nudge, dispatcher_url)
    return "dispatcher notified"


class FailureNudge:
    """on_failure_callback that wakes the dispatcher (picklable, comparable, cheap)."""

    def __init__(self, url: str):
        self.url = url

    def __call__(self, context: Any = None) -> None:
        nudge(self.url)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FailureNudge) and other.url == self.url

    def __hash__(self) -> int:
        return hash(("FailureNudge", self.url))


def make_policies(config_json: str) -> tuple[Any, Any]:
    """``(dag_policy, task_policy)`` for the rendered settings (a JSON document, see render_local_settings)."""
    config = json.loads(config_json)
    rules: list[dict[str, Any]] = config.get("slas") or []
    url: str = config.get("dispatcher_url") or ""

    def dag_policy(dag: Any) -> None:
        if not rules or getattr(dag, "deadline", None):
            return  # no SLAs, or the DAG file sets its own deadline (the author's override wins)
        owners = {task.owner for task in getattr(dag, "tasks", []) if getattr(task, "owner", None)}
        rule = sla_for(rules, dag.dag_id, set(getattr(dag, "tags", None) or []), owners)
        if rule is None:
            return
        from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference  # type: ignore[attr-defined]

        reference = (DeadlineReference.DAGRUN_LOGICAL_DATE if rule.get("after") == "logical_date"
                     else DeadlineReference.DAGRUN_QUEUED_AT)
        dag.deadline = [DeadlineAlert(
            reference=reference, interval=timedelta(seconds=float(rule["within_seconds"])),
            callback=AsyncCallback(deadline_missed, kwargs={"dispatcher_url": url}), name=DEADLINE_NAME)]

    def task_policy(task: Any) -> None:
        if not url or not config.get("nudge_on_failure", True):
            return
        current = getattr(task, "on_failure_callback", None)
        callbacks = list(current) if isinstance(current, list | tuple) else ([current] if current else [])
        if not any(isinstance(cb, FailureNudge) for cb in callbacks):
            task.on_failure_callback = [*callbacks, FailureNudge(url)]

    return dag_policy, task_policy
