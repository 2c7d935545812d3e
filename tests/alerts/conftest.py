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

from tests.alerts.servers import SmtpServer  # noqa: E402
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
