"""Read a task try's log through the api-server's REST API, which finds it wherever it is: the
worker's local file, the worker's log server, or the remote copy in object storage."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from airdeck.errors import AirdeckError
from airdeck.plan.endpoints import path_segment


class TaskLogError(AirdeckError):
    """The task, run or try is unknown, or the api-server could not be asked."""


@dataclass(frozen=True)
class TaskLog:
    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    map_index: int
    entries: list[dict[str, Any]]

    def lines(self) -> list[str]:
        return [format_entry(entry) for entry in self.entries]


def format_entry(entry: dict[str, Any]) -> str:
    """One structured log message as one line: ``timestamp LEVEL event key=value…``."""
    if "sources" in entry:  # Airflow's "::group::Log message source details" header
        return f"{entry.get('event', '')} sources: {', '.join(str(s) for s in entry.get('sources') or [])}".strip()
    head = [str(entry[key]) for key in ("timestamp", "level") if entry.get(key)]
    if entry.get("level"):
        head[-1] = head[-1].upper()
    rest = {k: v for k, v in entry.items() if k not in ("timestamp", "level", "event")}
    tail = " ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in rest.items())
    return " ".join(part for part in (*head, str(entry.get("event", "")), tail) if part)


def _segment(value: str, what: str) -> str:
    if not value:
        raise TaskLogError(f"the {what} is empty; give the {what} as `airdeck status` or the Airflow UI shows it")
    return path_segment(value)


class _Api:
    def __init__(self, base_url: str, credentials: Callable[[], tuple[str, str]], verify: bool | str):
        self.base = base_url.rstrip("/")
        self.client = httpx.Client(timeout=60, verify=verify)
        username, password = credentials()
        try:
            response = self.client.post(f"{self.base}/auth/token", json={"username": username, "password": password})
        except httpx.HTTPError as exc:
            raise TaskLogError(f"the api-server at {self.base} does not answer ({type(exc).__name__}); "
                               "is the platform running (airdeck status)?") from None
        if response.status_code not in (200, 201):
            raise TaskLogError(f"the api-server refused the sign-in of {username!r} ({response.status_code})")
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}", "Accept": "application/json"}

    def get(self, path: str, what: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"{self.base}/api/v2{path}", headers=self.headers, params=params)
        if response.status_code == 404:
            raise TaskLogError(f"{what} not found")
        if response.status_code != 200:
            raise TaskLogError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        return dict(response.json())

    def close(self) -> None:
        self.client.close()


def read_task_log(base_url: str, credentials: Callable[[], tuple[str, str]], dag_id: str, task_id: str,
                  run_id: str | None = None, try_number: int | None = None, map_index: int = -1,
                  verify: bool | str = True) -> TaskLog:
    """The log of one try (default: the latest run of the DAG, the task instance's latest try)."""
    api = _Api(base_url, credentials, verify)
    try:
        dag = _segment(dag_id, "DAG id")
        api.get(f"/dags/{dag}", f"DAG {dag_id!r}")
        if run_id is None:
            runs = api.get(f"/dags/{dag}/dagRuns", f"runs of DAG {dag_id!r}", order_by="-run_after", limit=1)
            if not runs.get("dag_runs"):
                raise TaskLogError(f"DAG {dag_id!r} has no runs yet")
            run_id = str(runs["dag_runs"][0]["dag_run_id"])
        run, task = _segment(run_id, "run id"), _segment(task_id, "task id")
        ti_path = f"/dags/{dag}/dagRuns/{run}/taskInstances/{task}"
        if map_index >= 0:
            ti_path += f"/{map_index}"
        ti = api.get(ti_path, f"task {task_id!r} in run {run_id!r} of DAG {dag_id!r}"
                              + (f" (map index {map_index})" if map_index >= 0 else ""))
        latest = int(ti.get("try_number") or 0)
        if try_number is None:
            try_number = latest
        if try_number < 1 or try_number > max(latest, 1) or latest == 0:
            tries = "no tries yet" if latest == 0 else f"tries 1 to {latest}"
            raise TaskLogError(f"task {task_id!r} in run {run_id!r} has {tries}; asked for try {try_number}")
        data = api.get(f"/dags/{dag}/dagRuns/{run}/taskInstances/{task}/logs/{try_number}",
                       f"the log of try {try_number}", full_content="true", map_index=map_index)
    finally:
        api.close()
    content = data.get("content") or []
    entries = [entry if isinstance(entry, dict) else {"event": str(entry)} for entry in content]
    return TaskLog(dag_id, run_id, task_id, try_number, map_index, entries)
