"""Backups private from the first byte, restores all or nothing (issue 22, findings 2 and 4), on a real embedded
PostgreSQL: a database holding an Airflow schema revision, backed up with the real pg_dump (as the server's
user when run as root), restored with the real pg_restore, failures caused for real (the port taken, a
missing secret, a kill -9 half-way)."""

from __future__ import annotations

import hashlib
import os
import signal
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
from airdeck.config import load_config
from airdeck.ops import archive, backup, restore
from airdeck.ops.archive import ArchiveError, Secret
from airdeck.ops.database import temporary_server
from airdeck.stack import postgres, schema
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import GENERATED, SecretStore

from tests.harness import free_port, new_home, remove_home
from tests.ops.crafted import Member, seal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PASS = Secret.passphrase("restore-test passphrase", "test")
ROLES = "roles:\n  - name: Viewer\n"


@dataclass
class Source:
    root: Path
    config: Path
    archive: Path
    port: int
    modes: dict[str, Any]


def _write_config(folder: Path, port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "airdeck.yaml"
    config.write_text(f"database: {{embedded: {{port: {port}}}}}\n")
    (folder / "security").mkdir(exist_ok=True)
    (folder / "security" / "roles.yaml").write_text(ROLES)
    return config


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    """A platform's state folder with its database (an Airflow schema revision and a row), backed up once."""
    root = new_home()
    port = free_port()
    config = _write_config(root.parent / "conf", port)
    home = AirdeckHome(root)
    home.ensure()
    store = SecretStore(home.secrets)
    for name in GENERATED:
        store.get(name)
    postgres.prepare(home.postgres_data, home.postgres_socket_dir, store.get("database_password"), within=root)
    home.ensure()
    cfg = load_config(config)
    with temporary_server(cfg, home):
        postgres.ensure_database(port, store.get("database_password"))
        with psycopg.connect(host="127.0.0.1", port=port, user=postgres.SUPERUSER,
                             password=store.get("database_password"), dbname=postgres.DATABASE,
                             autocommit=True) as conn:
            conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute("INSERT INTO alembic_version VALUES (%s)", (schema.head(),))
            conn.execute("CREATE TABLE variable (key text, val text)")
            conn.execute("INSERT INTO variable VALUES ('region', 'eu-west-1')")
    modes: dict[str, Any] = {}
    real_run_tool, real_write = backup.run_tool, archive.write_archive

    def watch_tool(argv: list[str], *args: Any, **kwargs: Any) -> None:
        real_run_tool(argv, *args, **kwargs)
        produced = Path(argv[argv.index("--file") + 1])
        modes["dump as written"] = stat.S_IMODE(produced.stat().st_mode)

    def watch_write(path: Path, secret: Secret, info: dict[str, Any], members: dict[str, Path]) -> int:
        work = members["manifest.json"].parent
        modes["work folder"] = stat.S_IMODE(work.stat().st_mode)
        modes["members"] = {name: stat.S_IMODE(p.stat().st_mode) for name, p in members.items()
                            if p.is_relative_to(work)}
        return real_write(path, secret, info, members)

    mp = pytest.MonkeyPatch()
    mp.setattr(backup, "run_tool", watch_tool)
    mp.setattr(archive, "write_archive", watch_write)
    try:
        done = backup.create(cfg, home, PASS, to=root.parent / "a.airdeck-backup")
    finally:
        mp.undo()
    yield Source(root, config, done.path, port, modes)
    remove_home(root)


@pytest.fixture
def place() -> Iterator[Path]:
    """A folder the embedded server's user can search (pytest's own is private to root)."""
    folder = new_home().parent
    yield folder
    remove_home(folder / "home")


def test_backup_files_are_private_from_the_first_byte(source: Source) -> None:
    """pg_dump's output was 0644 in a 0701 folder, manifest.json 0644: readable by every local user."""
    assert source.modes["dump as written"] == 0o600
    assert source.modes["work folder"] == 0o700
    assert source.modes["members"] and set(source.modes["members"].values()) == {0o600}, source.modes["members"]


def _snapshot(*roots: Path) -> dict[str, tuple[str, int, str]]:
    out = {}
    for root in roots:
        if not root.exists():
            out[str(root)] = ("absent", 0, "")
            continue
        for path in [root, *sorted(root.rglob("*"))]:
            info = path.lstat()
            kind = "dir" if stat.S_ISDIR(info.st_mode) else "file"
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if kind == "file" else ""
            out[str(path)] = (kind, stat.S_IMODE(info.st_mode), digest)
    return out


def _target(tmp: Path, port: int, with_state: bool = True) -> tuple[AirdeckHome, Path]:
    """A state folder with content of its own (0600 and 0640 files) and a configuration with other bytes."""
    tmp.chmod(0o711)
    root = tmp / "home"
    if with_state:
        (root / "secrets").mkdir(parents=True, mode=0o700)
        (root / "secrets" / "fernet_key").write_text("old key")
        (root / "secrets" / "fernet_key").chmod(0o600)
        (root / "notes.txt").write_text("kept")
        (root / "notes.txt").chmod(0o640)
        root.chmod(0o750)
    config = _write_config(tmp / "conf", port)
    config.write_text(f"# this machine's own\ndatabase: {{embedded: {{port: {port}}}}}\n")
    config.chmod(0o640)
    return AirdeckHome(root), config


def _siblings(tmp: Path) -> set[str]:
    return {p.name for p in tmp.iterdir()}


def _restore(source: Source, home: AirdeckHome, config: Path) -> restore.RestoreDone:
    return restore.restore(source.archive, PASS, home, config, confirm=lambda _q: True, say=lambda _t: None)


def test_restore_brings_the_state_and_configuration_back(source: Source, place: Path) -> None:
    home, config = _target(place, free_port())
    done = _restore(source, home, config)
    assert (home.secrets / "fernet_key").read_text() == (source.root / "secrets" / "fernet_key").read_text()
    assert config.read_text() == source.config.read_text() and stat.S_IMODE(config.stat().st_mode) == 0o640
    assert done.moved_aside is not None and (done.moved_aside / "notes.txt").read_text() == "kept"
    assert (done.moved_aside / "config" / "airdeck.yaml").read_text().startswith("# this machine's own")
    assert not (place / ".home.restore").exists()
    cfg = load_config(config)
    password = (home.secrets / "database_password").read_text().strip()
    with temporary_server(cfg, home), psycopg.connect(host="127.0.0.1", port=source.port, user=postgres.SUPERUSER,
                                                      password=password, dbname=postgres.DATABASE) as conn:
        assert conn.execute("SELECT val FROM variable").fetchone() == ("eu-west-1",)


def _port_taken(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_failed_restore_puts_everything_back_byte_for_byte(source: Source, place: Path) -> None:
    """The database cannot start (its port is taken) after the state folder moved and the files were written:
    airdeck.yaml and roles.yaml stayed replaced (airdeck.yaml 0644), a config/ folder stayed behind."""
    home, config = _target(place, free_port())
    (config.parent / "security" / "roles.yaml").write_text("roles: []\n")
    before, siblings = _snapshot(home.root, config.parent), _siblings(place)
    with _port_taken(source.port), pytest.raises(Exception, match="could not start the embedded PostgreSQL"):
        _restore(source, home, config)
    assert _snapshot(home.root, config.parent) == before
    assert _siblings(place) == siblings


def test_a_fresh_home_made_by_a_failed_restore_is_removed(source: Source, place: Path) -> None:
    home, config = _target(place, free_port(), with_state=False)
    config.unlink()
    (config.parent / "security" / "roles.yaml").unlink()
    (config.parent / "security").rmdir()
    before, siblings = _snapshot(home.root, config.parent), _siblings(place)
    with _port_taken(source.port), pytest.raises(Exception, match="could not start"):
        _restore(source, home, config)
    assert not home.root.exists()
    assert _snapshot(home.root, config.parent) == before and _siblings(place) == siblings


def test_an_archive_without_a_needed_secret_is_refused_before_anything_moves(source: Source, place: Path) -> None:
    """It ended in a KeyError traceback after the old state folder had been moved aside."""
    with archive.opened(source.archive, PASS) as (header, folder):
        import json

        manifest = json.loads((folder / "manifest.json").read_text())
        del manifest["files"]["secrets/database_password"]
        members = [Member(name, (folder / name).read_bytes()) for name in manifest["files"]]
        info = {k: header[k] for k in ("created_at", "airflow_version", "schema_revision", "scheduled")}
    lacking = seal(place / "lacking.airdeck-backup", PASS,
                   [Member("manifest.json", json.dumps(manifest).encode()), *members], info=info)
    home, config = _target(place, free_port())
    before, siblings = _snapshot(home.root, config.parent), _siblings(place)
    with pytest.raises(restore.RestoreError, match="lacks the secret database_password.*Nothing was changed"):
        restore.restore(lacking, PASS, home, config, confirm=lambda _q: True, say=lambda _t: None)
    assert _snapshot(home.root, config.parent) == before and _siblings(place) == siblings


def test_a_restore_killed_half_way_is_rolled_back_by_the_next_command(source: Source, place: Path) -> None:
    home, config = _target(place, free_port())
    before, siblings = _snapshot(home.root, config.parent), _siblings(place)
    env = {**os.environ, "AIRDECK_BACKUP_PASSPHRASE": "restore-test passphrase"}
    cli = [sys.executable, "-m", "airdeck.cli.main", "--home", str(home.root), "--config", str(config)]
    proc = subprocess.Popen([*cli, "restore", str(source.archive), "--yes"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        # Killed once the state folder is aside and the new one is being built (its database initialising).
        while not (home.postgres_data / "PG_VERSION").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the restore ended before it could be killed"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (place / ".home.restore").exists()  # the journal
    assert config.read_text() == source.config.read_text()  # half-way indeed: the archive's file is in place
    listed = subprocess.run([*cli, "backup", "--list", "--to", str(place / "none")], env=env, capture_output=True,
                            text=True, check=False, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "interrupted" in listed.stderr
    assert _snapshot(home.root, config.parent) == before
    assert _siblings(place) == siblings


def test_the_allow_list_refuses_what_restore_would_not_expect(source: Source, place: Path) -> None:
    with archive.opened(source.archive, PASS) as (_header, folder):
        assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} <= archive.MEMBERS
    with pytest.raises(ArchiveError, match="wrong passphrase"), archive.opened(
            source.archive, Secret.passphrase("nope", "test")):
        pass
