"""Fixtures for alerting tests: real SMTP, Slack-webhook receiver and PostgreSQL servers."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Airflow's hooks read configuration at import: give them a private home, never ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airdeck-alerts-airflow-"))
os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")

from airdeck.alerts.store import Outbox, metadata  # noqa: E402

from tests.alerts.servers import SmtpServer, set_connection_env  # noqa: E402
from tests.harness import PostgresServer, postgres_server  # noqa: E402


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server("alerts", "alerts-test") as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def outbox(postgres: PostgresServer) -> Iterator[Outbox]:
    """An empty outbox (tables dropped and created afresh) in the session's PostgreSQL."""
    box = Outbox.connect(postgres.url)
    metadata.drop_all(box.engine)
    box.create()
    yield box
    box.dispose()


@pytest.fixture
def wired(slack, smtp):  # type: ignore[no-untyped-def]
    """The connections unit_slack and unit_smtp point at the Slack receiver and the SMTP server."""
    set_connection_env("unit_slack", slack.connection("/hook"))
    set_connection_env("unit_smtp", smtp.connection())
    return slack, smtp
