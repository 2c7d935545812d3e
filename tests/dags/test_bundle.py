"""airdeck's git bundle and repository check against a real git server (smart HTTP, basic auth) and a
real PostgreSQL: recorded versions and errors, clear messages without secrets, the last good version."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from airdeck.dags import store
from airdeck.dags.diagnose import describe, redact
from sqlalchemy import create_engine

from tests.dags.conftest import TOKEN
from tests.dags.gitserver import GitServer

pytestmark = pytest.mark.integration


@pytest.fixture
def airflow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gitserver: GitServer) -> GitServer:
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH", str(tmp_path / "bundles"))
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    gitserver.create("private", {"dags/a.py": "x = 1\n"}, private=True)
    monkeypatch.setenv("AIRFLOW_CONN_GIT_PRIVATE", json.dumps(
        {"conn_type": "git", "host": gitserver.url("private"), "login": "deploy", "password": TOKEN}))
    monkeypatch.setenv("AIRFLOW_CONN_GIT_WRONG", json.dumps(
        {"conn_type": "git", "host": gitserver.url("private"), "login": "deploy", "password": "not-the-token"}))
    return gitserver


@pytest.fixture
def engine(postgres, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from airdeck.dags import bundle

    eng = create_engine(postgres.url)
    store.metadata.drop_all(eng)
    monkeypatch.setattr(bundle, "_engine", lambda: eng)
    monkeypatch.setattr(bundle, "_tables_ready", False)
    yield eng
    eng.dispose()


def test_redact_and_describe_never_show_credentials() -> None:
    text = "fatal: unable to access 'https://deploy:tok-1@git.example.com/r.git/': Authorization: Basic ZGVw"
    assert redact(text, ["tok-1"]) == ("fatal: unable to access 'https://***@git.example.com/r.git/': "
                                       "Authorization: Basic ***")
    message = describe("team-a", "https://git.example.com/r.git", "main",
                       "fatal: Authentication failed for 'https://git.example.com/r.git/' tok-1", ["tok-1"])
    assert message.startswith("bundle team-a: bad credentials (https://git.example.com/r.git, branch main)")
    assert "tok-1" not in message


def test_private_repository_through_a_connection(airflow_env: GitServer, engine, caplog) -> None:  # type: ignore[no-untyped-def]
    from airdeck.dags.bundle import GitBundle

    caplog.set_level(logging.DEBUG)
    bundle = GitBundle(name="priv", repo_url=airflow_env.url("private"), tracking_ref="main", subdir="dags",
                       git_conn_id="git_private", refresh_interval=5)
    bundle.initialize()
    assert (bundle.path / "a.py").read_text() == "x = 1\n"
    first = bundle.get_current_version().version
    status = store.read(engine)["priv"]
    assert status.version == first and not status.failing
    assert any(r["user"] == "deploy" and r["status"] == 200 for r in airflow_env.requests)
    commit = airflow_env.commit(Path(airflow_env.root / "work" / "private"), {"dags/a.py": "x = 2\n"}, "two")
    bundle.refresh()
    assert bundle.get_current_version().version == commit == store.read(engine)["priv"].version
    # the token is nowhere on disk (the bare clone's config holds no credential) nor in any log line
    leaked = [p for p in (airflow_env.root.parent / "bundles").rglob("*") if p.is_file()
              and TOKEN.encode() in p.read_bytes()]
    assert not leaked
    assert TOKEN not in caplog.text


def test_bad_credentials_wrong_branch_missing_connection_name_the_bundle(airflow_env: GitServer, engine) -> None:  # type: ignore[no-untyped-def]
    from airdeck.dags.bundle import GitBundle

    cases = {
        "wrong": ({"git_conn_id": "git_wrong"}, "bundle wrong: bad credentials"),
        "branch": ({"git_conn_id": "git_private", "tracking_ref": "nope"}, "bundle branch: branch 'nope' not found"),
        "missing": ({"git_conn_id": "git_nowhere"}, "bundle missing: connection missing"),
    }
    for name, (kwargs, expected) in cases.items():
        options = {"tracking_ref": "main", **kwargs}
        bundle = GitBundle(name=name, repo_url=airflow_env.url("private"), refresh_interval=5, **options)
        with pytest.raises(Exception):  # noqa: B017 - Airflow logs whatever initialize raises
            bundle.initialize()
        status = store.read(engine)[name]
        assert status.failing and status.version is None
        assert status.last_error is not None and status.last_error.startswith(expected), status.last_error
        assert "not-the-token" not in status.last_error and TOKEN not in status.last_error


def test_last_good_version_survives_an_outage_and_a_restart(airflow_env: GitServer, engine) -> None:  # type: ignore[no-untyped-def]
    from airdeck.dags.bundle import GitBundle

    def new() -> GitBundle:
        return GitBundle(name="p", repo_url=airflow_env.url("private"), tracking_ref="main",
                         git_conn_id="git_private", refresh_interval=5)

    bundle = new()
    bundle.initialize()
    good = bundle.get_current_version().version
    port = airflow_env.port
    airflow_env.stop()
    with pytest.raises(Exception):  # noqa: B017
        bundle.refresh()
    status = store.read(engine)["p"]
    assert status.failing and status.last_error.startswith("bundle p: repository unreachable")  # type: ignore[union-attr]
    # a dag-processor restarting during the outage serves the last fetched version
    restarted = new()
    restarted.initialize()
    assert restarted.get_current_version().version == good and (restarted.path / "dags" / "a.py").exists()
    # a worker checking out that version needs no fetch and keeps the shared clone
    worker = GitBundle(name="p", version=good, repo_url=airflow_env.url("private"), tracking_ref="main",
                       git_conn_id="git_private", refresh_interval=5)
    worker.initialize()
    assert (worker.path / "dags" / "a.py").read_text() == "x = 1\n"
    assert (restarted.bare_repo_path / "HEAD").exists()
    airflow_env.start(port)
    restarted.refresh()
    assert not store.read(engine)["p"].failing


def test_probe_reports_each_problem(airflow_env: GitServer) -> None:
    from airdeck.dags.probe import check

    ok = check("p", {"repo_url": airflow_env.url("private"), "tracking_ref": "main", "git_conn_id": "git_private"})
    assert ok.ok and ok.commit and TOKEN not in ok.detail
    anon = check("p", {"repo_url": airflow_env.url("private"), "tracking_ref": "main"})
    assert not anon.ok and "bad credentials" in anon.detail
    gone = check("g", {"repo_url": "http://127.0.0.1:9/x.git", "tracking_ref": "main"})
    assert gone.detail.startswith("bundle g: repository unreachable")


def test_a_wrong_branch_never_serves_another_branch(airflow_env: GitServer, engine) -> None:  # type: ignore[no-untyped-def]
    from airdeck.dags.bundle import GitBundle

    for _attempt in (1, 2):  # the dag-processor retries initialize; the second try must fail the same way
        bundle = GitBundle(name="nope", repo_url=airflow_env.url("private"), tracking_ref="nope",
                           git_conn_id="git_private", refresh_interval=5)
        with pytest.raises(Exception):  # noqa: B017
            bundle.initialize()
        assert not bundle.is_initialized
        status = store.read(engine)["nope"]
        assert status.last_error is not None and "branch 'nope' not found" in status.last_error


def test_a_worker_with_clones_of_its_own_runs_the_last_fetched_version_during_an_outage(
        airflow_env: GitServer, engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Isolated workers keep their own clones: the dag-processor's read-only copy gives them the version."""
    import os
    import stat

    from airdeck.dags.bundle import GitBundle
    from airdeck.state.home import DAG_BUNDLE_MIRRORS_ENV

    work = airflow_env.create("team", {"dags/v.py": "V = 'A'\n"})
    mirrors = tmp_path / "mirrors"
    mirrors.mkdir()
    mirrors.chmod(0o2750)
    monkeypatch.setenv(DAG_BUNDLE_MIRRORS_ENV, str(mirrors))
    processor = GitBundle(name="team", repo_url=airflow_env.url("team"), tracking_ref="main", refresh_interval=5)
    processor.initialize()
    version_b = airflow_env.commit(work, {"dags/v.py": "V = 'B'\n"}, "B")
    processor.refresh()  # the copy follows every fetch
    assert processor.get_current_version().version == version_b
    airflow_env.stop()

    def worker(storage: str) -> GitBundle:
        monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH", str(tmp_path / storage))
        return GitBundle(name="team", version=version_b, repo_url=airflow_env.url("team"), tracking_ref="main",
                         refresh_interval=5)

    # without the copy (the code before it), a worker with its own storage cannot start the run
    monkeypatch.delenv(DAG_BUNDLE_MIRRORS_ENV)
    with pytest.raises(Exception):  # noqa: B017 - the provider's own error for an unreachable repository
        worker("worker-without-copy").initialize()
    monkeypatch.setenv(DAG_BUNDLE_MIRRORS_ENV, str(mirrors))
    isolated = worker("worker-bundles")
    isolated.initialize()
    assert (isolated.path / "dags" / "v.py").read_text() == "V = 'B'\n"
    # its own clone still names the repository (a later fetch goes there), not the copy
    assert f"url = {airflow_env.url('team')}" in (isolated.bare_repo_path / "config").read_text()
    # the copy: readable by the group, writable by its owner alone, nothing for others, no credentials
    for root, dirs, files in os.walk(mirrors / "team"):
        for name in [*dirs, *files]:
            mode = stat.S_IMODE(os.lstat(os.path.join(root, name)).st_mode)
            assert mode & 0o027 == 0, (os.path.join(root, name), oct(mode))
        for name in files:
            assert TOKEN.encode() not in Path(root, name).read_bytes()
