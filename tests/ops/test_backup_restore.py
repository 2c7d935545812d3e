"""Backup while a DAG runs → rm -rf the state folder → restore → the same platform; bad archives refused.

One platform for the module: a finished run of example_fanout (with its mapped task history grown to
1000 task instances), a connection with a password, a variable and a second user; a backup taken
while example_slow runs; the state folder deleted; `airdeck restore`; `airdeck up` again and
everything compared. Then a wrong passphrase, a truncated archive and an archive claiming a newer
schema are each refused, with the state folder byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import psycopg
import pytest
from airdeck.ops import archive
from airdeck.state.record import installed_airflow

from tests.harness import Stack, new_home, remove_home, write_config

pytestmark = [pytest.mark.stack, pytest.mark.timeout(2400)]

PASSPHRASE = "correct horse battery staple"
TASKS = 1000


def _snapshot(root: Path) -> dict[str, str]:
    """Every regular file under the state folder with its digest (logs excluded: they grow on their own)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(("logs/", "run/")):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _grow_history(stack: Stack, run_id: str) -> None:
    """Copy one finished mapped task instance until the run holds TASKS task instances in all."""
    port = stack.settings["database"]["embedded"]["port"]
    password = (stack.home / "secrets" / "database_password").read_text().strip()
    with psycopg.connect(host="127.0.0.1", port=port, user="airflow", password=password, dbname="airflow",
                         autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM task_instance WHERE run_id = %s", (run_id,)).fetchone()[0]
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'task_instance' "
            "AND column_name NOT IN ('id', 'map_index')").fetchall()]
        cols = ", ".join(f'"{c}"' for c in columns)
        conn.execute(
            f"INSERT INTO task_instance (id, map_index, {cols}) "  # noqa: S608 - column names from the catalogue
            f"SELECT gen_random_uuid(), g, {cols} FROM task_instance, generate_series(1000, %s) AS g "
            "WHERE run_id = %s AND task_id = 'process.work' AND map_index = 0",
            (1000 + TASKS - count - 1, run_id))


def _airflow_json(stack: Stack, *args: str) -> object:
    result = stack.airdeck("airflow", *args, "--output", "json")
    return json.loads(result.stdout[result.stdout.index("[") if "[" in result.stdout else result.stdout.index("{"):])


def _facts(stack: Stack, fanout_run: str) -> dict[str, object]:
    conn = _airflow_json(stack, "connections", "get", "warehouse")
    users = _airflow_json(stack, "users", "list")
    tis = stack.task_instances("example_fanout", fanout_run)
    return {
        "connection": [{k: c[k] for k in ("conn_id", "conn_type", "host", "login", "password", "port", "schema")}
                       for c in conn],  # type: ignore[union-attr]
        "variable": stack.airdeck("airflow", "variables", "get", "region").stdout.strip().splitlines()[-1],
        "users": sorted(u["username"] for u in users),  # type: ignore[union-attr]
        "task_instances": sorted((t["task_id"], t["map_index"], t["state"]) for t in tis),
        "runs": sorted(r["dag_run_id"] for d in ("example_fanout", "example_slow")
                       for r in stack.api("GET", f"/dags/{d}/dagRuns").json()["dag_runs"]),
    }


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("backup")
    home = new_home()
    backups = Path(str(home) + "-backups")
    passphrase = folder / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    passphrase.chmod(0o600)
    # Scheduled backups on: the platform's `backup` service takes one at start (none taken before).
    extra = {"supervision": {"stop_timeout": "10s"},
             "backup": {"schedule": "1d", "keep": 2, "folder": str(backups), "passphrase_file": str(passphrase)}}
    stack = Stack(home, write_config(folder, extra))
    try:
        stack.airdeck("up", "--detach")
        yield stack, backups
    finally:
        stack.airdeck("down", check=False, timeout=300)
        remove_home(stack.home)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _env(stack: Stack, passphrase: str = PASSPHRASE) -> dict[str, str]:
    return {**stack.env(), "AIRDECK_BACKUP_PASSPHRASE": passphrase}


def _run(stack: Stack, *args: str, passphrase: str = PASSPHRASE):
    import subprocess

    from tests.harness import AIRDECK, REPO
    return subprocess.run([*AIRDECK, *args], env=_env(stack, passphrase), capture_output=True, text=True,
                          timeout=1800, check=False, cwd=REPO, stdin=subprocess.DEVNULL)


def test_backup_while_running_then_restore_after_rm_rf(platform) -> None:
    stack, backups = platform
    deadline = time.monotonic() + 120
    while not list(backups.glob("scheduled-airdeck-*.airdeck-backup")):
        assert time.monotonic() < deadline, stack.airdeck("logs", "backup", check=False).stdout
        time.sleep(2)
    services = {s["name"]: s for s in stack.status()["services"]}
    assert services["backup"]["state"] == "RUNNING"
    assert PASSPHRASE not in (stack.home / "logs" / "backup.log").read_text()
    stack.airdeck("airflow", "connections", "add", "warehouse", "--conn-type", "postgres", "--conn-host", "db.example",
                  "--conn-login", "loader", "--conn-password", "p@ss:w0rd/é", "--conn-port", "5432",
                  "--conn-schema", "dwh")
    stack.airdeck("airflow", "variables", "set", "region", "eu-west-1")
    stack.airdeck("airflow", "users", "create", "--username", "alice", "--firstname", "Alice", "--lastname", "Ops",
                  "--role", "Viewer", "--email", "alice@example.com", "--password", "alice-secret-1")
    fanout = stack.trigger("example_fanout", conf={"n": 20})
    assert stack.wait_for_run("example_fanout", fanout) == "success"
    _grow_history(stack, fanout)
    before = _facts(stack, fanout)
    assert len(before["task_instances"]) == TASKS  # type: ignore[arg-type]

    slow = stack.trigger("example_slow", conf={"seconds": 120})
    deadline = time.monotonic() + 120
    while stack.api("GET", f"/dags/example_slow/dagRuns/{slow}").json()["state"] != "running":
        assert time.monotonic() < deadline, "example_slow did not start"
        time.sleep(2)
    target = backups / "platform.airdeck-backup"
    started = time.monotonic()
    done = _run(stack, "backup", "--to", str(target), "--json")
    assert done.returncode == 0, done.stderr
    backup_seconds = time.monotonic() - started
    facts = json.loads(done.stdout)
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert PASSPHRASE not in done.stdout + done.stderr
    assert {"database.dump", "secrets/fernet_key", "secrets/jwt_secret", "secrets/api_secret_key",
            "config/airdeck.yaml"} <= set(facts["members"])
    listed = _run(stack, "backup", "--list", "--to", str(backups), "--json")
    listed_names = {b["file"]: b for b in json.loads(listed.stdout)["backups"]}
    assert listed_names[target.name]["kind"] == "manual" and listed_names[target.name]["airflow"] == installed_airflow()
    assert any(b["kind"] == "scheduled" for b in listed_names.values())

    stack.airdeck("down", timeout=300)
    shutil.rmtree(stack.home)
    started = time.monotonic()
    restored = _run(stack, "restore", str(target))
    restore_seconds = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr
    print(f"\nFIGURES: {TASKS}-task history: archive {target.stat().st_size} bytes, backup {backup_seconds:.1f}s "
          f"(CLI, platform running), restore {restore_seconds:.1f}s (CLI, into an empty state folder)")
    assert oct((stack.home / "secrets" / "fernet_key").stat().st_mode & 0o777) == "0o600"

    stack.airdeck("up", "--detach")
    after = _facts(stack, fanout)
    assert after["connection"] == before["connection"]
    assert after["connection"][0]["password"] == "p@ss:w0rd/é"  # type: ignore[index]
    assert after["variable"] == "eu-west-1"
    assert "alice" in after["users"]  # type: ignore[operator]
    assert after["users"] == before["users"]
    assert after["task_instances"] == before["task_instances"]
    assert slow in after["runs"] and fanout in after["runs"]  # type: ignore[operator]
    stack.token("alice", "alice-secret-1")  # the restored user signs in with the same password


def test_bad_archives_are_refused_and_change_nothing(platform) -> None:
    stack, backups = platform
    target = backups / "platform.airdeck-backup"
    assert target.exists(), "the first test writes the archive"
    stack.airdeck("down", timeout=300)
    state = _snapshot(stack.home)
    config = stack.config.read_bytes()

    wrong = _run(stack, "restore", str(target), "--yes", passphrase="not the passphrase")
    assert wrong.returncode == 1
    assert "wrong passphrase" in _flat(wrong.stderr) and "nothing was changed" in _flat(wrong.stderr)

    truncated = backups / "truncated.airdeck-backup"
    data = target.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])
    cut = _run(stack, "restore", str(truncated), "--yes")
    assert cut.returncode == 1 and "is truncated" in _flat(cut.stderr), cut.stderr

    newer = backups / "newer.airdeck-backup"
    secret = archive.Secret.passphrase(PASSPHRASE, "test")
    with archive.opened(target, secret) as (header, folder):
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest.update({"airflow_version": "9.0.0", "schema_revision": "ffffffffffff"})
        (folder / "manifest.json").write_text(json.dumps(manifest))
        members = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
        info = {k: manifest[k] for k in ("created_at", "airdeck_version", "airflow_version", "schema_revision",
                                         "scheduled")}
        archive.write_archive(newer, secret, info, members)
    refused = _run(stack, "restore", str(newer), "--yes")
    assert refused.returncode == 1
    assert "newer than this airdeck's" in _flat(refused.stderr) and "Airflow 9.0.0" in _flat(refused.stderr)

    assert _snapshot(stack.home) == state
    assert stack.config.read_bytes() == config
    assert not list(stack.home.parent.glob("home.pre-restore-*"))

    # Over an existing state folder: no terminal and no --yes is refused; with --yes the old state is kept aside.
    unconfirmed = _run(stack, "restore", str(target))
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    assert _snapshot(stack.home) == state
    replaced = _run(stack, "restore", str(target), "--yes")
    assert replaced.returncode == 0, replaced.stderr
    aside = list(stack.home.parent.glob("home.pre-restore-*"))
    assert len(aside) == 1 and oct(aside[0].stat().st_mode & 0o777) == "0o700"
    assert (aside[0] / "secrets" / "fernet_key").read_text() == (stack.home / "secrets" / "fernet_key").read_text()
    assert (aside[0] / "config" / "airdeck.yaml").read_bytes() == config
