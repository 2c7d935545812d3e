"""The alert pipeline under hostile or unlucky input (issue 13, findings 2 and 12).

Against a real PostgreSQL, the Slack-webhook receiver and a stand-in for Airflow's REST API
(tests/alerts/fakeairflow.py): long ids, malformed items, a failing api-server, a nudge flood,
malformed HTTP requests, a 30 MB task log, an outbox of an older airdeck, thousands of retries.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from airdeck.alerts.dispatcher import NUDGE_MIN_GAP, UNHEALTHY_AFTER_FAILED_POLLS, Dispatcher
from airdeck.alerts.source import AirflowApi, SourceError
from airdeck.alerts.store import NewAlert, Outbox, backoff, key_hash, metadata, utcnow
from sqlalchemy import inspect, text

from tests.alerts.fakeairflow import FakeAirflow, task_instance
from tests.alerts.test_dispatcher import drain, settings, task_alert
from tests.harness import free_port

pytestmark = pytest.mark.integration

LONG_DAG = "d" * 250  # Airflow's limit (ID_LEN) for dag_id, task_id and run_id
LONG_TASK = "t" * 200
LONG_RUN = "manual__" + "r" * 242
TI_PATH = "/api/v2/dags/~/dagRuns/~/taskInstances"


@pytest.fixture
def airflow() -> Iterator[FakeAirflow]:
    fake = FakeAirflow()
    yield fake
    fake.stop()


def dispatcher_for(airflow: FakeAirflow, outbox: Outbox, **overrides: Any) -> Dispatcher:
    api = AirflowApi(airflow.url, lambda: ("admin", "admin"))
    return Dispatcher(settings(**overrides), outbox, api, "http://airflow")


def metric(dispatcher: Dispatcher, name: str, labels: dict[str, str] | None = None) -> float:
    value = dispatcher.metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


# ------------------------------------------------------------------------------------- finding 2
def test_long_ids_and_bad_items_do_not_stop_other_alerts(outbox: Outbox, airflow: FakeAirflow, wired) -> None:  # type: ignore[no-untyped-def]
    slack, _ = wired
    airflow.task_instances = [
        task_instance(LONG_DAG, LONG_RUN, LONG_TASK),  # its key is ~720 characters
        {"dag_id": "broken_item", "task_id": "x", "state": "failed"},  # no dag_run_id: cannot be keyed
        task_instance("nul_dag", "run\x00with_nul", "load"),  # PostgreSQL refuses NUL in text
        task_instance("other_dag", "scheduled__2026-11-26", "load"),
    ]
    dispatcher = dispatcher_for(airflow, outbox, default_channels=["slack"])
    assert dispatcher.poll_once() == 2
    assert dispatcher.failed_polls == 0
    assert metric(dispatcher, "airdeck_alerts_item_errors_total", {"stage": "read"}) == 1
    assert metric(dispatcher, "airdeck_alerts_item_errors_total", {"stage": "store"}) == 1
    rows = {r.dag_id: r for r in outbox.rows()}
    assert set(rows) == {LONG_DAG, "other_dag"}
    long_row = rows[LONG_DAG]
    assert (long_row.task_id, long_row.run_id) == (LONG_TASK, LONG_RUN)
    assert len(long_row.idem_key) > 500 and long_row.key_hash == key_hash(long_row.idem_key)
    drain(dispatcher, lambda: outbox.counts()["sent"] == 2)
    assert sorted(p.body["blocks"][0]["text"]["text"] for p in slack.posts) == sorted(
        [f"Task failed: {LONG_DAG}"[:150], "Task failed: other_dag"])
    # A second poll re-reads the same items: nothing is queued twice, the bad ones are tried again.
    assert dispatcher.poll_once() == 0
    assert metric(dispatcher, "airdeck_alerts_item_errors_total", {"stage": "store"}) == 2
    assert outbox.counts()["queued"] == 0


def test_a_failing_source_queues_the_others_and_keeps_the_cursor(outbox: Outbox, airflow: FakeAirflow) -> None:
    airflow.task_instances = [task_instance("etl", "run1", "load")]
    airflow.failing = {"/ui/dags/~/dagRuns/~/deadlines"}
    dispatcher = dispatcher_for(airflow, outbox)
    assert dispatcher.detector is not None
    unset = utcnow() - timedelta(days=365)
    assert dispatcher.poll_once() == 2  # slack and email
    assert dispatcher.failed_polls == 1 and "sla_missed" in dispatcher.last_poll_error
    assert outbox.cursor("airflow_state", unset) == unset  # not moved: the deadlines are read again next time
    airflow.failing = set()
    assert dispatcher.poll_once() == 0 and dispatcher.failed_polls == 0
    assert outbox.cursor("airflow_state", unset) > unset


def test_healthz_turns_unhealthy_after_failed_polls_and_healthy_again(outbox: Outbox, airflow: FakeAirflow) -> None:
    dispatcher = dispatcher_for(airflow, outbox, delivery={"poll_interval": "0.2s"})
    port = free_port()
    dispatcher.serve("127.0.0.1", port)
    thread = threading.Thread(target=dispatcher.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"

    def wait_for(status: int) -> httpx.Response:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            response = httpx.get(f"{base}/healthz")
            if response.status_code == status:
                return response
            time.sleep(0.1)
        raise AssertionError(f"/healthz never answered {status}: {response.status_code} {response.text}")

    try:
        wait_for(200)
        airflow.failing = {"*"}
        down = wait_for(503)
        assert f"last {UNHEALTHY_AFTER_FAILED_POLLS} polls of Airflow's state failed" in down.text
        assert "500" in down.text
        scrape = httpx.get(f"{base}/metrics").text
        assert "airdeck_alerts_dispatcher_up 0.0" in scrape
        failures = [line for line in scrape.splitlines() if line.startswith("airdeck_alerts_poll_failures_consecutive")]
        assert failures and float(failures[0].split()[-1]) >= UNHEALTHY_AFTER_FAILED_POLLS
        airflow.failing = set()
        wait_for(200)
        time.sleep(0.3)
        assert "airdeck_alerts_poll_failures_consecutive 0.0" in httpx.get(f"{base}/metrics").text
    finally:
        dispatcher.stop()
        thread.join(10)


def _old_outbox(outbox: Outbox) -> None:
    """The outbox as airdeck created it before issue 13 (idem_key VARCHAR(500) unique with channel)."""
    metadata.drop_all(outbox.engine)
    with outbox.engine.begin() as conn:
        conn.execute(text("""
            CREATE TABLE airdeck_alert_outbox (
                id BIGSERIAL PRIMARY KEY, idem_key VARCHAR(500) NOT NULL, channel VARCHAR(64) NOT NULL,
                kind VARCHAR(16) NOT NULL, event VARCHAR(32) NOT NULL, dag_id VARCHAR(250), run_id VARCHAR(250),
                task_id VARCHAR(250), map_index INTEGER NOT NULL, try_number INTEGER, payload JSON NOT NULL,
                state VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, occurred_at TIMESTAMPTZ NOT NULL,
                created_at TIMESTAMPTZ NOT NULL, next_attempt_at TIMESTAMPTZ NOT NULL, sent_at TIMESTAMPTZ,
                last_error TEXT, digest_id BIGINT,
                CONSTRAINT airdeck_alert_outbox_idem_uq UNIQUE (idem_key, channel))"""))
        conn.execute(text("CREATE INDEX ix_airdeck_alert_outbox_state ON airdeck_alert_outbox (state)"))
        for n, state in ((1, "queued"), (2, "sent")):
            alert = task_alert("slack", n)
            conn.execute(text("""
                INSERT INTO airdeck_alert_outbox (idem_key, channel, kind, event, dag_id, run_id, task_id, map_index,
                    try_number, payload, state, attempts, occurred_at, created_at, next_attempt_at)
                VALUES (:key, 'slack', 'alert', 'task_failed', 'etl', :run, 'load', -1, 3, :payload, :state, 0,
                        now(), now(), now())"""),
                         {"key": alert.idem_key, "run": f"run{n}", "payload": json.dumps(alert.payload),
                          "state": state})


def test_an_older_outbox_is_upgraded_and_its_pending_alerts_delivered(outbox: Outbox, wired, postgres) -> None:  # type: ignore[no-untyped-def]
    slack, _ = wired
    _old_outbox(outbox)
    upgraded = Outbox.connect(postgres.url)  # what the dispatcher does at start
    Outbox.connect(postgres.url).dispose()  # a second start finds it upgraded and changes nothing
    try:
        assert upgraded.counts()["queued"] == 1 and upgraded.counts()["sent"] == 1
        assert all(r.key_hash == key_hash(r.idem_key) for r in upgraded.rows())
        # The idempotency of the old rows holds across the upgrade ...
        assert upgraded.enqueue([task_alert("slack", 1), task_alert("slack", 2)]) == []
        # ... and a key longer than the old 500 characters is stored.
        assert len(upgraded.enqueue([task_alert("slack", 3, dag="x" * 250)])) == 1
        dispatcher = Dispatcher(settings(), upgraded, None, "http://airflow")
        drain(dispatcher, lambda: upgraded.counts()["sent"] == 3)
        assert sorted(p.body["blocks"][0]["text"]["text"] for p in slack.posts) == sorted(
            ["Task failed: etl", f"Task failed: {'x' * 250}"[:150]])
    finally:
        upgraded.dispose()


def test_alerts_list_reads_an_outbox_not_upgraded_yet(outbox: Outbox, postgres) -> None:  # type: ignore[no-untyped-def]
    from airdeck.alerts.store import read_outbox

    _old_outbox(outbox)
    listing = read_outbox(postgres.url)
    assert listing.counts["queued"] == 1 and listing.counts["sent"] == 1
    assert sorted(r.run_id or "" for r in listing.rows) == ["run1", "run2"]
    assert all(r.key_hash == "" for r in listing.rows)  # read as it is: nothing was changed
    with outbox.engine.connect() as conn:
        assert "key_hash" not in {c["name"] for c in inspect(conn).get_columns("airdeck_alert_outbox")}


# ------------------------------------------------------------------------------------- finding 12
def test_backoff_is_capped_for_any_number_of_attempts() -> None:
    initial, maximum = timedelta(seconds=5), timedelta(minutes=5)
    assert [backoff(n, initial, maximum).total_seconds() for n in (1, 2, 3, 7)] == [5, 10, 20, 300]
    for attempts in (1025, 10_000, 2**31 - 1):
        assert backoff(attempts, initial, maximum) == maximum


def test_a_row_that_failed_thousands_of_times_is_retried_not_stuck(outbox: Outbox, wired) -> None:  # type: ignore[no-untyped-def]
    slack, _ = wired
    slack.mode = "error"
    outbox.enqueue([task_alert("slack")])
    with outbox.engine.begin() as conn:
        conn.execute(text("UPDATE airdeck_alert_outbox SET attempts = 5000"))
    dispatcher = Dispatcher(settings(), outbox, None, "http://airflow")
    dispatcher.deliver_once()
    row = outbox.rows()[0]
    assert row.state == "queued" and row.attempts == 5001
    assert timedelta(0) < row.next_attempt_at - utcnow() <= timedelta(seconds=1)  # retry_max of settings()


def test_rows_stuck_in_sending_are_queued_again(outbox: Outbox) -> None:
    outbox.enqueue([task_alert("slack")])
    claimed = outbox.claim_due("slack", 10)
    assert [r.state for r in claimed] == ["sending"]
    assert outbox.requeue_stale(utcnow() - timedelta(minutes=5)) == 0  # just claimed: left alone
    assert outbox.requeue_stale(utcnow() + timedelta(seconds=1)) == 1
    assert outbox.rows()[0].state == "queued"


def test_finished_rows_are_pruned_after_the_retention(outbox: Outbox) -> None:
    old = utcnow() - timedelta(days=40)
    alerts = {state: task_alert("slack", n) for n, state in enumerate(("queued", "sent", "dead", "suppressed"))}
    outbox.enqueue(alerts.values(), now=old)
    outbox.enqueue([task_alert("slack", 10)])  # recent and sent: kept
    import_old = NewAlert("dag_import_error|dags|x.py||", "slack", "dag_import_error", old,
                          {"event": "dag_import_error", "bundle": "dags", "file": "x.py"})
    outbox.enqueue([import_old], now=old)  # the newest alert of its file: kept whatever its age
    ids = {r.idem_key: r.id for r in outbox.rows(limit=100)}
    for state, alert in alerts.items():
        outbox.mark_state([ids[alert.idem_key]], state)
    outbox.mark_state([ids[task_alert("slack", 10).idem_key], ids[import_old.idem_key]], "sent")
    dispatcher = Dispatcher(settings(delivery={"retention": "30d"}), outbox, None, "http://airflow")
    dispatcher.housekeeping(force=True)
    left = {r.idem_key for r in outbox.rows(limit=100)}
    assert left == {alerts["queued"].idem_key, task_alert("slack", 10).idem_key, import_old.idem_key}
    assert metric(dispatcher, "airdeck_alerts_pruned_total") == 3


def wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    """Wait for an event (checked every 20 ms); the timeout only ends a test whose event never comes."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


def test_a_nudge_flood_is_coalesced_into_few_polls(outbox: Outbox, airflow: FakeAirflow, record_property) -> None:  # type: ignore[no-untyped-def]
    """100 nudges: each accepted, polls started at least NUDGE_MIN_GAP apart, and the last nudge still
    served by a poll that starts after it. How long the flood took depends on the load: recorded only."""
    dispatcher = dispatcher_for(airflow, outbox, delivery={"poll_interval": "1h"})
    starts: list[float] = []
    poll_once = dispatcher.poll_once

    def timed_poll() -> int:
        starts.append(time.monotonic())
        return poll_once()

    dispatcher.poll_once = timed_poll  # type: ignore[method-assign]
    port = free_port()
    dispatcher.serve("127.0.0.1", port)
    thread = threading.Thread(target=dispatcher.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: airflow.count(TI_PATH) >= 1, "the first (timer) poll")
        flood_started = time.monotonic()
        with httpx.Client() as client:
            for _ in range(100):
                assert client.post(f"http://127.0.0.1:{port}/nudge").status_code == 202
        last_nudge = time.monotonic()
        wait_until(lambda: any(t > last_nudge for t in starts), "a poll after the last nudge")
        polls = list(starts)
        gaps = [b - a for a, b in zip(polls, polls[1:], strict=False)]
        # Coalesced: never two polls closer than the gap (a little slack for the instant between the
        # loop's clock reading and our wrapper's).
        assert all(gap >= NUDGE_MIN_GAP - 0.1 for gap in gaps), gaps
        flood = last_nudge - flood_started
        assert len(polls) <= 2 + math.ceil(flood / NUDGE_MIN_GAP) + 1, (polls, flood)
        assert metric(dispatcher, "airdeck_alerts_nudges_total", {"outcome": "accepted"}) == 100
        record_property("nudge_flood_seconds", round(flood, 2))
        record_property("polls_for_100_nudges", len(polls))
    finally:
        dispatcher.stop()
        thread.join(10)


@pytest.mark.parametrize(("length", "status"), [("-1", 400), ("-999999", 400), ("abc", 400), ("1e3", 400),
                                                ("99999999999", 413)])
def test_malformed_content_length_is_refused_at_once(outbox: Outbox, length: str, status: int) -> None:
    dispatcher = Dispatcher(settings(), outbox, None, "http://airflow")
    port = free_port()
    server = dispatcher.serve("127.0.0.1", port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"POST /nudge HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
            # The connection stays open on our side: the answer must not wait for it to close.
            sock.settimeout(3)
            answer = sock.recv(4096).decode()
        assert answer.startswith(f"HTTP/1.0 {status}"), answer
        assert not dispatcher.wake.is_set()
        assert metric(dispatcher, "airdeck_alerts_nudges_total", {"outcome": "refused"}) == 1
        assert httpx.post(f"http://127.0.0.1:{port}/nudge", content=b"{}").status_code == 202
    finally:
        server.shutdown()


def test_log_excerpt_of_a_30_mb_log_keeps_only_the_tail_in_memory(airflow: FakeAirflow) -> None:
    lines = 20_000

    def records() -> Iterator[dict[str, Any]]:
        for n in range(lines):
            yield {"timestamp": "2026-11-26T10:00:00Z", "level": "info", "event": f"row {n} " + "x" * 1500}
        yield {"event": "Task failed with exception", "level": "error",
               "error_detail": [{"exc_type": "ValueError", "exc_value": "bad row 19999",
                                 "frames": [{"filename": "etl.py", "lineno": 42, "name": "load"}]}]}

    airflow.log = records
    api = AirflowApi(airflow.url, lambda: ("admin", "admin"))
    try:
        api.token()
        tracemalloc.start()
        excerpt = api.log_excerpt("etl", "run1", "load", 1, lines=5)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        api.close()
    assert excerpt == [(f"row {n} " + "x" * 1500)[:500] for n in range(lines - 3, lines)] + [
        "ERROR Task failed with exception", "ValueError: bad row 19999  (etl.py:42 in load)"], excerpt
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB while reading a ~30 MB log"


def test_a_log_line_of_megabytes_is_cut(airflow: FakeAirflow) -> None:
    airflow.log = lambda: iter([{"event": "y" * 5_000_000, "level": "info"}, {"event": "last", "level": "error"}])
    api = AirflowApi(airflow.url, lambda: ("admin", "admin"))
    try:
        excerpt = api.log_excerpt("etl", "run1", "load", 1, lines=3)
    finally:
        api.close()
    assert excerpt[-1] == "ERROR last"
    assert len(excerpt) == 2 and len(excerpt[0]) <= 500


# ------------------------------------------------------------------ issue 22, finding 13: ids are path segments
@pytest.mark.parametrize(("dag_id", "run_id", "task_id"), [("d", "..", "t"), ("..", "r", "."), (".", ".", "..")])
def test_dot_ids_reach_the_api_as_themselves(airflow: FakeAirflow, dag_id: str, run_id: str, task_id: str) -> None:
    """An id ``.`` (Airflow accepts it) or ``..`` (with ``[core] allow_double_dot_in_ids``) names that object,
    never the one above it."""
    api = AirflowApi(airflow.url, lambda: ("admin", "admin"))
    with contextlib.suppress(SourceError):
        api.dag_run(dag_id, run_id)
    assert airflow.count(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}") == 1
    api.dag(dag_id)
    assert airflow.count(f"/api/v2/dags/{dag_id}") == 1
    api.log_excerpt(dag_id, run_id, task_id, 1)
    assert airflow.count(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1") == 1
