"""The alert dispatcher: read Airflow's state, queue alerts durably, deliver them exactly once.

Run by ``airdeck up`` as the ``alert-dispatcher`` service::

    python -m airdeck.alerts.dispatcher --settings $AIRDECK_HOME/services/alert-dispatcher/dispatcher.json

It serves, on ``alerts.dispatcher.host:port`` (loopback by default):

* ``GET /healthz``  200 while the loop runs, the outbox database answers and Airflow's state could be
  read; 503 once :data:`UNHEALTHY_AFTER_FAILED_POLLS` polls in a row failed (200 again after a good one)
* ``GET /metrics``  Prometheus text (``airdeck_alerts_*``)
* ``POST /nudge``   wake the loop now (sent by the deadline callback and the task failure hook). Nudges
  are coalesced: a nudged poll starts at most once per :data:`NUDGE_MIN_GAP` seconds, however many
  arrive. The body (at most :data:`NUDGE_MAX_BODY` bytes) is ignored; a missing, negative or non-numeric
  Content-Length is answered 400, a larger one 413, and a client that stops sending is dropped after
  :data:`REQUEST_TIMEOUT` seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from airdeck.alerts.channels import DeliveryError, Sender
from airdeck.alerts.detect import Detector, PollError
from airdeck.alerts.messages import Message, render_alert, render_digest
from airdeck.alerts.metrics import AlertMetrics
from airdeck.alerts.source import AirflowApi
from airdeck.alerts.store import NewAlert, Outbox, Row, backoff, utcnow
from airdeck.config.alerts import AlertsSettings
from airdeck.config.base import format_duration
from airdeck.state.secrets import SecretFileError, read_private

log = logging.getLogger("airdeck.alerts.dispatcher")

CLAIM_LIMIT = 1000
#: /healthz answers 503 after this many polls of Airflow's state failed in a row.
UNHEALTHY_AFTER_FAILED_POLLS = 3
#: Seconds between two polls started by /nudge (nudges in between are folded into the next one).
NUDGE_MIN_GAP = 1.0
#: Largest /nudge body accepted (it is read and ignored).
NUDGE_MAX_BODY = 65536
#: Seconds a client may take to send its request before the connection is dropped.
REQUEST_TIMEOUT = 10.0
#: How often finished rows older than alerts.delivery.retention are pruned.
PRUNE_EVERY = 600.0
#: How often rows stuck in 'sending' are looked for.
STALE_CHECK_EVERY = 30.0
_CONTENT_LENGTH = re.compile(r"[0-9]{1,12}")


@dataclass
class DispatcherSettings:
    """Everything the dispatcher needs, as written by airdeck into a 0600 JSON file."""

    alerts: AlertsSettings
    database_url: str
    api_url: str
    public_url: str
    admin_username: str
    secrets_dir: str  # the platform's secrets folder; the admin password is its 0600 file admin_password
    grafana_url: str | None = None  # observability.grafana_url: links to the DAG dashboard
    verify: bool | str = True  # CA file of the api-server's certificate when TLS is on

    @classmethod
    def load(cls, path: Path) -> DispatcherSettings:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["alerts"] = AlertsSettings.model_validate(data["alerts"])
        return cls(**data)

    def credentials(self) -> tuple[str, str]:
        """The admin account the dispatcher reads Airflow's state as, read afresh at every call."""
        path = Path(self.secrets_dir) / "admin_password"
        if not path.exists():
            raise SecretFileError(f"{path} does not exist: the admin password is written there by `airdeck up` "
                                  "(secrets_dir in the dispatcher settings names the platform's secrets folder)")
        return self.admin_username, read_private(path)


class Dispatcher:
    """Detection and delivery in one loop; HTTP endpoints in a side thread."""

    def __init__(self, settings: AlertsSettings, outbox: Outbox, api: AirflowApi | None, public_url: str,
                 metrics: AlertMetrics | None = None, senders: dict[str, Any] | None = None,
                 clock: Callable[[], datetime] = utcnow, grafana_url: str | None = None):
        self.settings = settings
        self.grafana_url = grafana_url
        self.outbox = outbox
        self.api = api
        self.public_url = public_url
        self.metrics = metrics or AlertMetrics()
        timeout = settings.delivery.timeout.total_seconds()
        self.senders: dict[str, Any] = senders or {
            name: Sender(name, channel, timeout) for name, channel in settings.channels.items()}
        self.detector = Detector(settings, api, outbox, public_url, grafana_url) if api is not None else None
        self.clock = clock
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.last_loop = 0.0
        self.last_poll_ok = 0.0
        self.db_ok = False
        self.failed_polls = 0
        self.last_poll_error = ""
        self._next_prune = 0.0
        self._next_stale_check = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._pool = ThreadPoolExecutor(max_workers=settings.delivery.concurrency, thread_name_prefix="deliver")

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        recovered = self.outbox.recover_in_flight()
        if recovered:
            log.info("re-queued %d alert(s) left in flight by a previous dispatcher", recovered)
        next_poll = 0.0
        last_poll = float("-inf")
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now >= next_poll or (self.wake.is_set() and now - last_poll >= NUDGE_MIN_GAP):
                self.wake.clear()
                last_poll = now
                self.poll_once()
                next_poll = time.monotonic() + self.settings.delivery.poll_interval.total_seconds()
            self.deliver_once()
            self.housekeeping()
            self.last_loop = time.monotonic()
            self.metrics.up.set(1 if self.healthy()[0] else 0)
            if self.wake.is_set():
                # Nudged during this pass: poll again, but not before the gap since the last poll is over.
                self.stop_event.wait(max(0.05, min(next_poll, last_poll + NUDGE_MIN_GAP) - time.monotonic()))
            else:
                self.wake.wait(timeout=max(0.05, min(1.0, next_poll - time.monotonic())))
        self._pool.shutdown(wait=True)

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()
        if self._server is not None:
            self._server.shutdown()

    def poll_once(self) -> int:
        if self.detector is None:
            return 0
        self.metrics.polls.inc()
        try:
            inserted = self.detector.poll()
        except Exception as exc:  # noqa: BLE001 - a failed poll is retried at the next interval
            inserted = exc.inserted if isinstance(exc, PollError) else []
            self._count(inserted)
            self.failed_polls += 1
            self.last_poll_error = str(exc)[:500]
            self.metrics.poll_errors.inc()
            self.metrics.poll_failures.set(self.failed_polls)
            log.warning("reading Airflow's state failed (%d in a row, will retry): %s", self.failed_polls, exc)
            return len(inserted)
        finally:
            for error in self.detector.item_errors:
                self.metrics.item_errors.labels(error.stage).inc()
        self.failed_polls = 0
        self.last_poll_error = ""
        self.metrics.poll_failures.set(0)
        self.last_poll_ok = time.time()
        self.metrics.last_poll.set(self.last_poll_ok)
        self._count(inserted)
        return len(inserted)

    def _count(self, inserted: list[NewAlert]) -> None:
        for alert in inserted:
            self.metrics.queued.labels(alert.channel, alert.event).inc()
        if inserted:
            log.info("queued %d alert(s)", len(inserted))

    def housekeeping(self, force: bool = False) -> None:
        """Now and then: queue again rows stuck in 'sending', delete finished rows older than the retention."""
        now = time.monotonic()
        delivery = self.settings.delivery
        try:
            if force or now >= self._next_stale_check:
                self._next_stale_check = now + STALE_CHECK_EVERY
                # A delivery takes at most `timeout` (per request) after its claim; allow for a full pool queue.
                limit = 2 * delivery.timeout * max(1, CLAIM_LIMIT // delivery.concurrency) + timedelta(minutes=1)
                requeued = self.outbox.requeue_stale(self.clock() - min(limit, timedelta(hours=1)))
                if requeued:
                    self.metrics.requeued.inc(requeued)
                    log.warning("queued again %d alert(s) left in 'sending' by a delivery that never finished",
                                requeued)
            if force or now >= self._next_prune:
                self._next_prune = now + PRUNE_EVERY
                pruned = self.outbox.prune(self.clock() - delivery.retention)
                if pruned:
                    self.metrics.pruned.inc(pruned)
                    log.info("pruned %d finished alert(s) older than %s from the outbox", pruned,
                             format_duration(delivery.retention))
        except Exception as exc:  # noqa: BLE001 - the database may be down; tried again later
            log.warning("outbox housekeeping failed (will retry): %s", exc)

    def deliver_once(self) -> int:
        """One delivery pass over every channel. Returns the number of messages sent."""
        try:
            channels = [c for c in self.outbox.pending_channels() if c in self.senders]
            sent = sum(self._deliver_channel(channel) for channel in channels)
            self._refresh_gauges()
            self.db_ok = True
            return sent
        except Exception as exc:  # noqa: BLE001 - the database may be down; retry next pass
            self.db_ok = False
            log.warning("delivery pass failed (will retry): %s", exc)
            time.sleep(1.0)
            return 0

    def _refresh_gauges(self) -> None:
        for state, n in self.outbox.counts().items():
            self.metrics.outbox.labels(state).set(n)
        oldest = self.outbox.oldest_pending()
        now = self.clock()
        self.metrics.oldest_pending_age.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    def _deliver_channel(self, channel: str) -> int:
        now = self.clock()
        rows = self.outbox.claim_due(channel, CLAIM_LIMIT, now)
        if not rows:
            return 0
        delivery = self.settings.delivery
        live: list[Row] = []
        for row in rows:
            if now - row.created_at > delivery.max_age:
                reason = row.last_error or f"not delivered within {format_duration(delivery.max_age)}"
                self.outbox.mark_dead(row.id, reason)
                self.metrics.dead.labels(channel).inc()
            elif (row.event == "dag_run_failed" and row.run_id and row.dag_id
                  and self.outbox.covered_by_task_alert(channel, row.dag_id, row.run_id)):
                self.outbox.mark_state([row.id], "suppressed")
                self.metrics.suppressed.labels(channel).inc()
            else:
                live.append(row)
        singles = [r for r in live if r.kind == "alert"]
        ready = [r for r in live if r.kind != "alert"]
        digest = self.settings.digest
        room = digest.threshold - self.outbox.sent_since(channel, now - digest.window)
        if len(singles) > max(room, 0):
            keep = max(room, 0)
            ready += singles[:keep]
            held = singles[keep:]
            oldest = min(r.created_at for r in held)
            newest = max(r.created_at for r in held)
            # Send the digest once the storm pauses for `gather`, and at least once per window.
            if now - newest >= digest.gather or now - oldest >= digest.window:
                digest_row = self._make_digest(channel, held, now)
                if digest_row is not None:
                    ready.append(digest_row)
            else:
                self.outbox.release(held)
        else:
            ready += singles
        if not ready:
            return 0
        try:
            results = list(self._pool.map(lambda r: self._send(channel, r), ready))
        except Exception:
            self.outbox.release(ready)  # whatever was not recorded goes back to the queue, never stays 'sending'
            raise
        return sum(results)

    def _make_digest(self, channel: str, held: list[Row], now: datetime) -> Row | None:
        members = [{k: r.payload.get(k) for k in ("event", "dag_id", "run_id", "task_id", "try_number", "links",
                                                  "occurred_at")} for r in held]
        key = f"digest|{channel}|{held[0].id}-{held[-1].id}|{len(held)}"
        oldest = min(r.occurred_at for r in held)
        self.outbox.enqueue([NewAlert(idem_key=key, channel=channel, event="digest", occurred_at=oldest,
                                      payload={"members": members, "count": len(held)}, kind="digest")], now=now)
        claimed = [r for r in self.outbox.claim_due(channel, CLAIM_LIMIT, now) if r.idem_key == key]
        if not claimed:
            self.outbox.release(held)
            return None
        self.outbox.mark_state([r.id for r in held], "digested", digest_id=claimed[0].id)
        self.metrics.digested.labels(channel).inc(len(held))
        return claimed[0]

    def render(self, channel: str, row: Row) -> Message:
        if row.kind == "digest":
            members = row.payload.get("members") or []
            grafana = f"{self.grafana_url}/d/airdeck-dag" if self.grafana_url else None
            return render_digest(row.idem_key, channel, members, self.settings.digest.threshold,
                                 format_duration(self.settings.digest.window), grafana)
        return render_alert(row.idem_key, row.payload)

    def _send(self, channel: str, row: Row) -> int:
        try:
            message = self.render(channel, row)
            self.senders[channel].send(message)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
            self._record_failure(channel, row, exc)
            return 0
        now = self.clock()
        self.outbox.mark_sent(row.id, now)
        self.metrics.sent.labels(channel, row.kind).inc()
        self.metrics.latency.labels(channel).observe(max(0.0, (now - row.occurred_at).total_seconds()))
        return 1

    def _record_failure(self, channel: str, row: Row, exc: Exception) -> None:
        try:
            now = self.clock()
            self.metrics.failed.labels(channel).inc()
            permanent = isinstance(exc, DeliveryError) and exc.permanent
            error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            if permanent or now - row.created_at > self.settings.delivery.max_age:
                self.outbox.mark_dead(row.id, error)
                self.metrics.dead.labels(channel).inc()
                log.error("alert %s to %s dead-lettered: %s", row.idem_key, channel, error)
            else:
                delay = backoff(row.attempts + 1, self.settings.delivery.retry_initial,
                                self.settings.delivery.retry_max)
                self.outbox.mark_retry(row.id, error, now + delay)
                self.metrics.retried.labels(channel).inc()
                log.warning("alert %s to %s failed (retry in %ss): %s", row.idem_key, channel,
                            int(delay.total_seconds()), error)
        except Exception as inner:  # noqa: BLE001 - never leave the row in 'sending'
            log.error("recording the failed delivery of %s to %s failed: %s", row.idem_key, channel, inner)
            self.outbox.release([row])

    # ------------------------------------------------------------------ HTTP
    def healthy(self) -> tuple[bool, str]:
        stale = 3 * self.settings.delivery.poll_interval.total_seconds() + 30
        if not self.last_loop or time.monotonic() - self.last_loop > stale:
            return False, "the dispatcher loop is not running"
        if not self.db_ok:
            return False, "the outbox database does not answer"
        if self.failed_polls >= UNHEALTHY_AFTER_FAILED_POLLS:
            return False, (f"the last {self.failed_polls} polls of Airflow's state failed; "
                           f"alerts are not being detected: {self.last_poll_error}")
        return True, "ok"

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        dispatcher = self

        class Handler(BaseHTTPRequestHandler):
            timeout = REQUEST_TIMEOUT  # a client that stops sending cannot hold a thread

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                if self.path.startswith("/healthz"):
                    ok, detail = dispatcher.healthy()
                    self._reply(200 if ok else 503, detail.encode())
                elif self.path.startswith("/metrics"):
                    self._reply(200, generate_latest(dispatcher.metrics.registry), CONTENT_TYPE_LATEST)
                else:
                    self._reply(404, b"not found: /healthz, /metrics, POST /nudge")

            def do_POST(self) -> None:  # noqa: N802
                if not self.path.startswith("/nudge"):
                    self.close_connection = True
                    self._reply(404, b"not found")
                    return
                raw = (self.headers.get("Content-Length") or "0").strip()
                if self.headers.get("Transfer-Encoding") or not _CONTENT_LENGTH.fullmatch(raw):
                    self.close_connection = True
                    dispatcher.metrics.nudges.labels("refused").inc()
                    self._reply(400, b"Content-Length must be a non-negative integer (no chunked bodies)")
                    return
                length = int(raw)
                if length > NUDGE_MAX_BODY:
                    self.close_connection = True
                    dispatcher.metrics.nudges.labels("refused").inc()
                    self._reply(413, f"a /nudge body is at most {NUDGE_MAX_BODY} bytes".encode())
                    return
                try:
                    if length and len(self.rfile.read(length)) < length:
                        raise ConnectionError("the body is shorter than its Content-Length")
                except OSError:  # timed out or cut short: drop the connection
                    self.close_connection = True
                    dispatcher.metrics.nudges.labels("refused").inc()
                    return
                dispatcher.metrics.nudges.labels("accepted").inc()
                dispatcher.wake.set()
                self._reply(202, b"ok")

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        self._server = server
        return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airdeck.alerts.dispatcher")
    parser.add_argument("--settings", required=True, help="dispatcher.json written by airdeck")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stdout)
    for noisy in ("httpx", "airflow", "slack_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = DispatcherSettings.load(Path(args.settings))
    outbox = Outbox.connect(settings.database_url)
    api = AirflowApi(settings.api_url, settings.credentials, verify=settings.verify)
    dispatcher = Dispatcher(settings.alerts, outbox, api, settings.public_url, grafana_url=settings.grafana_url)
    server = dispatcher.serve(settings.alerts.dispatcher.host, settings.alerts.dispatcher.port)
    log.info("alert dispatcher serving /healthz, /metrics, /nudge on %s:%d; channels: %s",
             settings.alerts.dispatcher.host, server.server_address[1], ", ".join(settings.alerts.channels))

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        dispatcher.stop_event.set()
        dispatcher.wake.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        dispatcher.run()
    finally:
        dispatcher.metrics.up.set(0)
        server.shutdown()
        api.close()
        outbox.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
