"""A warm start skips the schema check and the admin account only when one SQL query proves them (real PostgreSQL)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from airdeck.stack import warm
from airdeck.state.home import AirdeckHome

from tests.harness import PostgresServer, postgres_server


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server("warm", "warm-test-pw") as pg:
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute("INSERT INTO alembic_version VALUES ('rev-a')")
            conn.execute("CREATE TABLE ab_user (id serial PRIMARY KEY, username varchar(512) UNIQUE NOT NULL)")
            conn.execute("INSERT INTO ab_user (username) VALUES ('admin')")
        yield pg


def set_revision(pg: PostgresServer, rev: str) -> None:
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = %s", (rev,))


def test_schema_is_verified_only_at_the_recorded_revision_and_airflow(server: PostgresServer, tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    assert not warm.schema_verified(home, server.url)  # no record yet: Airflow's own check runs
    warm.record_schema(home, server.url)
    record = home.run / warm.RECORD
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert json.loads(record.read_text()) == {"airflow": warm.airflow_version(), "revision": "rev-a"}
    assert warm.schema_verified(home, server.url)
    set_revision(server, "rev-b")  # someone migrated or downgraded in between
    try:
        assert not warm.schema_verified(home, server.url)
    finally:
        set_revision(server, "rev-a")
    record.write_text(json.dumps({"airflow": "0.0.1", "revision": "rev-a"}))  # another Airflow installed
    assert not warm.schema_verified(home, server.url)
    record.write_text("{not json")
    assert not warm.schema_verified(home, server.url)
    warm.record_schema(home, server.url)
    warm.forget_schema(home)
    assert not record.exists()


def test_an_unreachable_or_foreign_database_never_counts_as_verified(server: PostgresServer, tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    warm.record_schema(home, server.url)
    wrong_password = server.url.replace("warm-test-pw", "wrong")
    assert not warm.schema_verified(home, wrong_password)
    assert not warm.admin_exists(wrong_password, "admin")
    empty = server.url.rsplit("/", 1)[0] + "/postgres"  # no alembic_version, no ab_user there
    assert warm.revision(empty) is None
    assert not warm.admin_exists(empty, "admin")
    other = AirdeckHome(tmp_path / "other")
    warm.record_schema(other, empty)
    assert not (other.run / warm.RECORD).exists()


def test_admin_exists_only_for_that_exact_account(server: PostgresServer) -> None:
    assert warm.admin_exists(server.url, "admin")
    assert not warm.admin_exists(server.url, "Admin")
    assert not warm.admin_exists(server.url, "admin' OR '1'='1")
