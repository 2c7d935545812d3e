"""Turn Airflow's REST-visible state into outbox rows: the durable cursor, routing and idempotency keys.

One poll reads everything that changed since the cursor minus an overlap window (late commits and
clock skew are not missed), keys each alert ``event|dag|run|task|map|try`` and inserts it once per
routed channel. The cursor only moves after the rows are committed, so a crash re-reads, never skips.

One bad item never stops a poll: an item that cannot be keyed, enriched or stored is recorded
(:attr:`Detector.item_errors`, logged, counted by the dispatcher) and the others are queued; it is
tried again at the next poll while it is inside the re-read window. A source of Airflow's state
that cannot be read (say, the deadlines endpoint) does not stop the others either, but the poll
then fails as a whole (:class:`PollError`) and the cursor stays, so nothing it would have returned
is skipped.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from airdeck.alerts.source import AirflowApi, parse_time
from airdeck.alerts.store import ItemRejected, NewAlert, Outbox, utcnow
from airdeck.config.alerts import AlertsSettings

log = logging.getLogger("airdeck.alerts")

CURSOR = "airflow_state"


@dataclass(frozen=True)
class ItemError:
    """One item of Airflow's state that could not become an alert in this poll."""

    stage: str  # read (no key could be made), detect (building the alert failed), store (the database refused it)
    what: str  # the alert key, or a description of the item
    error: str


class PollError(Exception):
    """Part of Airflow's state could not be read; what could be read was queued, the cursor did not move."""

    def __init__(self, message: str, inserted: list[NewAlert]):
        super().__init__(message)
        self.inserted = inserted


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def alert_key(event: str, dag_id: str, run_id: str = "", task_id: str = "", map_index: int = -1,
              try_number: int | None = None, extra: str = "") -> str:
    """The idempotency key: same DAG, run, task, try and event → one message per channel."""
    return "|".join([event, dag_id, run_id, task_id, str(map_index), "" if try_number is None else str(try_number),
                     extra])


def route(settings: AlertsSettings, event: str, dag_id: str, tags: list[str], owners: list[str]) -> list[str]:
    """Channels an alert goes to: every matching route adds its channels; no match → default channels."""
    matched = [r for r in settings.routes if r.matches(dag_id, tags, owners)]
    channels: list[str] = []
    if matched:
        for r in matched:
            if event in (r.events if r.events is not None else settings.events):
                channels += [c for c in r.channels if c not in channels]
        return channels
    if event not in settings.events:
        return []
    return list(settings.default_channels or settings.channels)


def links(public_url: str, grafana_url: str | None, dag_id: str, run_id: str | None = None,
          task_id: str | None = None, try_number: int | None = None, map_index: int = -1) -> dict[str, str]:
    base = public_url.rstrip("/")
    out = {"dag_url": f"{base}/dags/{quote(dag_id)}"}
    if run_id:
        out["run_url"] = f"{base}/dags/{quote(dag_id)}/runs/{quote(run_id)}"
    if run_id and task_id:
        mapped = f"/mapped/{map_index}" if map_index >= 0 else ""
        tries = f"?try_number={try_number}" if try_number else ""
        # Same shape as Airflow's TaskInstance.log_url.
        out["log_url"] = f"{base}/dags/{quote(dag_id)}/runs/{quote(run_id)}/tasks/{quote(task_id)}{mapped}{tries}"
        if try_number:
            query = f"?map_index={map_index}" if map_index >= 0 else ""
            out["log_api_url"] = (f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
                                  f"/taskInstances/{quote(task_id, safe='')}/logs/{try_number}{query}")
    if grafana_url:
        out["grafana_url"] = f"{grafana_url.rstrip('/')}/d/airdeck-dag?var-dag_id={quote(dag_id)}"
    return out


class Detector:
    """Reads Airflow's state through REST and queues alerts."""

    def __init__(self, settings: AlertsSettings, api: AirflowApi, outbox: Outbox, public_url: str,
                 grafana_url: str | None = None):
        self.settings = settings
        self.grafana_url = grafana_url
        self.api = api
        self.outbox = outbox
        self.public_url = public_url
        self._seen: OrderedDict[str, None] = OrderedDict()  # keys already queued, to skip re-reads cheaply
        self.item_errors: list[ItemError] = []  # of the last poll

    def _wanted(self, event: str) -> bool:
        return event in self.settings.events or any(r.events and event in r.events for r in self.settings.routes)

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        while len(self._seen) > 50000:
            self._seen.popitem(last=False)

    def poll(self, now: datetime | None = None) -> list[NewAlert]:
        """One pass over Airflow's state; returns the alerts newly queued."""
        started = now or utcnow()
        self.item_errors = []
        default = started - self.settings.delivery.initial_lookback
        since = self.outbox.cursor(CURSOR, default) - self.settings.delivery.overlap
        sources: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
            ("task_failed", lambda: self.api.task_instances("failed", since)),
            ("task_retry", lambda: self.api.task_instances("up_for_retry", since)),
            ("dag_run_failed", lambda: self.api.dag_runs("failed", since)),
            ("sla_missed", lambda: self.api.missed_deadlines(since)),
            ("recovered", lambda: self.api.dag_runs("success", since)),
        ]
        candidates: list[tuple[str, dict[str, Any]]] = []
        unread: list[str] = []
        for event, read in sources:
            if not self._wanted(event):
                continue
            try:
                candidates += [(event, item) for item in read()]
            except Exception as exc:  # noqa: BLE001 - the other sources are still read and queued
                unread.append(f"{event}: {_describe(exc)}")
        import_alerts: list[NewAlert] = []
        if self._wanted("dag_import_error"):
            try:
                import_alerts = self._import_errors()
            except Exception as exc:  # noqa: BLE001 - as above
                unread.append(f"dag_import_error: {_describe(exc)}")
        fresh: list[tuple[str, dict[str, Any], str]] = []
        for event, item in candidates:
            try:
                key = self._key(event, item)
            except Exception as exc:  # noqa: BLE001 - a malformed item is skipped, not the poll
                self._item_failed("read", f"{event} item {str(item)[:200]}", exc)
                continue
            if key not in self._seen:
                fresh.append((event, item, key))
        known = self.outbox.known_keys([key for _, _, key in fresh])
        new_items = [(e, i, k) for e, i, k in fresh if k not in known]
        for key in known:
            self._remember(key)
        alerts: list[NewAlert] = []
        excerpt_budget = self.settings.digest.threshold * max(1, len(self.settings.channels))
        for event, item, key in new_items:
            try:
                built = self._build(event, item, key, with_log=excerpt_budget > 0)
            except Exception as exc:  # noqa: BLE001 - retried at the next poll, the others go on
                self._item_failed("detect", key, exc)
                continue
            if event in ("task_failed", "task_retry"):
                excerpt_budget -= 1
            alerts += built
            if not built:
                self._remember(key)
        alerts += [a for a in import_alerts if a.idem_key not in self._seen]
        rejected: set[str] = set()

        def on_reject(alert: NewAlert, error: ItemRejected) -> None:
            rejected.add(alert.idem_key)
            self._item_failed("store", f"{alert.idem_key} to {alert.channel}", error)

        inserted = self.outbox.enqueue(alerts, now=utcnow(), on_reject=on_reject)
        for alert in alerts:
            if alert.idem_key not in rejected:
                self._remember(alert.idem_key)
        if unread:
            raise PollError("could not read " + "; ".join(unread), inserted)
        self.outbox.set_cursor(CURSOR, started)
        return inserted

    def _item_failed(self, stage: str, what: str, exc: BaseException) -> None:
        error = ItemError(stage, what[:300], _describe(exc))
        self.item_errors.append(error)
        log.error("alert item skipped in this poll (%s) %s: %s", stage, error.what, error.error)

    @staticmethod
    def _key(event: str, item: dict[str, Any]) -> str:
        if event in ("task_failed", "task_retry"):
            return alert_key(event, item["dag_id"], item["dag_run_id"], item["task_id"], item.get("map_index", -1),
                             item.get("try_number"))
        if event == "sla_missed":
            return alert_key(event, item["dag_id"], item["dag_run_id"], extra=str(item["id"]))
        return alert_key(event, item["dag_id"], item["dag_run_id"])

    def _build(self, event: str, item: dict[str, Any], key: str, with_log: bool) -> list[NewAlert]:
        dag_id = item["dag_id"]
        run_id = item["dag_run_id"]
        dag = self.api.dag(dag_id)
        tags = [t["name"] if isinstance(t, dict) else str(t) for t in dag.get("tags") or []]
        owners = list(dag.get("owners") or [])
        channels = route(self.settings, event, dag_id, tags, owners)
        if not channels:
            return []
        detected = utcnow()
        payload: dict[str, Any] = {
            "event": event, "dag_id": dag_id, "run_id": run_id, "tags": tags, "owners": owners,
            "dag_display_name": dag.get("dag_display_name") or dag_id, "detected_at": detected.isoformat(),
        }
        task_id = None
        try_number = None
        map_index = -1
        not_before = None
        if event in ("task_failed", "task_retry"):
            task_id = item["task_id"]
            try_number = int(item.get("try_number") or 0)
            map_index = int(item.get("map_index", -1))
            occurred = parse_time(item.get("end_date")) or detected
            payload.update({
                "task_id": task_id, "try_number": try_number, "max_tries": item.get("max_tries"),
                "map_index": map_index, "hostname": item.get("hostname"), "operator": item.get("operator_name")
                or item.get("operator"), "start_date": item.get("start_date"), "end_date": item.get("end_date"),
                "duration": item.get("duration"), "logical_date": item.get("logical_date"),
                "log_excerpt": self.api.log_excerpt(dag_id, run_id, task_id, try_number, map_index,
                                                    self.settings.delivery.log_lines) if with_log else [],
                "log_omitted": not with_log,
            })
        elif event == "sla_missed":
            occurred = parse_time(item.get("deadline_time")) or detected
            try:
                run = self.api.dag_run(dag_id, run_id)
            except Exception:  # noqa: BLE001 - the alert matters more than its details
                run = {}
            payload.update({
                "deadline_time": item.get("deadline_time"), "deadline_id": str(item.get("id")),
                "alert_name": item.get("alert_name"), "run_state": run.get("state"),
                "queued_at": run.get("queued_at"), "start_date": run.get("start_date"),
                "logical_date": run.get("logical_date"), "end_date": run.get("end_date"),
            })
        else:
            occurred = parse_time(item.get("end_date")) or detected
            payload.update({"run_state": item.get("state"), "start_date": item.get("start_date"),
                            "end_date": item.get("end_date"), "logical_date": item.get("logical_date"),
                            "run_type": item.get("run_type"), "duration": item.get("duration")})
            if event == "dag_run_failed":
                # Wait a little: a task alert for the same run, if any, makes this one redundant.
                not_before = detected + 2 * self.settings.delivery.poll_interval + timedelta(seconds=2)
            if event == "recovered":
                last = self.outbox.last_event(dag_id, ["task_failed", "dag_run_failed", "recovered"])
                if last is None or last.event == "recovered" or last.occurred_at >= occurred:
                    return []
        payload["occurred_at"] = occurred.isoformat()
        payload["links"] = links(self.public_url, self.grafana_url, dag_id, run_id, task_id, try_number,
                                 map_index)
        return [NewAlert(idem_key=key, channel=channel, event=event, occurred_at=occurred, payload=payload,
                         dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index,
                         try_number=try_number, not_before=not_before) for channel in channels]

    # ------------------------------------------------------------------ DAG import errors
    def _import_errors(self) -> list[NewAlert]:
        """One alert per broken file and commit; a ``recovered`` once a file that alerted imports again.

        Airflow's import errors carry no bundle version; the commit is the version airdeck's git bundle
        had switched to when the error was recorded (table ``airdeck_dag_bundle_versions``, written by
        the dags concern's bundle in the dag-processor). Folder bundles have no commit."""
        channels = route(self.settings, "dag_import_error", "", [], [])
        if not channels:
            return []
        current = self.api.import_errors()
        alerts: list[NewAlert] = []
        failing: set[tuple[str, str]] = set()
        now = utcnow()
        for item in current:
            bundle, filename = str(item.get("bundle_name") or ""), str(item.get("filename") or "")
            failing.add((bundle, filename))
            occurred = parse_time(item.get("timestamp")) or now
            commit = self._commit_at(bundle, occurred)
            key = "|".join(["dag_import_error", bundle, filename, commit or ""])
            stack = [line for line in str(item.get("stack_trace") or "").splitlines() if line.strip()]
            payload: dict[str, Any] = {
                "event": "dag_import_error", "dag_id": f"{bundle}/{filename}", "bundle": bundle, "file": filename,
                "commit": commit, "error": stack[-1].strip()[:500] if stack else "import failed",
                "log_excerpt": [line[:500] for line in stack[-self.settings.delivery.log_lines:]],
                "occurred_at": occurred.isoformat(), "detected_at": now.isoformat(),
                "links": {"dag_url": f"{self.public_url.rstrip('/')}/dags?import_errors=true"},
            }
            alerts += [NewAlert(idem_key=key, channel=c, event="dag_import_error", occurred_at=occurred,
                                payload=payload) for c in channels]
        for last in self.outbox.latest_import_alerts():
            where = (str(last.payload.get("bundle") or ""), str(last.payload.get("file") or ""))
            if last.event != "dag_import_error" or where in failing:
                continue
            key = "recovered|" + last.idem_key
            payload = {**last.payload, "event": "recovered", "recovered_from": "dag_import_error",
                       "occurred_at": now.isoformat(), "detected_at": now.isoformat(), "log_excerpt": []}
            alerts += [NewAlert(idem_key=key, channel=c, event="recovered", occurred_at=now, payload=payload)
                       for c in channels]
        return alerts

    def _commit_at(self, bundle: str, when: datetime) -> str | None:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.outbox.engine.connect() as conn:
                found = conn.execute(text(
                    "SELECT version FROM airdeck_dag_bundle_versions WHERE name = :name AND first_seen_at <= :when "
                    "ORDER BY first_seen_at DESC LIMIT 1"), {"name": bundle, "when": when}).scalar()
        except SQLAlchemyError:  # no git bundle has recorded a version (folder bundles only)
            return None
        return str(found) if found else None
