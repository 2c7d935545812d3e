"""The backup section, the backup component of the plan, the schedule and retention, the passphrase sources,
and the schema knowledge restore relies on (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airdeck import concerns
from airdeck.config.errors import ConfigError
from airdeck.config.loader import parse_config
from airdeck.ops import backup, restore, scheduled
from airdeck.ops.archive import ArchiveError
from airdeck.plan.endpoints import Target
from airdeck.stack import schema
from airdeck.state.home import AirdeckHome


def _private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_schedule_needs_a_passphrase_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="passphrase_file"):
        parse_config({"backup": {"schedule": "1d"}})
    with pytest.raises(ConfigError, match="not both"):
        parse_config({"backup": {"passphrase_file": "/a", "key_file": "/b"}})
    with pytest.raises(ConfigError, match="backup.schedule"):
        parse_config({"backup": {"schedule": "1m", "passphrase_file": "/a"}})
    cfg = parse_config({"backup": {"schedule": "1d", "keep": 3, "passphrase_file": "/a"}})
    assert cfg.backup.schedule == timedelta(days=1)


def test_backup_component_only_with_a_schedule_and_only_locally(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    assert "backup" not in concerns.plan(parse_config({}), home).names()
    cfg = parse_config({"backup": {"schedule": "6h", "passphrase_file": str(tmp_path / "p")}})
    comp = concerns.plan(cfg, home).component("backup")
    assert comp.argv[1:5] == ("-m", "airdeck.ops.scheduled", "--home", str(home.root))
    assert "p" not in " ".join(comp.argv[5:]) and not any("PASS" in k for k in comp.env)
    assert "backup" not in concerns.plan(cfg, home, Target.kubernetes("rel")).names()


def test_schedule_counts_from_the_newest_scheduled_archive(tmp_path: Path) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert scheduled.seconds_until_due(tmp_path, 86400, now) == 0
    (tmp_path / backup.default_name(True, now - timedelta(hours=5))).write_text("x")
    (tmp_path / backup.default_name(False, now - timedelta(minutes=1))).write_text("x")  # by hand: not counted
    assert scheduled.seconds_until_due(tmp_path, 86400, now) == pytest.approx(19 * 3600)


def test_prune_keeps_the_newest_scheduled_and_every_manual_archive(tmp_path: Path) -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    for day in range(5):
        (tmp_path / backup.default_name(True, now - timedelta(days=day))).write_text("x")
    manual = tmp_path / backup.default_name(False, now - timedelta(days=30))
    manual.write_text("x")
    removed = backup.prune(tmp_path, 2)
    assert len(removed) == 3
    left = sorted(p.name for p in tmp_path.iterdir())
    assert manual.name in left and len(left) == 3
    assert backup.default_name(True, now) in left


def test_passphrase_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backup.PASSPHRASE_ENV, raising=False)
    cfg = parse_config({})
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ArchiveError, match="no backup passphrase"):
        backup.lock(cfg)
    open_file = tmp_path / "open"
    open_file.write_text("pw")
    open_file.chmod(0o644)
    with pytest.raises(ArchiveError, match="chmod 600"):
        backup.lock(cfg, passphrase_file=open_file)
    assert backup.lock(cfg, passphrase_file=_private(tmp_path / "p", "pw\n")).value == b"pw"
    monkeypatch.setenv(backup.PASSPHRASE_ENV, "from-env")
    secret = backup.lock(cfg)
    assert secret.value == b"from-env" and secret.source == backup.PASSPHRASE_ENV
    empty = _private(tmp_path / "empty", "\n")
    with pytest.raises(ArchiveError, match="empty"):
        backup.lock(cfg, passphrase_file=empty)


def test_schema_knowledge_and_newer_archives() -> None:
    head = schema.head()
    assert schema.is_known(head) and not schema.behind(head)
    restore.check_schema({"schema_revision": head, "airflow_version": "3.0.0"})
    with pytest.raises(restore.RestoreError, match="newer than this airdeck"):
        restore.check_schema({"schema_revision": "ffffffffffff", "airflow_version": "3.3.2"})
    with pytest.raises(restore.RestoreError, match="Airflow 9.1.0"):
        restore.check_schema({"schema_revision": head, "airflow_version": "9.1.0"})


def test_scheduled_run_waits_until_due_and_logs_failures_without_secrets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    passphrase = _private(tmp_path / "pass", "never-in-a-log\n")
    folder = tmp_path / "backups"
    config = tmp_path / "airdeck.yaml"
    config.write_text(f"backup: {{schedule: 1h, keep: 2, folder: {folder}, passphrase_file: {passphrase}}}\n"
                      "database: {embedded: {port: 1}}\n")
    home = AirdeckHome(tmp_path / "home")
    # No platform there: the attempt fails, is logged, and is retried later.
    assert scheduled.run_once(home, str(config)) == scheduled.RETRY
    out = capsys.readouterr().out
    assert "failed:" in out and "never-in-a-log" not in out
    folder.mkdir()
    (folder / backup.default_name(True)).write_text("x")
    wait = scheduled.run_once(home, str(config))
    assert 3500 < wait <= 3600


def test_pg_dump_for_an_external_server() -> None:
    from airdeck.ops.database import Database, DatabaseError, find_tool, tool_major
    from airdeck.plan.servers import postgres_bin_dir

    db = Database("db.example", 5432, "airflow", "airflow", "pw", {}, False, "postgresql://airflow:***@db.example/airflow")
    bundled = postgres_bin_dir() / "pg_dump"
    major = tool_major(bundled)
    assert major is not None
    assert find_tool("pg_dump", major, db) == bundled
    assert tool_major(find_tool("pg_dump", major - 3, db)) is not None  # a newer pg_dump reads an older server
    with pytest.raises(DatabaseError, match=r"PostgreSQL 99 .*postgresql-client-99.*Nothing was changed") as error:
        find_tool("pg_dump", 99, db)
    assert "pw" not in str(error.value).replace("pg_", "")


@pytest.mark.integration
def test_the_embedded_server_starts_on_its_own_for_a_stopped_platform() -> None:
    """As for a backup or an upgrade of a stopped platform, after `airdeck up` made run/ private again."""
    import shutil

    from airdeck.config.loader import parse_config as parse
    from airdeck.ops.database import Database, temporary_server
    from airdeck.stack import postgres
    from airdeck.state.secrets import SecretStore

    from tests.harness import free_port, new_home

    root = new_home()
    try:
        home = AirdeckHome(root)
        home.ensure()
        cfg = parse({"database": {"embedded": {"port": free_port()}}})
        store = SecretStore(home.secrets)
        postgres.prepare(home.postgres_data, home.postgres_socket_dir, store.get("database_password"), within=root)
        home.ensure()
        db = Database.of(cfg, store)
        with temporary_server(cfg, home):
            assert db.answers()
        assert not db.answers()
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def test_an_archive_dated_in_the_future_is_ignored_and_reported(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """One archive named after a clock jump silenced scheduled backups until that date, silently."""
    now = datetime.now(UTC)
    future = tmp_path / backup.default_name(True, now + timedelta(days=3 * 365))
    future.write_text("x")
    assert scheduled.seconds_until_due(tmp_path, 86400, now) == 0
    assert scheduled.future_dated(tmp_path, now) == [future]
    (tmp_path / backup.default_name(True, now - timedelta(hours=2))).write_text("x")
    assert scheduled.seconds_until_due(tmp_path, 86400, now) == pytest.approx(22 * 3600, abs=5)
    assert scheduled.future_dated(tmp_path, now + timedelta(days=4 * 365)) == []
    config = tmp_path / "airdeck.yaml"
    passphrase = _private(tmp_path / "pass", "pw\n")
    config.write_text(f"backup: {{schedule: 1d, folder: {tmp_path}, passphrase_file: {passphrase}}}\n")
    scheduled.run_once(AirdeckHome(tmp_path / "home"), str(config))
    out = capsys.readouterr().out
    assert "dated in the future" in out and future.name in out
    listed = {item.path.name: item.problem for item in backup.listing(tmp_path)}
    assert "dated in the future" in (listed[future.name] or "")
    # Retention neither counts nor removes it: the real archives are kept as backup.keep says.
    for hours in (4, 6):
        (tmp_path / backup.default_name(True, now - timedelta(hours=hours))).write_text("x")
    removed = backup.prune(tmp_path, 2)
    assert [p.name for p in removed] == [backup.default_name(True, now - timedelta(hours=6))]
    assert future.exists()


@pytest.mark.timeout(60)
def test_listing_skips_a_fifo_without_opening_it_and_shows_headers_inert(tmp_path: Path) -> None:
    """`backup --list` hung on a FIFO; header fields reached the terminal as they were."""
    import json
    import os
    import struct

    from airdeck.ops import archive

    os.mkfifo(tmp_path / "pipe.airdeck-backup")
    header = json.dumps({"format": archive.FORMAT, "created_at": "\x1b[2J\x1b]0;pwned\x07",
                         "airflow_version": ["\r3.3.2"]}).encode()
    (tmp_path / "odd.airdeck-backup").write_bytes(archive.MAGIC + struct.pack(">I", len(header)) + header)
    items = {item.path.name: item for item in backup.listing(tmp_path)}
    assert items["pipe.airdeck-backup"].problem == "not a regular file: skipped, not opened"
    odd = items["odd.airdeck-backup"].header or {}
    shown = [backup.inert(odd.get("created_at")), backup.inert(odd.get("airflow_version"))]
    assert shown == ["\\x1b[2J\\x1b]0;pwned\\x07", '["\\r3.3.2"]']  # json.dumps escaped the CR already
    assert all(ch.isprintable() for text in shown for ch in text or "")
    assert backup.inert("x" * 500, 10) == "x" * 10 + "…"
