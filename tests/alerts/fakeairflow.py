"""A stand-in for Airflow's REST API (the parts the alert dispatcher reads), for tests without a platform.

It answers like Airflow 3.3's api-server does (``/auth/token``, the task-instance, DAG-run,
deadline, import-error and DAG endpoints, and task logs as JSON or streamed NDJSON) from lists the
test fills, counts the requests per path, and can be switched to failing (500) as a whole or per
path. The real api-server is exercised by the stack tests; this one lets a unit test make Airflow
return what a real one rarely does (250-character ids, malformed items, a 30 MB log).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def task_instance(dag_id: str, run_id: str, task_id: str, state: str = "failed", try_number: int = 1,
                  **extra: Any) -> dict[str, Any]:
    """A task instance as ``GET /api/v2/dags/~/dagRuns/~/taskInstances`` lists it."""
    return {"dag_id": dag_id, "dag_run_id": run_id, "task_id": task_id, "map_index": -1, "state": state,
            "try_number": try_number, "max_tries": 0, "hostname": "worker-1", "operator_name": "PythonOperator",
            "start_date": "2026-11-26T10:00:00Z", "end_date": "2026-11-26T10:00:05Z", "duration": 5.0,
            "logical_date": "2026-11-26T00:00:00Z", **extra}


class FakeAirflow:
    def __init__(self) -> None:
        self.task_instances: list[dict[str, Any]] = []
        self.dag_runs: list[dict[str, Any]] = []
        self.failing: set[str] = set()  # path prefixes answered 500; "*" for every path
        self.requests: Counter[str] = Counter()
        #: task log: a function returning an iterator of log records (dicts), per (dag, run, task, try)
        self.log: Callable[[], Iterator[dict[str, Any]]] = lambda: iter(())
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if self.path == "/auth/token":
                    self._json(201, {"access_token": "token"})
                else:
                    self._json(404, {"detail": "Not Found"})

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                path = unquote(url.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                with fake.lock:
                    fake.requests[path] += 1
                    failing = "*" in fake.failing or any(path.startswith(p) for p in fake.failing)
                if failing:
                    self._json(500, {"detail": "Internal Server Error"})
                    return
                offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
                if path == "/api/v2/dags/~/dagRuns/~/taskInstances":
                    items = [t for t in fake.task_instances if t.get("state") == query.get("state")]
                    self._json(200, {"task_instances": items[offset:offset + limit], "total_entries": len(items)})
                elif path == "/api/v2/dags/~/dagRuns":
                    items = [r for r in fake.dag_runs if r.get("state") == query.get("state")]
                    self._json(200, {"dag_runs": items[offset:offset + limit], "total_entries": len(items)})
                elif path == "/ui/dags/~/dagRuns/~/deadlines":
                    self._json(200, {"deadlines": [], "total_entries": 0})
                elif path == "/api/v2/importErrors":
                    self._json(200, {"import_errors": [], "total_entries": 0})
                elif "/logs/" in path:
                    self._log()
                elif path.startswith("/api/v2/dags/") and path.count("/") == 4:
                    dag_id = path.rsplit("/", 1)[1]
                    self._json(200, {"dag_id": dag_id, "dag_display_name": dag_id, "tags": [], "owners": ["team"]})
                else:
                    self._json(404, {"detail": "Not Found"})

            def _log(self) -> None:
                """Like Airflow: NDJSON streamed when asked for application/x-ndjson, else one JSON document."""
                ndjson = self.headers.get("Accept") == "application/x-ndjson"
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson" if ndjson else "application/json")
                self.end_headers()  # no Content-Length: the body ends when the connection closes
                batch: list[str] = []
                first = True
                if not ndjson:
                    self.wfile.write(b'{"content": [')
                for record in fake.log():
                    text = json.dumps(record)
                    batch.append(text + "\n" if ndjson else ("" if first else ",") + text)
                    first = False
                    if len(batch) >= 500:
                        self.wfile.write("".join(batch).encode())
                        batch.clear()
                self.wfile.write("".join(batch).encode())
                if not ndjson:
                    self.wfile.write(b'], "continuation_token": null}')
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, path: str) -> int:
        with self.lock:
            return self.requests[path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
