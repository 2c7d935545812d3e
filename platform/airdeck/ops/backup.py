"""`airdeck backup`: one encrypted archive that brings a platform back.

It holds a consistent dump of the metadata database (pg_dump takes one snapshot, so the platform keeps
running), the secrets that read it (Fernet key, JWT and session keys, from the state folder or Vault,
and the generated passwords), ``airdeck.yaml`` and the roles file, and a manifest with the Airflow
version, the schema revision, the time and a SHA-256 of every member. The archive is sealed with a
passphrase or a key file (:mod:`airdeck.ops.archive`) and written 0600.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airdeck import __version__ as airdeck_version
from airdeck import concerns
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.ops import archive
from airdeck.ops.archive import ArchiveError, Secret
from airdeck.ops.database import Database, DatabaseError, available, find_tool, private_dir, run_tool
from airdeck.state import record
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import GENERATED

PASSPHRASE_ENV = "AIRDECK_BACKUP_PASSPHRASE"  # noqa: S105 - the name of a variable
SUFFIX = ".airdeck-backup"
SCHEDULED_PREFIX = "scheduled-"
#: Secrets a backup carries: the keys that read the database, and the generated passwords.
SECRETS = tuple(GENERATED)


class BackupError(AirdeckError):
    exit_code = 1


@dataclass
class BackupDone:
    path: Path
    size: int
    seconds: float
    manifest: dict[str, Any]


def folder(cfg: AirdeckConfig, home: AirdeckHome) -> Path:
    return (cfg.backup.folder or home.root / "backups").expanduser().absolute()


def _private_file(path: Path, what: str) -> Path:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ArchiveError(f"cannot read the {what} {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ArchiveError(f"the {what} {path} has mode {mode:04o}; others must not read it. Run: chmod 600 {path}")
    return path


def lock(cfg: AirdeckConfig, passphrase_file: Path | None = None, key_file: Path | None = None,
         confirm: bool = False) -> Secret:
    """The passphrase or key file, from (first found): --key-file, --passphrase-file,
    $AIRDECK_BACKUP_PASSPHRASE, backup.key_file, backup.passphrase_file, a prompt on a terminal."""
    if key_file is not None:
        return Secret.key_file(_private_file(key_file, "key file"))
    if passphrase_file is not None:
        path = _private_file(passphrase_file, "passphrase file")
        return Secret.passphrase(path.read_text(encoding="utf-8"), str(path))
    if os.environ.get(PASSPHRASE_ENV):
        return Secret.passphrase(os.environ[PASSPHRASE_ENV], PASSPHRASE_ENV)
    if cfg.backup.key_file is not None:
        return Secret.key_file(_private_file(cfg.backup.key_file, "key file (backup.key_file)"))
    if cfg.backup.passphrase_file is not None:
        path = _private_file(cfg.backup.passphrase_file, "passphrase file (backup.passphrase_file)")
        return Secret.passphrase(path.read_text(encoding="utf-8"), str(path))
    if sys.stdin.isatty():
        first = getpass.getpass("backup passphrase: ")
        if confirm and getpass.getpass("again: ") != first:
            raise ArchiveError("the passphrases differ; nothing was written")
        return Secret.passphrase(first, "prompt")
    raise ArchiveError(f"no backup passphrase: set {PASSPHRASE_ENV}, pass --passphrase-file FILE or --key-file FILE, "
                       "or set backup.passphrase_file in airdeck.yaml")


def default_name(scheduled: bool = False, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{SCHEDULED_PREFIX if scheduled else ''}airdeck-{stamp}{SUFFIX}"


def roles_file(cfg: AirdeckConfig) -> Path | None:
    """The roles file the platform is run with: security/roles.yaml next to airdeck.yaml, when there."""
    if cfg.source is not None:
        candidate = cfg.source.parent / "security" / "roles.yaml"
        if candidate.exists():
            return candidate
    candidate = Path("security/roles.yaml").absolute()
    return candidate if candidate.exists() else None


def create(cfg: AirdeckConfig, home: AirdeckHome, secret: Secret, to: Path | None = None,
           scheduled: bool = False, say: Any = None) -> BackupDone:
    """Take a backup; ``to`` (a file or a folder) defaults to backup.folder (or $AIRDECK_HOME/backups)."""
    started = time.monotonic()
    target = to.expanduser().absolute() if to is not None else folder(cfg, home)
    if target.is_dir() or to is None:
        target = target / default_name(scheduled)
    if target.exists():
        raise BackupError(f"{target} exists already; choose another file")
    store = concerns.local_store(cfg, home)
    try:
        db = Database.of(cfg, store)
    except KeyError:
        raise BackupError(f"{home.root} has no database password: no platform was ever started there") from None
    with tempfile.TemporaryDirectory(prefix="airdeck-backup-") as tmp:
        work = Path(tmp)
        members: dict[str, Path] = {}
        with available(cfg, home, db) as started_db:
            if started_db and say:
                say("started the embedded PostgreSQL for the backup (the platform is not running)")
            revision = db.schema_revision()
            if revision is None:
                raise BackupError(f"the database at {db.shown} holds no Airflow schema; nothing to back up")
            major = db.server_major()
            pg_dump = find_tool("pg_dump", major, db)
            dump = work / "database.dump"
            dump_dir = private_dir(work / "dump", db)
            produced = dump_dir / "database.dump"
            run_tool([str(pg_dump), "--format=custom", "--no-owner", "--no-privileges", "--file", str(produced),
                      *db.client_args(), "--dbname", db.name], db, f"pg_dump ({pg_dump})")
            produced.replace(dump)
            dump_dir.rmdir()
        members["database.dump"] = dump
        for name in SECRETS:
            try:
                value = store.read(name)
            except KeyError:
                continue
            path = work / "secrets" / name
            path.parent.mkdir(mode=0o700, exist_ok=True)
            path.write_text(value, encoding="utf-8")
            path.chmod(0o600)
            members[f"secrets/{name}"] = path
        if "secrets/fernet_key" not in members:
            raise BackupError("the Fernet key cannot be read; a backup without it could not decrypt connections")
        if cfg.source is not None and cfg.source.exists():
            members["config/airdeck.yaml"] = cfg.source
        roles = roles_file(cfg)
        if roles is not None:
            members["config/roles.yaml"] = roles
        # The Airflow that last migrated this database (the schema's version), else the installed one.
        recorded = record.read(home) or {}
        airflow_version = str(recorded.get("airflow_version") or record.installed_airflow())
        manifest = {
            "format": archive.FORMAT,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "airdeck_version": airdeck_version,
            "airflow_version": airflow_version,
            "schema_revision": revision,
            "database": {"embedded": db.embedded, "server_major": major, "dump": "pg_dump custom format"},
            "vault_platform_secrets": bool(cfg.secrets.vault and cfg.secrets.vault.platform_secrets),
            "scheduled": scheduled,
            "files": {name: {"sha256": archive.sha256(path), "bytes": path.stat().st_size}
                      for name, path in members.items()},
        }
        manifest_path = work / "manifest.json"
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        info = {k: manifest[k] for k in ("created_at", "airdeck_version", "airflow_version", "schema_revision",
                                         "scheduled")}
        size = archive.write_archive(target, secret, info, {"manifest.json": manifest_path, **members})
    return BackupDone(target, size, time.monotonic() - started, manifest)


@dataclass
class Listed:
    path: Path
    size: int
    header: dict[str, Any] | None
    problem: str | None


def listing(where: Path) -> list[Listed]:
    """The archives in ``where``, newest first, with what their clear headers say (unverified)."""
    out: list[Listed] = []
    if not where.is_dir():
        return out
    for path in sorted(where.glob(f"*{SUFFIX}"), key=lambda p: p.name.removeprefix(SCHEDULED_PREFIX),
                       reverse=True):
        try:
            out.append(Listed(path, path.stat().st_size, archive.read_header(path), None))
        except (ArchiveError, OSError) as exc:
            out.append(Listed(path, path.stat().st_size if path.exists() else 0, None, str(exc)))
    return out


def prune(where: Path, keep: int) -> list[Path]:
    """Remove the scheduled archives beyond the newest ``keep``; the archives taken by hand stay."""
    scheduled = sorted(where.glob(f"{SCHEDULED_PREFIX}*{SUFFIX}"), reverse=True)
    removed = []
    for path in scheduled[keep:]:
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


__all__ = ["BackupDone", "BackupError", "DatabaseError", "create", "folder", "listing", "lock", "prune"]
