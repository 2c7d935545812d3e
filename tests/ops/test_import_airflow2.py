"""`airdeck import airflow2` against a real Airflow 2.11: its own `airflow db migrate` makes the database,
its own APIs fill it (users, roles, encrypted connections and variables, finished runs, an SLA miss);
airdeck moves it onto its embedded PostgreSQL and Airflow 3.3 reads everything back with airdeck's key.

The Airflow 2 environment is built once per requirements file under .tools/ (uv when there is one,
else venv and pip) and reused by later runs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airdeck.ops.check_dags import check_dags
from cryptography.fernet import Fernet

from tests.harness import (
    AIRDECK,
    REPO,
    PostgresServer,
    Stack,
    free_port,
    new_home,
    postgres_server,
    remove_home,
    write_config,
)

# The module's fixtures build an Airflow 2 environment and run it against PostgreSQL (600 s limits each)
# before the first test, and one test boots a platform on the imported database.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

HERE = Path(__file__).parent / "airflow2"
REQUIREMENTS = HERE / "requirements-2.11.txt"
AIRFLOW2_VERSION = "2.11.2"
PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-1", "carol": "carol-pw-1"}
SPEC: dict[str, Any] = {
    "roles": {"team_finance": [["can_read", "DAGs"]],
              "legacy_ops": [["can_read", "DAGs"], ["can_edit", "DAG:legacy_etl"]]},
    "users": [
        {"username": "alice", "first_name": "Alice", "last_name": "A", "email": "alice@example.com",
         "roles": ["Admin"], "password": PASSWORDS["alice"]},
        {"username": "bob", "first_name": "Bob", "last_name": "B", "email": "bob@example.com",
         "roles": ["team_finance", "Viewer"], "password": PASSWORDS["bob"]},
        {"username": "carol", "first_name": "Carol", "last_name": "C", "email": "carol@example.com",
         "roles": ["legacy_ops"], "password": PASSWORDS["carol"]},
    ],
    "connections": [
        {"conn_id": "warehouse", "conn_type": "postgres", "host": "db.example.com", "login": "etl",
         "password": "s3cret-wh", "port": 5432, "extra": '{"sslmode": "require"}'},
        {"conn_id": "api", "conn_type": "http", "host": "api.example.com", "password": "tok-123"},
    ],
    "variables": {"plain": "hello", "config_json": '{"a": 1}'},
}
SOURCE_PASSWORD = "src-pw-Zq9"


# ------------------------------------------------------------------------------------------ Airflow 2
def _uv() -> list[str] | None:
    for candidate in (shutil.which("uv"), str(Path.home() / ".local" / "bin" / "uv")):
        if candidate and Path(candidate).is_file():
            return [candidate]
    for python in (shutil.which("python3"), getattr(sys, "_base_executable", None)):
        if python and subprocess.run([python, "-m", "uv", "--version"], capture_output=True,
                                     check=False).returncode == 0:
            return [python, "-m", "uv"]
    return None


def airflow2_venv() -> tuple[Path, float]:
    """The Airflow 2.11 environment (built now when missing) and the seconds its build took (0: reused)."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    tools = REPO / ".tools"
    tools.mkdir(exist_ok=True)
    venv = tools / f"airflow-{AIRFLOW2_VERSION}-{key}"
    with open(tools / f"airflow-{AIRFLOW2_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = venv / ".complete"
        if done.exists():
            return venv, 0.0
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        base = getattr(sys, "_base_executable", sys.executable)
        uv = _uv()
        if uv:
            subprocess.run([*uv, "venv", "-q", "--python", base, str(venv)], check=True)
            subprocess.run([*uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                            "-r", str(REQUIREMENTS)], check=True)
        else:
            subprocess.run([base, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                            "-r", str(REQUIREMENTS)], check=True)
        done.write_text(f"{time.monotonic() - started:.1f}\n")
        return venv, time.monotonic() - started


@dataclass
class Source:
    server: PostgresServer
    key_file: Path
    key: str
    venv_seconds: float
    seed_seconds: float

    def url(self, database: str | None = None, password: bool = False) -> str:
        secret = f":{SOURCE_PASSWORD}" if password else ""
        return f"postgresql://airflow{secret}@127.0.0.1:{self.server.port}/{database or self.server.database}"


def airflow2_env(server: PostgresServer, key: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            f"postgresql+psycopg2://airflow:{SOURCE_PASSWORD}@127.0.0.1:{server.port}/{server.database}",
        "AIRFLOW__CORE__FERNET_KEY": key,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    })
    return env


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """A real Airflow 2.11 database: migrated and filled by Airflow 2 itself."""
    venv, venv_seconds = airflow2_venv()
    folder = tmp_path_factory.mktemp("airflow2")
    key = Fernet.generate_key().decode()
    key_file = folder / "fernet_key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    with postgres_server("airflow2", SOURCE_PASSWORD) as server:
        env = airflow2_env(server, key, folder / "home")
        started = time.monotonic()
        migrate = subprocess.run([str(venv / "bin" / "airflow"), "db", "migrate"], env=env, capture_output=True,
                                 text=True, check=False, timeout=600)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        seed = subprocess.run([str(venv / "bin" / "python"), str(HERE / "seed.py")], input=json.dumps(SPEC),
                              env=env, capture_output=True, text=True, check=False, timeout=600)
        assert seed.returncode == 0 and "SEEDED" in seed.stdout, seed.stdout[-3000:] + seed.stderr[-3000:]
        assert "RUN manual__2024-01-01T00:00:00+00:00 success" in seed.stdout
        assert "RUN manual__2024-01-02T00:00:00+00:00 failed" in seed.stdout
        yield Source(server, key_file, key, venv_seconds, time.monotonic() - started)


def checksums(dsn: str) -> dict[str, str]:
    """{table: md5 of all its rows in a stable order} for every table of the database's schema."""
    out = {}
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")]
        for table in tables:
            row = conn.execute(f'SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) '  # noqa: S608
                               f'FROM "{table}" t').fetchone()
            out[table] = f"{row[0]}:{row[1]}" if row else ""
    return out


# ------------------------------------------------------------------------------------------ airdeck
@dataclass
class Airdeck:
    home: Path
    config: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PG"))}
        env.update({"AIRDECK_HOME": str(self.home), "AIRDECK_CONFIG": str(self.config), **extra})
        return env

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*AIRDECK, *args], env=self.env(**env), capture_output=True, text=True, check=False,
                              timeout=900, cwd=REPO)

    def import_(self, source: Source, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("import", "airflow2", "--database-url", url or source.url(), "--fernet-key-file",
                        str(source.key_file), *args, PGPASSWORD=SOURCE_PASSWORD)

    def stack(self):  # type: ignore[no-untyped-def]
        from airdeck.config import load_config
        from airdeck.stack.orchestrator import Stack
        from airdeck.state.home import AirdeckHome

        return Stack(load_config(str(self.config)), AirdeckHome.from_env(str(self.home)))

    def target_dsn(self) -> str:
        from airdeck.plan.secrets import libpq_url

        return libpq_url(self.stack().secret("database_url"))


@pytest.fixture(scope="module")
def airdeck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airdeck]:
    home = new_home()
    # The DAG folder holds legacy_etl as changed for Airflow 3 (what a user brings over after check-dags).
    config = write_config(tmp_path_factory.mktemp("airdeck"), {"airflow": {"dags_folder": str(HERE / "dags3")}})
    try:
        yield Airdeck(home, config)
    finally:
        remove_home(home)


def read_back(airdeck: Airdeck) -> dict[str, Any]:
    """The imported data as Airflow 3.3 sees it with airdeck's configuration and key."""
    from airdeck.ops.airflow2 import embedded_server

    stack = airdeck.stack()
    with embedded_server(stack, create=False) as exists:
        assert exists
        done = subprocess.run([sys.executable, str(HERE / "inspect_airdeck.py")], input=json.dumps(PASSWORDS),
                              env=stack.cli_env(), capture_output=True, text=True, check=False, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    return dict(json.loads(lines[-1][len("RESULT "):]))


def with_embedded(airdeck: Airdeck, fn):  # type: ignore[no-untyped-def]
    from airdeck.ops.airflow2 import embedded_server

    with embedded_server(airdeck.stack(), create=False):
        return fn()


# ------------------------------------------------------------------------------------------ tests
def test_dry_run_reports_and_changes_nothing(source: Source, airdeck: Airdeck) -> None:
    before = checksums(source.server.dsn())
    ran = airdeck.import_(source, "--dry-run", "--json")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["dry_run"] is True and report["revision"] == "5f2621c13b39"
    assert report["airflow_version"] == "2.10.3 to 2.11"
    assert report["counts"]["connection"] == 2 and report["counts"]["variable"] == 2
    assert report["counts"]["ab_user"] == 3 and report["counts"]["dag_run"] == 2
    assert report["encrypted"] == {"connection": 2, "variable": 2}
    gone = {item["what"]: item["rows"] for item in report["not_carried"]}
    assert gone["sla_miss"] == 1 and gone["task_fail"] == 1
    roles = {r["role"]: r["outcome"] for r in report["roles"]}
    assert roles["team_finance"] == "roles.yaml" and roles["legacy_ops"] == "kept" and roles["Admin"] == "built-in"
    assert checksums(source.server.dsn()) == before
    assert not airdeck.home.exists()  # nothing created for a platform that never started
    assert SOURCE_PASSWORD not in ran.stdout + ran.stderr

    people = airdeck.import_(source, "--dry-run")
    assert people.returncode == 0
    assert "sla_miss: 1 rows" in people.stdout and "dry run: nothing was changed" in people.stderr


def test_wrong_fernet_key_is_refused_before_anything_is_written(source: Source, airdeck: Airdeck,
                                                                tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text(Fernet.generate_key().decode())
    before = checksums(source.server.dsn())
    ran = airdeck.run("import", "airflow2", "--database-url", source.url(), "--fernet-key-file", str(wrong),
                      PGPASSWORD=SOURCE_PASSWORD)
    assert ran.returncode == 4, ran.stderr
    assert "2 of 2 connections, 2 of 2 variables cannot be decrypted" in ran.stderr
    assert "Nothing was written" in ran.stderr and source.key not in ran.stderr
    assert checksums(source.server.dsn()) == before and not airdeck.home.exists()

    garbage = tmp_path / "garbage"
    garbage.write_text("not-a-key")
    ran = airdeck.run("import", "airflow2", "--database-url", source.url(), "--fernet-key-file", str(garbage))
    assert ran.returncode == 1 and "is not a Fernet key" in ran.stderr and "not-a-key" not in ran.stderr
    ran = airdeck.run("import", "airflow2", "--database-url", source.url(), "--fernet-key-file",
                      str(tmp_path / "missing"))
    assert ran.returncode == 1 and "does not exist" in ran.stderr


def test_unreachable_source_names_the_host_and_masks_the_password(source: Source, airdeck: Airdeck) -> None:
    port = free_port()
    url = f"postgresql://airflow:{SOURCE_PASSWORD}@127.0.0.1:{port}/airflow2"
    ran = airdeck.run("import", "airflow2", "--database-url", url, "--fernet-key-file", str(source.key_file))
    assert ran.returncode == 1
    assert f"cannot reach the Airflow 2 database at postgresql://airflow:***@127.0.0.1:{port}/airflow2" in ran.stderr
    assert f"host 127.0.0.1, port {port}" in ran.stderr and SOURCE_PASSWORD not in ran.stdout + ran.stderr
    # Wrong password: the server answers, the message still holds no password.
    ran = airdeck.run("import", "airflow2", "--database-url", source.url(), "--fernet-key-file",
                      str(source.key_file), PGPASSWORD="nope-not-it")
    assert ran.returncode == 1 and "password authentication failed" in ran.stderr and "nope-not-it" not in ran.stderr
    ran = airdeck.run("import", "airflow2", "--database-url", "mysql://u:p@h/db", "--fernet-key-file",
                      str(source.key_file))
    assert ran.returncode == 1 and "PostgreSQL" in ran.stderr and "u:p@" not in ran.stderr


@pytest.mark.parametrize(("revision", "message"), [
    ("4bc4d934e2bc", "from Airflow 2.6.2"),                        # 2.6's last revision
    ("29ce7909c52b", "already an Airflow 3.0.0 database"),          # 3.0.0
    ("fedcba987654", "which Airflow 3.3 does not know"),            # newer than this Airflow
])
def test_unsupported_source_versions_are_refused(source: Source, airdeck: Airdeck, revision: str,
                                                 message: str) -> None:
    name = f"copy_{revision}"
    with psycopg.connect(source.server.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source.server.database}"')
    try:
        with psycopg.connect(source.server.dsn(name)) as conn:
            conn.execute("UPDATE alembic_version SET version_num = %s", (revision,))
        ran = airdeck.import_(source, url=source.url(name))
        assert ran.returncode == 3, ran.stderr
        assert message in ran.stderr and "2.7" in ran.stderr
        assert not airdeck.home.exists()
    finally:
        with psycopg.connect(source.server.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="module")
def imported(source: Source, airdeck: Airdeck) -> dict[str, Any]:
    started = time.monotonic()
    ran = airdeck.import_(source, "--json")
    seconds = time.monotonic() - started
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    report = json.loads(ran.stdout)
    timing = (f"Airflow 2 venv build {source.venv_seconds:.0f}s (0 = reused), Airflow 2 migrate+seed "
              f"{source.seed_seconds:.0f}s, airdeck import {seconds:.0f}s {report['seconds']}")
    (REPO / ".tools" / "import-airflow2-timing.txt").write_text(timing + "\n")
    print(timing)
    return dict(report)


def test_import_carries_history_users_roles_and_secrets(source: Source, airdeck: Airdeck,
                                                       imported: dict[str, Any]) -> None:
    assert imported["dry_run"] is False and imported["verified"]["dag_run"] == 2
    assert imported["verified"]["encrypted_values"] == 4
    got = read_back(airdeck)
    # Connections and variables decrypt with airdeck's key to the values Airflow 2 stored.
    assert got["connections"]["warehouse"] == {"host": "db.example.com", "login": "etl", "password": "s3cret-wh",
                                               "extra": '{"sslmode": "require"}'}
    assert got["connections"]["api"]["password"] == "tok-123"
    assert got["variables"] == {"plain": "hello", "config_json": '{"a": 1}'}
    # History: both runs with their states and every task instance.
    assert got["runs"] == {"manual__2024-01-01T00:00:00+00:00": "success",
                           "manual__2024-01-02T00:00:00+00:00": "failed"}
    states = {(run[8:18], task): state for run, task, state in got["task_instances"]}
    assert states[("2024-01-01", "load")] == "success" and states[("2024-01-02", "transform")] == "failed"
    assert states[("2024-01-02", "load")] == "upstream_failed" and len(got["task_instances"]) == 6
    # Users keep their roles and their Airflow 2 passwords.
    assert got["users"]["alice"] == ["Admin"] and got["users"]["bob"] == ["Viewer", "team_finance"]
    assert got["users"]["carol"] == ["legacy_ops"]
    assert got["sign_in"] == {"alice": True, "bob": True, "carol": True}
    # team_finance is declared in roles.yaml: it now has exactly those permissions; legacy_ops kept its own.
    from airdeck.auth.roles import DEFAULT_FILE, load_roles

    declared = {name: {f"{a} on {r}" for a, r in spec.permissions} for name, spec in load_roles(DEFAULT_FILE).items()}
    assert set(got["role_permissions"]["team_finance"]) == declared["team_finance"]
    assert {"can_edit on DAG:legacy_etl", "can_read on DAGs"} <= set(got["role_permissions"]["legacy_ops"])
    for role in ("DagAuthor", "team_platform"):  # roles.yaml's other roles are there too
        assert set(got["role_permissions"][role]) == declared[role]


def test_a_second_import_needs_replace_and_saves_the_database_first(source: Source, airdeck: Airdeck,
                                                                     imported: dict[str, Any]) -> None:
    target = with_embedded(airdeck, lambda: checksums(airdeck.target_dsn()))
    assert "sla_miss" not in target and "dag_pickle" not in target and "task_fail" not in target
    ran = airdeck.import_(source)
    assert ran.returncode == 1 and "already holds" in ran.stderr and "--replace" in ran.stderr
    dry = airdeck.import_(source, "--dry-run", "--replace")
    assert dry.returncode == 0 and "save airdeck's current database" in dry.stdout
    assert with_embedded(airdeck, lambda: checksums(airdeck.target_dsn())) == target

    ran = airdeck.import_(source, "--replace", "--json")
    assert ran.returncode == 0, ran.stderr[-3000:]
    backup = Path(json.loads(ran.stdout)["backup"])
    assert backup.parent == airdeck.home / "backups" and backup.stat().st_size > 10_000
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert read_back(airdeck)["connections"]["warehouse"]["password"] == "s3cret-wh"
    # The source's password is in no file of the state folder (logs, rendered configuration, the dump).
    for path in airdeck.home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SOURCE_PASSWORD.encode() not in path.read_bytes(), path


def test_a_taken_database_port_is_refused(source: Source, airdeck: Airdeck, imported: dict[str, Any]) -> None:
    """Another server on the embedded database's port would answer in its place: the import refuses."""
    port = airdeck.stack().cfg.database.embedded.port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the earlier server's port may be in TIME_WAIT
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        ran = airdeck.import_(source, "--dry-run")
    assert ran.returncode == 1 and f"port {port} (database.embedded.port) is already in use" in ran.stderr


def test_check_dags_on_the_airflow2_dag_and_its_airflow3_version() -> None:
    old = check_dags(HERE / "dags")
    assert {f.code for f in old.findings} >= {"AIR301", "AIR311", "AIR312"}
    assert check_dags(HERE / "dags3").ok


@pytest.mark.stack
def test_the_platform_starts_on_the_imported_database(source: Source, airdeck: Airdeck,
                                                      imported: dict[str, Any]) -> None:
    """`airdeck up` on the imported database: Airflow 2 users sign in through the API, the history of
    legacy_etl shows once its (Airflow 3) file is parsed, and the DAG runs again."""
    stack = Stack(airdeck.home, airdeck.config)
    try:
        stack.airdeck("up", "--detach")
        for user in ("alice", "bob"):
            assert stack.token(user, PASSWORDS[user])
        stack.wait_for_dag("legacy_etl")
        runs = stack.api("GET", "/dags/legacy_etl/dagRuns").json()["dag_runs"]
        assert {r["dag_run_id"]: r["state"] for r in runs} == {"manual__2024-01-01T00:00:00+00:00": "success",
                                                               "manual__2024-01-02T00:00:00+00:00": "failed"}
        tis = stack.task_instances("legacy_etl", "manual__2024-01-02T00:00:00+00:00")
        assert {t["task_id"]: t["state"] for t in tis} == {"extract": "success", "transform": "failed",
                                                          "load": "upstream_failed"}
        assert stack.api("GET", "/variables/plain").json()["value"] == "hello"
        assert stack.api("GET", "/connections/warehouse").json()["login"] == "etl"
        run_id = stack.trigger("legacy_etl")
        assert stack.wait_for_run("legacy_etl", run_id, timeout=300) == "success"
    finally:
        stack.airdeck("down", check=False, timeout=300)
