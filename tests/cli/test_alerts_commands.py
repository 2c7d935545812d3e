"""`airdeck alerts test` sends from a child process with the platform's environment (this process's
stays as it was); `airdeck alerts list` shows the outbox, its JSON being what its table shows."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from airdeck.alerts.store import NewAlert, Outbox, OutboxUnavailable, read_outbox
from airdeck.alerts.testsend import send_test
from airdeck.cli import output
from airdeck.cli.commands.alerts import outbox_table
from airdeck.cli.results import Result
from airdeck.config import load_config
from rich.console import Console

from tests.alerts.servers import SlackReceiver
from tests.cli.helpers import PLATFORM, run
from tests.harness import free_port


def _config(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "airdeck.yaml"
    path.write_text(yaml.safe_dump({"alerts": {"channels": {
        "ops-slack": {"type": "slack", "connection": "slack_ops"},
        "dev-slack": {"type": "slack", "connection": "slack_dev"}}}, **extra}))
    return path


def test_alerts_test_sends_from_a_child_and_leaves_this_environment_alone(
        tmp_path: Path, slack: SlackReceiver, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The person's shell holds the connections (as Airflow reads them); the child must see them.
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_OPS", json.dumps(slack.connection("/ops")))
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEV", json.dumps(slack.connection("/dev")))
    monkeypatch.setenv("PYTHONPATH", str(PLATFORM))
    before = dict(os.environ)
    config = _config(tmp_path)
    ran = run(capsys, "--config", str(config), "--home", str(tmp_path / "home"), "alerts", "test",
              "--channel", "slack")
    assert ran.code == 0, ran.err
    assert dict(os.environ) == before
    assert "✓ sent a test message to ops-slack (slack, connection slack_ops)" in ran.err
    assert "✓ sent a test message to dev-slack (slack, connection slack_dev)" in ran.err
    assert len(slack.on("/ops")) == 1 and len(slack.on("/dev")) == 1
    assert "Test alert from airdeck to channel ops-slack" in json.dumps(slack.on("/ops")[0].body)


def test_a_channel_that_fails_is_named_and_the_others_still_get_theirs(tmp_path: Path, slack: SlackReceiver) -> None:
    cfg = load_config(_config(tmp_path))
    airflow_home = tempfile.mkdtemp(prefix="airdeck-cli-airflow-", dir=tmp_path)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PLATFORM), "AIRFLOW_HOME": airflow_home,
           "_AIRFLOW_PROCESS_CONTEXT": "server",
           "AIRFLOW_CONN_SLACK_DEV": json.dumps(slack.connection("/dev"))}  # slack_ops is defined nowhere
    outcomes = send_test(cfg, ["ops-slack", "dev-slack"], env, "http://127.0.0.1:8080")
    by_name = {o.channel: o for o in outcomes}
    assert by_name["dev-slack"].error is None and len(slack.on("/dev")) == 1
    assert by_name["ops-slack"].error is not None and "slack_ops" in by_name["ops-slack"].error


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A throwaway PostgreSQL (the pgserver wheel), reached through its socket folder."""
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="airdeck-cli-pg-", dir="/tmp"))  # traversable by pgserver's own user
    folder.chmod(0o755)
    server = pgserver.get_server(folder / "data", cleanup_mode="delete")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.integration
def test_alerts_list_json_is_what_its_table_shows(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    box = Outbox.connect(database_url)
    try:
        now = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
        box.enqueue([NewAlert("k1", "ops-slack", "task_failed", now, {}, dag_id="etl[/]", run_id="r1",
                              task_id="load", try_number=2),
                     NewAlert("k2", "ops-slack", "dag_late", now, {}, dag_id="report")])
    finally:
        box.dispose()
    listing = read_outbox(database_url)
    table = outbox_table(listing.rows, listing.counts)
    output.render(Result.of(table, as_json=True), Console(stderr=True))
    document = json.loads(capsys.readouterr().out)
    output.render(Result.of(table), Console(stderr=True))
    shown = capsys.readouterr().out
    assert document["counts"]["queued"] == 2
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in shown.splitlines() if line.startswith("│")]
    alerts = document["alerts"]
    assert [a["key"] for a in alerts] == ["k2", "k1"]  # newest first
    for alert, row in zip(alerts, rows, strict=True):
        where = alert["dag_id"] + ("." + alert["task_id"] if alert["task_id"] else "")
        assert row == [str(alert["id"]), alert["state"], alert["channel"], alert["event"], where,
                       alert["run_id"] or "", str(alert["try_number"] or ""), str(alert["attempts"]),
                       alert["occurred_at"][:19], ""]
    assert "etl[/].load" in shown and "queued 2" in shown
    assert read_outbox(database_url, state="sent").rows == []


def test_reading_a_database_that_is_down_names_it_with_the_password_masked() -> None:
    port = free_port()
    with pytest.raises(OutboxUnavailable) as info:
        read_outbox(f"postgresql+psycopg://airflow:s3cret-pw@127.0.0.1:{port}/airflow")
    message = str(info.value)
    assert f"airflow:***@127.0.0.1:{port}/airflow" in message and "s3cret-pw" not in message
    assert "airdeck status" in message
