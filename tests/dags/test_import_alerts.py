"""dag_import_error alerts against a real PostgreSQL and a Slack-webhook receiver: once per file and
commit (the commit from the versions the git bundle recorded), ``recovered`` once when the file is fixed.

The import errors come from a stand-in for Airflow's ``GET /api/v2/importErrors`` (no Airflow here;
tests/dags/test_stack.py covers the real endpoint)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airdeck.alerts.dispatcher import Dispatcher
from airdeck.alerts.store import Outbox, metadata, utcnow
from airdeck.config.alerts import AlertsSettings
from airdeck.dags import store

from tests.alerts.servers import SlackReceiver, set_connection_env

pytestmark = pytest.mark.integration


class ImportErrors:
    """What the api-server answers: the files that currently fail to import."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.items)

    def __getattr__(self, name: str) -> Any:  # no task or run state in these tests
        return lambda *args, **kwargs: []


@pytest.fixture
def slack() -> Any:
    receiver = SlackReceiver()
    yield receiver
    receiver.stop()


def test_once_per_file_and_commit_then_recovered(postgres, slack) -> None:  # type: ignore[no-untyped-def]
    set_connection_env("dags_slack", slack.connection("/dags"))
    outbox = Outbox.connect(postgres.url)
    metadata.drop_all(outbox.engine)
    store.metadata.drop_all(outbox.engine)
    outbox.create()
    store.create(outbox.engine)
    t0 = utcnow() - timedelta(minutes=5)
    store.record_success(outbox.engine, "team-a", "a" * 40, now=t0)
    store.record_success(outbox.engine, "team-a", "b" * 40, now=t0 + timedelta(minutes=2))
    settings = AlertsSettings.model_validate({
        "channels": {"dags": {"type": "slack", "connection": "dags_slack"}},
        "events": ["dag_import_error"], "delivery": {"poll_interval": "0.2s"}})
    api = ImportErrors()
    dispatcher = Dispatcher(settings, outbox, api, "http://airflow.example")  # type: ignore[arg-type]

    def cycle(times: int = 3) -> None:
        for _ in range(times):
            dispatcher.poll_once()
            dispatcher.deliver_once()

    error = {"filename": "broken.py", "bundle_name": "team-a", "timestamp": (t0 + timedelta(minutes=3)).isoformat(),
             "stack_trace": 'File "broken.py", line 1\n    def oops(:\n             ^\nSyntaxError: invalid syntax'}
    api.items = [error]
    cycle()
    posts = slack.on("/dags")
    assert len(posts) == 1
    text = posts[0].text
    assert "broken.py" in text and "team-a" in text and "b" * 12 in text and "SyntaxError" in text
    cycle()  # the same error, re-read: nothing new
    assert len(slack.on("/dags")) == 1
    # recorded at commit A's time (an earlier error): a different commit, a second alert
    api.items = [{**error, "timestamp": (t0 + timedelta(minutes=1)).isoformat()}]
    cycle()
    assert len(slack.on("/dags")) == 2 and "a" * 12 in slack.on("/dags")[1].text
    api.items = []
    cycle()
    fixed = slack.on("/dags")[2:]
    assert len(fixed) == 1 and "DAG import fixed" in fixed[0].text and "broken.py" in fixed[0].text
    cycle()
    assert len(slack.on("/dags")) == 3
    outbox.dispose()
