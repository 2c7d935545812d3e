from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dags.gitserver import GitServer
from tests.harness import PostgresServer, postgres_server

TOKEN = "tok-unit-5a4b3c2d1e"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server("dags", "dags-test") as server:
        yield server


@pytest.fixture
def gitserver(tmp_path: Path) -> Iterator[GitServer]:
    (tmp_path / "git").mkdir()
    server = GitServer(tmp_path / "git", token=TOKEN)
    server.start()
    try:
        yield server
    finally:
        server.stop()
