"""`airdeck restore FILE`: bring a platform back from a backup archive.

Everything is verified before anything is touched: the passphrase, every block of the archive, the
checksum of every member against the manifest, and that the installed Airflow knows the archive's
schema revision (an archive from a newer Airflow is refused). Only then, over an existing state
folder (after a confirmation), the platform is stopped and the state folder is moved aside whole
(``<home>.pre-restore-<time>``, with the configuration files it replaces and, for an external
database, a dump of that database), so the restore can itself be undone. A restore that fails
half-way puts the old state folder back.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from airdeck.config import load_config
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.ops import archive
from airdeck.ops.archive import ArchiveError, Secret
from airdeck.ops.database import Database, find_tool, private_dir, run_tool, temporary_server
from airdeck.stack import postgres, schema
from airdeck.stack.orchestrator import Stack
from airdeck.state import record
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import GENERATED, SecretStore, write_private


class RestoreError(AirdeckError):
    exit_code = 1


@dataclass
class Verified:
    header: dict[str, Any]
    manifest: dict[str, Any]
    folder: Path


@dataclass
class RestoreDone:
    seconds: float
    manifest: dict[str, Any]
    moved_aside: Path | None
    config_written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@contextmanager
def verified(path: Path, secret: Secret) -> Iterator[Verified]:
    """Open and check ``path`` completely; raise (having changed nothing) when it cannot be restored."""
    if not path.is_file():
        raise RestoreError(f"{path} is not a file; nothing was changed")
    with archive.opened(path, secret) as (header, folder):
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            files = manifest["files"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ArchiveError(f"{path} is damaged: its manifest is missing or unreadable") from None
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        unexpected = present - set(files) - {"manifest.json"}
        if unexpected:
            raise ArchiveError(f"{path} holds files its manifest does not list: {', '.join(sorted(unexpected))}")
        for name in files:  # archive.opened checked each one's size and SHA-256 as it wrote it
            if not (folder / name).is_file():
                raise ArchiveError(f"{path} is damaged: {name} is missing")
        for key in ("schema_revision", "airflow_version", "created_at"):
            if header.get(key) != manifest.get(key):
                raise ArchiveError(f"{path} is damaged: its header and manifest disagree on {key}")
        if "database.dump" not in files or "secrets/fernet_key" not in files:
            raise ArchiveError(f"{path} lacks the database dump or the Fernet key; it cannot be restored")
        check_schema(manifest)
        yield Verified(header, manifest, folder)


def check_schema(manifest: dict[str, Any]) -> None:
    """Refuse an archive whose schema this Airflow does not know (taken on a newer Airflow)."""
    revision = str(manifest.get("schema_revision"))
    version = str(manifest.get("airflow_version"))
    installed = record.installed_airflow()
    try:
        newer = Version(version) > Version(installed)
    except InvalidVersion:
        newer = False
    if newer or not schema.is_known(revision):
        raise RestoreError(
            f"the archive holds a schema from Airflow {version} (revision {revision}), newer than this airdeck's "
            f"Airflow {installed} knows (head {schema.head()}). Restore it with an airdeck that runs Airflow "
            f"{version} or later. Nothing was changed.")


def has_state(home: AirdeckHome) -> bool:
    return home.root.exists() and any(home.root.iterdir())


def restore(path: Path, secret: Secret, home: AirdeckHome, config_path: Path | None, *,
            keep_config: bool = False, confirm: Callable[[str], bool], say: Callable[[str], None]) -> RestoreDone:
    """Restore ``path`` into ``home``; ``config_path`` is where airdeck.yaml goes (and is read from)."""
    started = time.monotonic()
    with verified(path, secret) as checked:
        folder = checked.folder
        manifest = checked.manifest
        say(f"verified {path.name}: Airflow {manifest['airflow_version']}, schema {manifest['schema_revision']}, "
            f"taken {manifest['created_at']}")
        if keep_config or "config/airdeck.yaml" not in manifest["files"]:
            cfg = load_config(config_path)
        else:
            cfg = load_config(folder / "config" / "airdeck.yaml")
        _check_vault(cfg, home, folder)
        replacing = has_state(home)
        external = cfg.database.url is not None
        if replacing or external:
            what = (f"the state folder {home.root}" if replacing else "") + (
                " and " if replacing and external else "") + ("the external database" if external else "")
            if not confirm(f"Replace {what} with the backup of {manifest['created_at']}? "
                           "The current state is kept aside first."):
                raise RestoreError("restore cancelled; nothing was changed")
        aside = _move_aside(cfg, home, config_path, replacing, external, say)
        written: list[Path] = []
        try:
            if not keep_config:
                written = _write_config(folder, manifest, config_path, say)
            _write_secrets(home, folder, manifest)
            db = Database.of(cfg, SecretStore(home.secrets))
            _restore_database(cfg, home, db, folder / "database.dump", say)
            record.write(home, str(manifest["airflow_version"]), str(manifest["schema_revision"]), "restored")
        except BaseException:
            if aside is not None and replacing and not external:
                shutil.rmtree(home.root, ignore_errors=True)
                aside.rename(home.root)
                say(f"the restore failed; {home.root} was put back as it was")
            raise
    notes = []
    if schema.behind(str(manifest["schema_revision"])):
        notes.append(f"the archive's schema is from Airflow {manifest['airflow_version']}; run `airdeck upgrade` "
                     f"to migrate it to Airflow {record.installed_airflow()}")
    else:
        notes.append("start the platform with `airdeck up`")
    return RestoreDone(time.monotonic() - started, manifest, aside, written, notes)


def _check_vault(cfg: AirdeckConfig, home: AirdeckHome, folder: Path) -> None:
    """With the platform keys in Vault, Vault must hold the archive's keys (they are not written there)."""
    if not (cfg.secrets.vault and cfg.secrets.vault.platform_secrets):
        return
    from airdeck import concerns

    store = concerns.local_store(cfg, home)
    differ = []
    for name in ("fernet_key", "jwt_secret", "api_secret_key"):
        member = folder / "secrets" / name
        if member.exists() and store.read(name) != member.read_text(encoding="utf-8").strip():
            differ.append(name)
    if differ:
        raise RestoreError(
            f"Vault holds other platform keys than the archive ({', '.join(differ)}; secrets.vault.platform_secrets "
            "is on). Restore with the Vault keys of the backup's time, or turn platform_secrets off for the "
            "restore and run `airdeck vault bootstrap --platform-secrets` afterwards. Nothing was changed.")


def _move_aside(cfg: AirdeckConfig, home: AirdeckHome, config_path: Path | None, replacing: bool,
                external: bool, say: Callable[[str], None]) -> Path | None:
    if not replacing and not external:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = home.root.with_name(f"{home.root.name}.pre-restore-{stamp}")
    if replacing:
        stack = Stack(cfg, home)
        if stack.supervisor.is_running():
            say("stopping the running platform")
            stack.down(quiet=True)
        else:
            stack.cleanup_stale(quiet=True)
    if external:
        # The external database is replaced: keep a dump of it (with the state folder's secrets).
        store = SecretStore(home.secrets)
        db = Database.of(cfg, store)
        keep = aside / "pre-restore" if replacing else aside
        keep.mkdir(parents=True, exist_ok=True, mode=0o700)
        if db.answers() and db.schema_revision() is not None:
            tool = find_tool("pg_dump", db.server_major(), db)
            run_tool([str(tool), "--format=custom", "--file", str(keep / "database.dump"), *db.client_args(),
                      "--dbname", db.name], db, "pg_dump of the database being replaced")
            say(f"dumped the database being replaced to {keep / 'database.dump'}")
    if replacing:
        if aside.exists():
            for item in aside.iterdir():
                shutil.move(str(item), home.root / item.name)
            aside.rmdir()
        home.root.rename(aside)
        say(f"moved the current state folder aside to {aside}")
    if config_path is not None and config_path.exists():
        (aside / "config").mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(config_path, aside / "config" / "airdeck.yaml")
        roles = config_path.parent / "security" / "roles.yaml"
        if roles.exists():
            shutil.copy2(roles, aside / "config" / "roles.yaml")
    aside.chmod(0o700)
    return aside


def _write_config(folder: Path, manifest: dict[str, Any], config_path: Path | None,
                  say: Callable[[str], None]) -> list[Path]:
    target = config_path or Path("airdeck.yaml").absolute()
    written = []
    if "config/airdeck.yaml" in manifest["files"]:
        _replace(folder / "config" / "airdeck.yaml", target)
        written.append(target)
    if "config/roles.yaml" in manifest["files"]:
        roles = target.parent / "security" / "roles.yaml"
        roles.parent.mkdir(parents=True, exist_ok=True)
        _replace(folder / "config" / "roles.yaml", roles)
        written.append(roles)
    for path in written:
        say(f"wrote {path} from the archive")
    return written


def _replace(source: Path, target: Path) -> None:
    data = source.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return
    tmp = target.with_name(f".{target.name}.restore")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _write_secrets(home: AirdeckHome, folder: Path, manifest: dict[str, Any]) -> None:
    home.ensure()
    for name in GENERATED:
        member = f"secrets/{name}"
        if member in manifest["files"]:
            write_private(home.secrets / name, (folder / member).read_text(encoding="utf-8").strip())


def _restore_database(cfg: AirdeckConfig, home: AirdeckHome, db: Database, dump: Path,
                      say: Callable[[str], None]) -> None:
    if db.embedded:
        postgres.prepare(home.postgres_data, home.postgres_socket_dir, db.password)
        with temporary_server(cfg, home):
            postgres.ensure_database(db.port, db.password)
            _pg_restore(db, dump)
    else:
        if not db.answers():
            raise RestoreError(f"cannot reach the database at {db.shown} (database.url)")
        with db.connect() as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")
        _pg_restore(db, dump)
    say(f"restored the metadata database ({db.shown})")


def _pg_restore(db: Database, dump: Path) -> None:
    tool = find_tool("pg_restore", db.server_major(), db)
    with_access = private_dir(dump.parent / "restore", db)
    readable = with_access / dump.name
    shutil.copyfile(dump, readable)
    user = _owner(with_access)
    if user is not None:
        os.chown(readable, *user)
    run_tool([str(tool), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              *db.client_args(), "--dbname", db.name, str(readable)], db, f"pg_restore ({tool})")


def _owner(path: Path) -> tuple[int, int] | None:
    info = path.stat()
    return (info.st_uid, info.st_gid) if info.st_uid != os.getuid() else None
