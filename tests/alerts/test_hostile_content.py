"""Task output is untrusted: Slack control sequences and HTML from a task reach the channels as text.

Issue 13, finding 6: ``<!channel>`` and ``<https://evil|Open task log>`` printed by a task reached Slack
as a mention and a link. Delivery goes through the providers' hooks to the Slack-webhook receiver and
a real SMTP server; the assertions read what those servers received.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from airdeck.alerts.dispatcher import Dispatcher
from airdeck.alerts.store import NewAlert, Outbox, utcnow

from tests.alerts.servers import html_of
from tests.alerts.test_dispatcher import drain, settings

pytestmark = pytest.mark.integration

MENTION = "<!channel>"
LINK = "<https://evil.example|Open task log>"
HOSTILE = f"{MENTION} {LINK} <@U024BE7LH> & <b>bold</b> ``` closed"


def _slack_strings(body: Any) -> list[str]:
    """Every string in the JSON body Slack received (blocks, fallback text, buttons)."""
    if isinstance(body, dict):
        return [s for value in body.values() for s in _slack_strings(value)]
    if isinstance(body, list):
        return [s for value in body for s in _slack_strings(value)]
    return [body] if isinstance(body, str) else []


def hostile_task_alert(channel: str) -> NewAlert:
    payload = {"event": "task_failed", "dag_id": "etl", "run_id": f"manual__{HOSTILE}", "task_id": "load",
               "try_number": 1, "max_tries": 0, "map_index": -1, "occurred_at": utcnow().isoformat(),
               "hostname": f"worker {MENTION}", "owners": [f"team {LINK}"],
               "log_excerpt": [f"INFO printing {HOSTILE}", f"ValueError: {MENTION} {LINK}"],
               "links": {"log_url": "http://airflow/dags/etl/runs/r/tasks/load?try_number=1"}}
    return NewAlert(f"task_failed|etl|r|load|-1|1|{channel}", channel, "task_failed", utcnow(), payload,
                    "etl", "r", "load", -1, 1)


def hostile_import_alert(channel: str) -> NewAlert:
    payload = {"event": "dag_import_error", "dag_id": "dags/x.py", "bundle": "dags", "file": "x.py",
               "commit": None, "error": f"SyntaxError: {MENTION} {LINK}",
               "log_excerpt": [f"  File x.py, line 1 {LINK}", f"SyntaxError: {MENTION}"],
               "occurred_at": utcnow().isoformat(), "links": {"dag_url": "http://airflow/dags?import_errors=true"}}
    return NewAlert(f"dag_import_error|dags|x.py||{channel}", channel, "dag_import_error", utcnow(), payload)


def test_task_output_reaches_slack_and_email_inert(outbox: Outbox, wired) -> None:  # type: ignore[no-untyped-def]
    slack, smtp = wired
    dispatcher = Dispatcher(settings(), outbox, None, "http://airflow")
    outbox.enqueue([hostile_task_alert("slack"), hostile_import_alert("slack"),
                    hostile_task_alert("email"), hostile_import_alert("email")])
    drain(dispatcher, lambda: outbox.counts()["sent"] == 4)
    assert len(slack.posts) == 2 and len(smtp.messages) == 2
    for post in slack.posts:
        strings = _slack_strings(post.body)
        joined = "\n".join(strings)
        # Nothing Slack would parse as a mention, a user reference or a link came from the task.
        assert "<!" not in joined and "<@" not in joined and "<https://evil" not in joined, joined
        assert "&lt;!channel&gt;" in joined and "&lt;https://evil.example|Open task log&gt;" in joined
        assert "&lt;!channel&gt;" in post.body["text"]  # the fallback text (notifications) too
        # The task's ``` cannot close the code block the excerpt sits in.
        code = [s for s in strings if s.startswith(("*Last log lines*", "*Traceback*"))]
        assert code and all(s.count("```") == 2 for s in code), code
        # The raw JSON carries no unescaped '<' from the task anywhere.
        assert MENTION not in json.dumps(post.body)
    for mail in smtp.messages:
        page = html_of(mail)
        assert "<b>bold</b>" not in page and MENTION not in page and 'href="https://evil' not in page
        assert "&lt;!channel&gt;" in page
        assert "\n" not in str(mail["Subject"]).replace("\n ", "")  # one header line, folded at most
