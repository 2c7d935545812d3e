"""Read Airflow's state through its REST API: failed task instances, failed DAG runs, missed deadlines.

The dispatcher never reads Airflow's tables: everything comes from the api-server, so it works the
same against a remote deployment and never depends on a task process having run a callback.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import httpx

from airdeck.plan.endpoints import path_segment

PAGE = 100
#: A log line longer than this (bytes) is cut: its start is kept, the rest is read and thrown away.
MAX_LOG_LINE = 16384
#: Reading one task's log for an excerpt stops after this many seconds (the excerpt says so).
LOG_READ_SECONDS = 20.0


class SourceError(Exception):
    """The api-server could not be read."""


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class AirflowApi:
    """A small REST client with JWT handling (a token is fetched from /auth/token and renewed on 401)."""

    def __init__(self, base_url: str, credentials: Callable[[], tuple[str, str]], timeout: float = 30.0,
                 verify: bool | str = True):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.client = httpx.Client(timeout=timeout, verify=verify)
        self._token: str | None = None
        self._token_at = 0.0
        self._dag_cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def close(self) -> None:
        self.client.close()

    def token(self, refresh: bool = False) -> str:
        if self._token and not refresh and time.monotonic() - self._token_at < 600:
            return self._token
        username, password = self.credentials()
        response = self.client.post(f"{self.base_url}/auth/token", json={"username": username, "password": password})
        if response.status_code not in (200, 201):
            raise SourceError(f"POST /auth/token answered {response.status_code}: {response.text[:200]}")
        self._token = str(response.json()["access_token"])
        self._token_at = time.monotonic()
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token(refresh=attempt == 2)}", **kwargs.pop("headers", {})}
            try:
                response = self.client.request(method, f"{self.base_url}{path}", headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise SourceError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
            if response.status_code != 401:
                return response
        return response

    def get_json(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.request("GET", path, params=params)
        if response.status_code != 200:
            raise SourceError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        return dict(response.json())

    def _pages(self, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self.get_json(path, **params, limit=PAGE, offset=offset).get(key) or []
            yield from page
            if len(page) < PAGE:
                return
            offset += PAGE

    # ------------------------------------------------------------------ state
    def task_instances(self, state: str, updated_since: datetime) -> list[dict[str, Any]]:
        """Task instances now in ``state`` whose row changed at or after ``updated_since``, oldest first."""
        return list(self._pages("/api/v2/dags/~/dagRuns/~/taskInstances", "task_instances",
                                {"state": state, "updated_at_gte": iso(updated_since), "order_by": "end_date"}))

    def dag_runs(self, state: str, updated_since: datetime) -> list[dict[str, Any]]:
        return list(self._pages("/api/v2/dags/~/dagRuns", "dag_runs",
                                {"state": state, "updated_at_gte": iso(updated_since), "order_by": "end_date"}))

    def missed_deadlines(self, updated_since: datetime) -> list[dict[str, Any]]:
        """Deadlines the scheduler marked missed. Airflow 3.3 serves them only on its UI API (/ui/...)."""
        return list(self._pages("/ui/dags/~/dagRuns/~/deadlines", "deadlines",
                                {"missed": "true", "last_updated_at_gte": iso(updated_since),
                                 "order_by": "last_updated_at"}))

    def import_errors(self) -> list[dict[str, Any]]:
        """Every DAG file that currently fails to import (filename, bundle_name, timestamp, stack_trace)."""
        return list(self._pages("/api/v2/importErrors", "import_errors", {"order_by": "id"}))

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get_json(f"/api/v2/dags/{path_segment(dag_id)}/dagRuns/{path_segment(run_id)}")

    def dag(self, dag_id: str) -> dict[str, Any]:
        """DAG details (tags, owners), cached for a minute."""
        cached = self._dag_cache.get(dag_id)
        if cached and time.monotonic() - cached[0] < 60:
            return cached[1]
        try:
            data = self.get_json(f"/api/v2/dags/{path_segment(dag_id)}")
        except SourceError:
            data = {"dag_id": dag_id, "tags": [], "owners": []}
        self._dag_cache[dag_id] = (time.monotonic(), data)
        return data

    def log_excerpt(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1,
                    lines: int = 12) -> list[str]:
        """The error and the last log lines of one try (empty when the log cannot be read).

        Airflow's log API has no "tail": the log is streamed (NDJSON) and only the last ``lines``
        lines and the last errors are kept, so memory stays small whatever the log's size; a line
        longer than :data:`MAX_LOG_LINE` bytes is cut, and reading stops after
        :data:`LOG_READ_SECONDS` (the excerpt then says it shows an earlier part)."""
        if lines <= 0:
            return []
        path = (f"/api/v2/dags/{path_segment(dag_id)}/dagRuns/{path_segment(run_id)}/taskInstances/"
                f"{path_segment(task_id)}/logs/{try_number}")
        params: dict[str, Any] = {"full_content": "true"}
        if map_index >= 0:
            params["map_index"] = map_index
        tail = LogTail(lines)
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token(refresh=attempt == 2)}",
                       "Accept": "application/x-ndjson"}
            try:
                with self.client.stream("GET", f"{self.base_url}{path}", params=params, headers=headers) as response:
                    if response.status_code == 401 and attempt == 1:
                        continue
                    if response.status_code != 200:
                        return []
                    complete = tail.feed_lines(split_lines(response.iter_bytes(), MAX_LOG_LINE),
                                               time.monotonic() + LOG_READ_SECONDS)
                    if not complete:
                        tail.add_text(f"[log excerpt stopped after {LOG_READ_SECONDS:.0f}s of reading; "
                                      "open the log for its end]")
                    return tail.result()
            except (httpx.HTTPError, SourceError):
                return tail.result()
        return []


def split_lines(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """Lines of a byte stream (without the newline); a line longer than ``limit`` is cut to ``limit`` bytes.

    Memory is bounded by ``limit`` plus one chunk, however long a line or the stream is."""
    buffer = bytearray()
    overflow = False
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not overflow:
                room = limit - len(buffer)
                buffer += piece[:room]
                overflow = len(piece) > room
            if end < 0:
                break
            yield bytes(buffer)
            buffer.clear()
            overflow = False
            start = end + 1
    if buffer:
        yield bytes(buffer)


class LogTail:
    """The last ``lines`` readable lines of a structured log and its last errors, kept as lines arrive."""

    def __init__(self, lines: int):
        self.lines = lines
        self.out: deque[str] = deque(maxlen=max(1, lines))
        self.errors: deque[str] = deque(maxlen=2)

    def feed_lines(self, raw_lines: Iterable[bytes], deadline: float) -> bool:
        """Consume NDJSON lines; False when the deadline stopped the reading first."""
        for raw in raw_lines:
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError:  # a cut or malformed line: keep its text
                item = raw.decode("utf-8", "replace")
            self.add(item)
            if time.monotonic() > deadline:
                return False
        return True

    def add_text(self, text: str) -> None:
        self.out.append(text)

    def add(self, item: Any) -> None:
        if isinstance(item, str):
            if item:
                self.out.append(item[:500])
            return
        if not isinstance(item, dict):
            return
        event = str(item.get("event", "")).rstrip()
        level = str(item.get("level", "")).lower()
        if event.startswith("::group::") or event.startswith("::endgroup::"):
            return
        text = f"{level.upper()} {event}" if level in ("error", "critical", "warning") else event
        if text:
            self.out.append(text[:500])
        for detail in item.get("error_detail") or []:
            if isinstance(detail, dict):
                message = f"{detail.get('exc_type', 'Error')}: {detail.get('exc_value', '')}".rstrip(": ")
                frames = detail.get("frames") or []
                if frames and isinstance(frames[-1], dict):
                    last = frames[-1]
                    message += f"  ({last.get('filename', '?')}:{last.get('lineno', '?')} in {last.get('name', '?')})"
                self.errors.append(message[:500])

    def result(self) -> list[str]:
        tail = list(self.out)[-self.lines:]
        for message in self.errors:
            if message not in tail:
                tail.append(message)
        return [line[:500] for line in tail[-self.lines:]]


def excerpt(content: list[Any], lines: int) -> list[str]:
    """Turn Airflow's structured log lines into readable text: the last lines, the error last."""
    tail = LogTail(lines)
    for item in content:
        tail.add(item)
    return tail.result()
