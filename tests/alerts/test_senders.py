"""The real Slack and SMTP senders (the providers' hooks the dispatcher uses) against servers that refuse.

A Slack-webhook receiver answers 400, 403, 404, 429, 500 or never; an aiosmtpd server answers DATA
with 4xx or 5xx codes or never. Each case shows which failures are retried and which are dead at once,
that a hang is cut by ``alerts.delivery.timeout`` (not by the connection's own 30 s time-out and 5
immediate retries), and that nothing is lost: a retried alert is delivered exactly once afterwards.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airdeck.alerts.dispatcher import Dispatcher
from airdeck.alerts.store import Outbox

from tests.alerts.servers import SlackReceiver, SmtpServer, set_connection_env
from tests.alerts.test_dispatcher import drain, settings, task_alert

pytestmark = pytest.mark.integration

TIMEOUT = 2.0  # alerts.delivery.timeout in settings()


def only_row(outbox: Outbox) -> Any:
    rows = outbox.rows()
    assert len(rows) == 1, rows
    return rows[0]


def plain_smtp_connection(smtp: SmtpServer) -> dict[str, Any]:
    """The SMTP connection with the provider's defaults: 30 s time-out, 5 immediate retries."""
    return {"conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port,
            "extra": json.dumps({"disable_tls": True, "disable_ssl": True, "from_email": "airdeck@example.com"})}


@pytest.mark.parametrize("status", [400, 403, 404])
def test_slack_4xx_is_dead_at_once_without_retry(outbox: Outbox, wired: Any, status: int) -> None:
    slack, _ = wired
    slack.mode = status
    dispatcher = Dispatcher(settings(), outbox, None, "http://airflow")
    outbox.enqueue([task_alert("slack")])
    dispatcher.deliver_once()
    row = only_row(outbox)
    assert row.state == "dead", row
    assert f"Status Code: {status}" in (row.last_error or ""), row.last_error
    assert slack.attempts == 1
    assert dispatcher.metrics.dead.labels("slack")._value.get() == 1
    assert dispatcher.metrics.retried.labels("slack")._value.get() == 0
    slack.mode = "ok"
    dispatcher.deliver_once()
    assert slack.attempts == 1 and slack.posts == []


@pytest.mark.parametrize("status", [429, 500])
def test_slack_429_and_5xx_are_retried_then_delivered_once(outbox: Outbox, wired: Any, status: int) -> None:
    slack, _ = wired
    slack.mode = status
    dispatcher = Dispatcher(settings(), outbox, None, "http://airflow")
    outbox.enqueue([task_alert("slack")])
    dispatcher.deliver_once()
    row = only_row(outbox)
    assert row.state == "queued" and row.attempts == 1, row
    assert f"Status Code: {status}" in (row.last_error or ""), row.last_error
    assert slack.attempts == 1  # one request per attempt: the outbox retries, with backoff
    slack.mode = "ok"
    drain(dispatcher, lambda: outbox.counts()["sent"] == 1)
    assert len(slack.posts) == 1 and only_row(outbox).attempts == 2
    assert dispatcher.metrics.retried.labels("slack")._value.get() == 1
    assert dispatcher.metrics.dead.labels("slack")._value.get() == 0


def test_slack_hang_is_cut_by_the_delivery_timeout(outbox: Outbox, wired: Any) -> None:
    slack, _ = wired
    slack.mode = "hang"  # the receiver holds each request 30 s
    dispatcher = Dispatcher(settings(), outbox, None, "http://airflow")
    outbox.enqueue([task_alert("slack")])
    started = time.monotonic()
    dispatcher.deliver_once()
    took = time.monotonic() - started
    assert took < 25, f"the hanging webhook held the delivery {took:.1f} s (timeout {TIMEOUT} s)"
    row = only_row(outbox)
    assert row.state == "queued" and row.attempts == 1 and "timed out" in (row.last_error or "").lower(), row
    slack.mode = "ok"
    drain(dispatcher, lambda: outbox.counts()["sent"] == 1)
    assert len(slack.posts) == 1


@pytest.fixture
def email_only(outbox: Outbox, smtp: SmtpServer) -> Dispatcher:
    set_connection_env("unit_smtp", plain_smtp_connection(smtp))
    config = settings()
    config.channels.pop("slack")
    return Dispatcher(config, outbox, None, "http://airflow")


@pytest.mark.parametrize("reply", ["550 5.1.1 mailbox unavailable", "554 5.7.1 message rejected"])
def test_smtp_5xx_is_dead_at_once_without_retry(outbox: Outbox, smtp: SmtpServer, email_only: Dispatcher,
                                                reply: str) -> None:
    smtp.handler.reply = reply
    outbox.enqueue([task_alert("email")])
    email_only.deliver_once()
    row = only_row(outbox)
    assert row.state == "dead", row
    assert reply.split()[0] in (row.last_error or ""), row.last_error
    assert smtp.handler.attempts == 1  # not the provider's 5 immediate retries
    assert email_only.metrics.dead.labels("email")._value.get() == 1
    smtp.handler.reply = "250 ok"
    email_only.deliver_once()
    assert smtp.handler.attempts == 1 and smtp.messages == []


@pytest.mark.parametrize("reply", ["451 4.3.0 try again later", "452 4.2.2 mailbox full"])
def test_smtp_4xx_is_retried_then_delivered_once(outbox: Outbox, smtp: SmtpServer, email_only: Dispatcher,
                                                 reply: str) -> None:
    smtp.handler.reply = reply
    outbox.enqueue([task_alert("email")])
    email_only.deliver_once()
    row = only_row(outbox)
    assert row.state == "queued" and row.attempts == 1, row
    assert reply.split()[0] in (row.last_error or ""), row.last_error
    assert smtp.handler.attempts == 1
    smtp.handler.reply = "250 ok"
    drain(email_only, lambda: outbox.counts()["sent"] == 1)
    assert len(smtp.messages) == 1 and smtp.handler.attempts == 2
    assert smtp.messages[0]["X-Airdeck-Alert-Key"] == task_alert("email").idem_key


def test_smtp_hang_is_cut_by_the_delivery_timeout(outbox: Outbox, smtp: SmtpServer, email_only: Dispatcher) -> None:
    smtp.handler.hanging = True  # DATA is never answered
    outbox.enqueue([task_alert("email")])
    started = time.monotonic()
    email_only.deliver_once()
    took = time.monotonic() - started
    # The connection's own time-out is 30 s with 5 retries; the dispatcher's is 2 s and one attempt.
    assert took < 25, f"the hanging SMTP server held the delivery {took:.1f} s (timeout {TIMEOUT} s)"
    row = only_row(outbox)
    assert row.state == "queued" and row.attempts == 1 and "timed out" in (row.last_error or "").lower(), row
    assert smtp.handler.attempts == 1
    smtp.handler.hanging = False
    drain(email_only, lambda: outbox.counts()["sent"] == 1)
    assert len(smtp.messages) == 1 and smtp.handler.attempts == 2


def test_receiver_answers_as_slack_does() -> None:
    """The receiver itself: each status comes with Slack's body (a check on the test server, not the product)."""
    import httpx

    receiver = SlackReceiver()
    try:
        for status, body in ((400, "invalid_payload"), (403, "invalid_token"), (404, "no_service"),
                             (429, "rate_limited"), (500, "internal_error")):
            receiver.mode = status
            answer = httpx.post(receiver.url(), json={"text": "x"})
            assert (answer.status_code, answer.text) == (status, body)
    finally:
        receiver.stop()
