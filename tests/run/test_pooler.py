"""PgBouncer's files from the database URL (airdeck.run.pooler), read by a real PgBouncer in front of a
real PostgreSQL: SCRAM sign-in with the URL's own password, transaction pooling, psycopg 3 without
server-side prepared statements, the statistics user admitted only to the admin console; the URL
through the pooler; the errors for URLs PgBouncer cannot serve."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from airdeck.run.pooler import (
    CONNECT_ARGS,
    STATS_USER,
    PoolerError,
    PoolerSettings,
    render,
    via_pooler,
    write,
)

from tests.harness import free_port, postgres_server

PGBOUNCER = shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
#: PgBouncer refuses to run as root: as root, it runs as the chart's uid (the pod's runAsUser).
UID = 50000


def _start(folder: Path, log: Path) -> subprocess.Popen[bytes]:
    assert PGBOUNCER, "pgbouncer is not installed"
    argv = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        for path in [folder, *folder.iterdir()]:
            os.chown(path, UID, UID)
        argv = ["setpriv", "--reuid", str(UID), "--regid", str(UID), "--clear-groups", *argv]
    return subprocess.Popen(argv, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"pgbouncer did not listen: {log.read_text()}")


@pytest.fixture(scope="module")
def pooled() -> Iterator[dict[str, Any]]:
    if PGBOUNCER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pgbouncer (Debian package) is not installed; scripts/test installs it", pytrace=False)
        pytest.skip("pgbouncer is not installed (apt-get install -y pgbouncer)")
    folder = Path(tempfile.mkdtemp(prefix="airdeck-pgbouncer-", dir="/tmp"))
    folder.chmod(0o711)  # PgBouncer's user reaches its own folder inside
    # A password with the characters a userlist.txt must quote and a URL must percent-encode.
    password = 'pa"ss@w:rd/%x'
    with postgres_server("airflow", "initial") as pg:
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("ALTER ROLE airflow PASSWORD {}").format(psycopg.sql.Literal(password)))
        from urllib.parse import quote

        url = f"postgresql://airflow:{quote(password, safe='')}@127.0.0.1:{pg.port}/airflow"
        port = free_port()
        config = folder / "config"
        write(config, render(url, PoolerSettings(port=port, pool_size=2), config))
        log = folder / "pgbouncer.log"
        proc = _start(config, log)
        try:
            _wait_port(port, proc, log)
            yield {"url": url, "port": port, "config": config, "password": password, "log": log, "pg": pg}
        finally:
            proc.terminate()
            proc.wait(10)
    shutil.rmtree(folder, ignore_errors=True)


def test_files_are_private_and_the_ini_holds_no_password(pooled: dict[str, Any]) -> None:
    for name in ("pgbouncer.ini", "userlist.txt", "hba.conf"):
        assert (pooled["config"] / name).stat().st_mode & 0o777 == 0o600, name
    ini = (pooled["config"] / "pgbouncer.ini").read_text()
    assert "pa" + '"ss' not in ini and "w:rd" not in ini
    assert "pool_mode = transaction" in ini and "default_pool_size = 2" in ini
    assert (pooled["config"] / "userlist.txt").read_text().startswith('"airflow" "pa""ss@w:rd/%x"\n')


def test_airflow_style_engine_works_through_transaction_pooling(pooled: dict[str, Any]) -> None:
    url = via_pooler(pooled["url"], f"127.0.0.1:{pooled['port']}").replace("postgresql://", "postgresql+psycopg://")
    engines = [sa.create_engine(url, connect_args=CONNECT_ARGS, pool_size=3) for _ in range(3)]
    # More client connections than the 2 server connections, each running the same statement often
    # (psycopg would prepare it on the server after five runs without prepare_threshold=None).
    conns = [engine.connect() for engine in engines for _ in range(2)]
    try:
        for n in range(12):
            for conn in conns:
                assert conn.execute(sa.text("SELECT :n + 1"), {"n": n}).scalar() == n + 1
                conn.commit()
    finally:
        for conn in conns:
            conn.close()
        for engine in engines:
            engine.dispose()
    with psycopg.connect(pooled["url"], autocommit=True) as direct:
        servers = direct.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'airflow' "
                                 "AND pid <> pg_backend_pid()").fetchone()
    assert servers is not None and servers[0] <= 2, "PgBouncer holds at most metadataPoolSize server connections"


def test_without_the_connect_args_prepared_statements_break(pooled: dict[str, Any]) -> None:
    """Why CONNECT_ARGS exists: psycopg's server-side prepared statements meet another server connection."""
    url = via_pooler(pooled["url"], f"127.0.0.1:{pooled['port']}")
    a = psycopg.connect(url, autocommit=True)
    b = psycopg.connect(url, autocommit=True)
    try:
        with pytest.raises(psycopg.Error):
            for n in range(20):
                for conn in (a, b):
                    conn.execute("SELECT %s::int + 1", (n,))
                    with psycopg.connect(url, autocommit=True) as other:  # moves server connections around
                        other.execute("SELECT 1")
    finally:
        a.close()
        b.close()


def test_the_stats_user_reads_the_console_and_nothing_else(pooled: dict[str, Any]) -> None:
    console = f"postgresql://{STATS_USER}@127.0.0.1:{pooled['port']}/pgbouncer?sslmode=disable"
    with psycopg.connect(console, autocommit=True) as conn:
        rows = conn.cursor().execute("SHOW POOLS").fetchall()
    assert any(row[0] == "airflow" for row in rows)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://{STATS_USER}@127.0.0.1:{pooled['port']}/airflow?sslmode=disable")
    wrong = pooled["url"].replace("pa%22ss", "nope").replace(f":{pooled['pg'].port}/", f":{pooled['port']}/")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(wrong)


def test_via_pooler_keeps_credentials_and_drops_server_tls() -> None:
    url = "postgresql+psycopg://u:p%40ss@db.example.com:5432/airflow?sslmode=verify-full&sslrootcert=/ca.pem&x=1"
    got = sa.make_url(via_pooler(url, "rel-pgbouncer:6432"))
    assert (got.drivername, got.username, got.password, got.host, got.port, got.database) == \
        ("postgresql+psycopg", "u", "p@ss", "rel-pgbouncer", 6432, "airflow")
    assert dict(got.query) == {"x": "1"}


def test_server_tls_follows_the_url(tmp_path: Path) -> None:
    ini = render("postgresql://u:p@db:5432/airflow?sslmode=verify-full&sslrootcert=/certs/ca.pem",
                 PoolerSettings(), tmp_path)["pgbouncer.ini"]
    assert "server_tls_sslmode = verify-full" in ini and "server_tls_ca_file = /certs/ca.pem" in ini
    ini = render("postgresql://u:p@db/airflow?sslmode=verify-ca", PoolerSettings(), tmp_path)["pgbouncer.ini"]
    assert "server_tls_ca_file = /etc/ssl/certs/ca-certificates.crt" in ini
    assert "server_tls_sslmode = prefer" in render("postgresql://u:p@db/airflow", PoolerSettings(),
                                                    tmp_path)["pgbouncer.ini"]


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://u:p@db/airflow", "PostgreSQL only"),
    ("postgresql://u@db/airflow", "no password"),
    ("postgresql://u:p@db/", "no database name"),
    ("postgresql://u:p@db/air;flow", "cannot be written into pgbouncer.ini"),
    ("not a url", "not a database URL"),
])
def test_urls_pgbouncer_cannot_serve_are_refused_with_the_reason(url: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(PoolerError, match=says) as err:
        render(url, PoolerSettings(), tmp_path)
    assert ":p@" not in str(err.value)


def test_bad_pooler_address_is_refused() -> None:
    with pytest.raises(PoolerError, match="HOST:PORT"):
        via_pooler("postgresql://u:p@db/airflow", "pgbouncer")


def test_airdeck_run_points_the_component_at_the_pooler_and_keeps_the_migration_direct(tmp_path: Path) -> None:
    """`airdeck run scheduler --database-pooler`: the rendered sql_alchemy_conn is PgBouncer's address with
    the mounted URL's credentials, without its TLS parameters; psycopg prepares nothing; the migration Job
    refuses the flag."""
    from airdeck.config.loader import parse_config
    from airdeck.run.entrypoint import RunError, prepare
    from airdeck.state.home import AirdeckHome
    from airdeck.state.secrets import GENERATED

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    mounted = {"database_url": "postgresql://airflow:db-pw@db.example:5432/airflow?sslmode=require",
               "broker_url": "redis://:broker-pw@redis.example:6379/0", "fernet_key": "mounted-fernet",
               "jwt_private_key": GENERATED["jwt_private_key"][0](), "log_fetch_key": "k", "api_secret_key": "s"}
    for name, value in mounted.items():
        (secrets / name).write_text(value)
        (secrets / name).chmod(0o400)
    cfg = parse_config({})
    _, env = prepare(cfg, AirdeckHome(tmp_path / "home"), "scheduler", target="kubernetes", release="rel",
                     secrets_dir=secrets, database_pooler="rel-pgbouncer:6432")
    text = Path(env["AIRFLOW_CONFIG"]).read_text()
    conn = next(line for line in text.splitlines() if line.startswith("sql_alchemy_conn"))
    assert "@rel-pgbouncer:6432/airflow" in conn and "db-pw" in conn and "sslmode" not in conn
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] == "airdeck.run.pooler.CONNECT_ARGS"
    _, direct = prepare(cfg, AirdeckHome(tmp_path / "home2"), "scheduler", target="kubernetes", release="rel",
                        secrets_dir=secrets)
    assert "@db.example:5432/airflow?sslmode=require" in Path(direct["AIRFLOW_CONFIG"]).read_text()
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS" not in direct
    with pytest.raises(RunError, match="migration Job reaches the database directly"):
        prepare(cfg, AirdeckHome(tmp_path / "home3"), "migrate", target="kubernetes", release="rel",
                secrets_dir=secrets, database_pooler="rel-pgbouncer:6432")
