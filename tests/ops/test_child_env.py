"""No secret of airdeck's own environment reaches a child process (issue 22, finding 3).

The caller holds a backup passphrase, a source database's ``PGPASSWORD`` and a Vault token. Every child
that the backup, restore, import and ``up`` code paths spawn here is a real process: the embedded
PostgreSQL (initdb, pg_ctl, the server), pg_dump and pg_restore as the backup and restore run them, the
import's own embedded server, git's ls-remote of the DAG bundle check, supervisord and Airflow commands
(their environments as ``up`` builds them). Each spawn is watched: its ``env`` must be given (never
inherited), and the child's ``/proc/PID/environ`` is read while it runs; the servers' environ is read
from their pid files. None may hold a sentinel."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from airdeck.config.loader import parse_config
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

from tests.harness import free_port, new_home

pytestmark = pytest.mark.integration

SENTINELS = {"AIRDECK_BACKUP_PASSPHRASE": "sentinel-passphrase-5f3a", "PGPASSWORD": "sentinel-pgpassword-91c2",
             "VAULT_TOKEN": "sentinel-vault-token-77d0", "AWS_SECRET_ACCESS_KEY": "sentinel-aws-key-c0de"}


def _leaks(environ: bytes | dict[str, str]) -> list[str]:
    text = environ.decode("utf-8", "replace") if isinstance(environ, bytes) else "\0".join(
        f"{k}={v}" for k, v in environ.items())
    return [name for name, value in SENTINELS.items() if value in text or f"{name}=" in text]


class Watch:
    """Every child spawned through :mod:`subprocess`: its argv, whether its env was given, its environ."""

    def __init__(self) -> None:
        self.children: list[dict[str, Any]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        watch, real = self, subprocess.Popen

        class Spy(real):  # type: ignore[misc, valid-type]
            def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
                super().__init__(args, *rest, **kwargs)
                try:
                    with open(f"/proc/{self.pid}/environ", "rb") as handle:
                        environ = handle.read()
                except OSError:
                    environ = b""
                watch.children.append({"argv": args, "env_given": kwargs.get("env") is not None,
                                       "env": dict(kwargs.get("env") or {}), "environ": environ})

        monkeypatch.setattr(subprocess, "Popen", Spy)

    def problems(self) -> list[str]:
        out = []
        for child in self.children:
            name = " ".join(map(str, child["argv"]))[:120] if not isinstance(child["argv"], str) else child["argv"]
            if not child["env_given"]:
                out.append(f"{name}: inherits airdeck's whole environment")
            if leaks := _leaks(child["env"]) + _leaks(child["environ"]):
                out.append(f"{name}: {sorted(set(leaks))}")
        return out


def _server_environ(data_dir: Path) -> bytes:
    pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    with open(f"/proc/{pid}/environ", "rb") as handle:
        return handle.read()


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> Watch:
    for name, value in SENTINELS.items():
        monkeypatch.setenv(name, value)
    watch = Watch()
    watch.install(monkeypatch)
    return watch


def test_database_children_of_up_backup_and_restore(watched: Watch, tmp_path: Path) -> None:
    from airdeck.ops.database import Database, find_tool, private_dir, run_tool, temporary_server
    from airdeck.stack import postgres

    root = new_home()
    try:
        home = AirdeckHome(root)
        home.ensure()
        cfg = parse_config({"database": {"embedded": {"port": free_port()}}})
        store = SecretStore(home.secrets)
        postgres.prepare(home.postgres_data, home.postgres_socket_dir, store.get("database_password"), within=root)
        home.ensure()
        db = Database.of(cfg, store)
        dump = private_dir(root / "dump", db)  # as the backup makes it: the server's user writes there
        with temporary_server(cfg, home):
            server = _server_environ(home.postgres_data)
            assert b"PATH=" in server
            assert _leaks(server) == [], "the embedded PostgreSQL's environ holds a secret of airdeck's"
            major = int((home.postgres_data / "PG_VERSION").read_text())
            out = dump / "db.dump"
            run_tool([str(find_tool("pg_dump", major, db)), "--format=custom", "--file", str(out),
                      *db.client_args(), "postgres"], db, "pg_dump")
            run_tool([str(find_tool("pg_restore", major, db)), "--list", str(out)], db, "pg_restore")
        assert len(watched.children) >= 5  # initdb, pg_ctl start, pg_dump, pg_restore, pg_ctl stop
        assert watched.problems() == []
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def test_the_import_embedded_server_and_its_tools(watched: Watch, tmp_path: Path) -> None:
    from airdeck.ops import airflow2
    from airdeck.stack.orchestrator import Stack

    root = new_home()
    try:
        home = AirdeckHome(root)
        config = tmp_path / "airdeck.yaml"
        config.write_text(f"database:\n  embedded:\n    port: {free_port()}\n")
        from airdeck.config.loader import load_config

        stack = Stack(load_config(str(config)), home)
        with airflow2.embedded_server(stack) as exists:
            assert exists
            server = _server_environ(home.postgres_data)
            assert _leaks(server) == [], "the import's embedded PostgreSQL got the caller's PGPASSWORD"
        source = airflow2.Database.from_url(
            f"postgresql://someone:pw@127.0.0.1:{free_port()}/source", "the source database")
        env = source.env()
        assert env["PGPASSWORD"] == "pw" and _leaks({k: v for k, v in env.items() if k != "PGPASSWORD"}) == []
        assert watched.children and watched.problems() == []
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def test_supervisord_airflow_commands_and_git_get_the_allow_list(watched: Watch, tmp_path: Path) -> None:
    from airdeck.config.loader import load_config
    from airdeck.dags.probe import check
    from airdeck.stack.orchestrator import Stack

    config = tmp_path / "airdeck.yaml"
    config.write_text("{}\n")
    stack = Stack(load_config(str(config)), AirdeckHome(tmp_path / "home"))
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = "postgresql://u@h/db"
    try:
        for env in (stack.supervisor_env(), stack.cli_env()):
            assert _leaks(env) == [] and env["PATH"] == os.environ["PATH"]
            assert env["AIRFLOW_CONN_WAREHOUSE"] == "postgresql://u@h/db"  # Airflow's connections tier
    finally:
        del os.environ["AIRFLOW_CONN_WAREHOUSE"]
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env={"PATH": os.environ["PATH"]})
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True, env={"PATH": os.environ["PATH"]})
    watched.children.clear()
    assert check("dags", {"repo_url": f"file://{repo}", "tracking_ref": "main"}).ok
    assert any("ls-remote" in child["argv"] for child in watched.children)
    assert watched.problems() == []
