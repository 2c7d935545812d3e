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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
#: How far in the future an archive's name may be before it is taken for a clock jump.
CLOCK_SKEW = timedelta(minutes=5)
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


@contextmanager
def private_umask() -> Iterator[None]:
    """umask 077 for the block: every file and folder a backup makes (and every child it starts) is the
    platform user's alone from its first byte (issue 22, finding 2)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


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
    with private_umask(), tempfile.TemporaryDirectory(prefix="airdeck-backup-") as tmp:
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
            produced.chmod(0o600)
            produced.replace(dump)
            dump_dir.rmdir()
            work.chmod(0o700)  # private_dir let the server's user through for the dump: no longer
        members["database.dump"] = dump
        for name in SECRETS:
            try:
                value = store.read(name)
            except KeyError:
                continue
            path = work / "secrets" / name
            path.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(value)
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
        fd = os.open(manifest_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(manifest, indent=2))
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


def listing(where: Path, now: datetime | None = None) -> list[Listed]:
    """The archives in ``where``, newest first, with what their clear headers say (unverified). Anything
    but a regular file (a FIFO, a device, a link) is listed as skipped without being opened."""
    out: list[Listed] = []
    if not where.is_dir():
        return out
    limit = (now or datetime.now(UTC)) + CLOCK_SKEW
    for path in sorted(where.glob(f"*{SUFFIX}"), key=lambda p: p.name.removeprefix(SCHEDULED_PREFIX),
                       reverse=True):
        try:
            info = os.lstat(path)
        except OSError as exc:
            out.append(Listed(path, 0, None, f"cannot read it: {exc.strerror}"))
            continue
        if not stat.S_ISREG(info.st_mode):
            out.append(Listed(path, 0, None, "not a regular file: skipped, not opened"))
            continue
        stamp = path.name.removeprefix(f"{SCHEDULED_PREFIX}airdeck-").removesuffix(SUFFIX)
        try:
            future = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) > limit
        except ValueError:
            future = False
        problem = ("dated in the future (a clock jump?): scheduled backups ignore it"
                   if future and path.name.startswith(SCHEDULED_PREFIX) else None)
        header: dict[str, Any] | None
        try:
            header = archive.read_header(path)
        except (ArchiveError, OSError) as exc:
            header, problem = None, "; ".join(filter(None, [str(exc), problem]))
        out.append(Listed(path, info.st_size, header, problem))
    return out


def inert(value: Any, limit: int = 120) -> str | None:
    """``value`` (from an unauthenticated header or a file name) as text safe to print on a terminal:
    control characters escaped, cut at ``limit`` characters."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= limit else text[:limit] + "…"


def prune(where: Path, keep: int, now: datetime | None = None) -> list[Path]:
    """Remove the scheduled archives beyond the newest ``keep``; the archives taken by hand stay, and so do
    archives dated in the future (neither counted nor removed: reported by the scheduled service)."""
    limit = (now or datetime.now(UTC)) + CLOCK_SKEW

    def future(path: Path) -> bool:
        stamp = path.name.removeprefix(f"{SCHEDULED_PREFIX}airdeck-").removesuffix(SUFFIX)
        try:
            return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) > limit
        except ValueError:
            return False

    scheduled = sorted((p for p in where.glob(f"{SCHEDULED_PREFIX}*{SUFFIX}") if not future(p)), reverse=True)
    removed = []
    for path in scheduled[keep:]:
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


__all__ = ["BackupDone", "BackupError", "DatabaseError", "create", "folder", "listing", "lock", "prune"]
