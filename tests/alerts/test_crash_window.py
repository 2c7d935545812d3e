"""SIGKILL of the dispatcher process between a channel's "ok" and the commit that records it.

The receiver (Slack webhook or SMTP server) records the message and holds its answer until the test
has killed the dispatcher: the kill lands in the window deterministically, with no sleep. The
documented contract (docs/alerting.md, "Exactly once, and its one limit") is at-least-once there: the
restarted dispatcher sends the message once more, so the channel holds exactly two copies carrying
the same idempotency key, and the outbox row ends `sent` once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from airdeck.alerts.dispatcher import Dispatcher
from airdeck.alerts.store import Outbox

from tests.alerts.servers import free_port
from tests.alerts.test_dispatcher import settings, task_alert
from tests.harness import PostgresServer

pytestmark = pytest.mark.integration


def dispatcher_process(tmp_path: Path, postgres: PostgresServer, channel: str) -> subprocess.Popen[bytes]:
    """``python -m airdeck.alerts.dispatcher`` (the service airdeck up runs) with one channel."""
    config = settings(dispatcher={"host": "127.0.0.1", "port": free_port()})
    config.channels = {channel: config.channels[channel]}
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    password = secrets / "admin_password"
    password.write_text("unused")
    password.chmod(0o600)
    document = {"alerts": config.model_dump(mode="json"), "database_url": postgres.url,
                "api_url": f"http://127.0.0.1:{free_port()}",  # nothing there: polls fail, delivery goes on
                "public_url": "http://airflow", "admin_username": "admin", "secrets_dir": str(secrets)}
    path = tmp_path / "dispatcher.json"
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    return subprocess.Popen([sys.executable, "-m", "airdeck.alerts.dispatcher", "--settings", str(path)],
                            stdout=(tmp_path / "dispatcher.log").open("wb"), stderr=subprocess.STDOUT)


def key_in_slack_post(post: Any) -> str:
    footer = post.body["blocks"][-1]["elements"][0]["text"]
    return str(footer.removeprefix("airdeck · `").removesuffix("`"))


@pytest.mark.parametrize("channel", ["slack", "email"])
def test_sigkill_between_send_and_record_gives_one_duplicate_with_the_same_key(
        tmp_path: Path, postgres: PostgresServer, outbox: Outbox, wired: Any, channel: str) -> None:
    slack, smtp = wired
    receiver = slack if channel == "slack" else smtp.handler
    receiver.hold = threading.Event()
    alert = task_alert(channel)
    outbox.enqueue([alert])
    process = dispatcher_process(tmp_path, postgres, channel)
    try:
        received = receiver.received.wait(120)
        assert received, "the dispatcher never delivered: " + (tmp_path / "dispatcher.log").read_text()[-3000:]
        assert [r.state for r in outbox.rows()] == ["sending"]  # delivered, not yet recorded
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        receiver.hold.set()  # answer "ok" to a dispatcher that is gone
    receiver.hold = None
    assert [(r.state, r.attempts) for r in outbox.rows()] == [("sending", 0)]

    restarted = Dispatcher(settings(), outbox, None, "http://airflow")
    thread = threading.Thread(target=restarted.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while outbox.counts()["sent"] < 1:
            assert time.monotonic() < deadline, outbox.counts()
            time.sleep(0.05)
    finally:
        restarted.stop()
        thread.join(30)
    assert [(r.state, r.attempts) for r in outbox.rows()] == [("sent", 1)]
    if channel == "slack":
        assert [key_in_slack_post(p) for p in slack.posts] == [alert.idem_key] * 2
    else:
        assert [m["X-Airdeck-Alert-Key"] for m in smtp.messages] == [alert.idem_key] * 2
        first, second = smtp.messages
        assert first["Message-ID"] == second["Message-ID"]  # a mail client shows it once
