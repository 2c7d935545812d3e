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

import contextlib
import json
import os
import shutil
import stat
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
    """Restore ``path`` into ``home``; ``config_path`` is where airdeck.yaml goes (and is read from).

    All or nothing: a journal written before anything moves lets any failure, and the next airdeck
    command after a kill, put the state folder and the configuration files back byte for byte."""
    started = time.monotonic()
    recover_interrupted(home, say)
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
        _check_secrets(cfg, folder, path)
        replacing = has_state(home)
        external = cfg.database.url is not None
        if replacing or external:
            what = (f"the state folder {home.root}" if replacing else "") + (
                " and " if replacing and external else "") + ("the external database" if external else "")
            if not confirm(f"Replace {what} with the backup of {manifest['created_at']}? "
                           "The current state is kept aside first."):
                raise RestoreError("restore cancelled; nothing was changed")
        targets = [] if keep_config else _config_targets(manifest, config_path)
        journal = Journal.begin(home, targets)
        try:
            aside = _move_aside(cfg, home, journal, replacing, external, say)
            written = _write_config(folder, manifest, config_path, say) if not keep_config else []
            _write_secrets(home, folder, manifest)
            db = Database.of(cfg, SecretStore(home.secrets))
            _restore_database(cfg, home, db, folder / "database.dump", say)
            record.write(home, str(manifest["airflow_version"]), str(manifest["schema_revision"]), "restored")
        except BaseException:
            journal.roll_back()
            say(f"the restore failed; {home.root} and the configuration files were put back as they were")
            raise
        journal.commit()
    notes = []
    if schema.behind(str(manifest["schema_revision"])):
        notes.append(f"the archive's schema is from Airflow {manifest['airflow_version']}; run `airdeck upgrade` "
                     f"to migrate it to Airflow {record.installed_airflow()}")
    else:
        notes.append("start the platform with `airdeck up`")
    return RestoreDone(time.monotonic() - started, manifest, aside, written, notes)


def _check_secrets(cfg: AirdeckConfig, folder: Path, path: Path) -> None:
    """The secrets the restored platform reads must be in the archive: said before anything moves."""
    store = SecretStore(folder / "secrets")
    try:
        Database.of(cfg, store)
    except KeyError:
        raise RestoreError(f"{path} lacks the secret database_password that its embedded database needs; "
                           "it cannot be restored. Nothing was changed.") from None


def _config_targets(manifest: dict[str, Any], config_path: Path | None) -> list[Path]:
    target = config_path or Path("airdeck.yaml").absolute()
    out = []
    if "config/airdeck.yaml" in manifest["files"]:
        out.append(target)
    if "config/roles.yaml" in manifest["files"]:
        out.append(target.parent / "security" / "roles.yaml")
    return out


def _journal_folder(home: AirdeckHome) -> Path:
    return home.root.with_name(f".{home.root.name}.restore")


@dataclass
class Journal:
    """What a restore changes, written (0600, synced) before it changes anything: the state folder and
    where its old self goes, and each configuration file with a copy of its bytes and mode. Rolling back
    needs nothing else, so it works in this process after a failure and in the next one after a kill."""

    folder: Path
    home: Path
    aside: Path
    home_existed: bool
    home_mode: int | None
    had_config: bool  # the state folder held a config/ folder of its own (the copies go there otherwise)
    files: list[dict[str, Any]]
    made: list[str]

    @classmethod
    def begin(cls, home: AirdeckHome, targets: list[Path]) -> Journal:
        folder = _journal_folder(home)
        folder.mkdir(mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = home.root.with_name(f"{home.root.name}.pre-restore-{stamp}")
        if aside.exists():
            shutil.rmtree(folder)
            raise RestoreError(f"{aside} exists already; move it away and run the restore again. Nothing was changed.")
        existed = home.root.exists()
        files: list[dict[str, Any]] = []
        made: list[str] = []
        for index, target in enumerate(targets):
            entry: dict[str, Any] = {"target": str(target), "copy": None, "mode": None}
            if target.exists():
                copy = folder / f"config-{index}"
                shutil.copyfile(target, copy)
                entry["copy"], entry["mode"] = str(copy), stat.S_IMODE(target.stat().st_mode)
            files.append(entry)
            missing = target.parent
            while not missing.exists():
                made.append(str(missing))
                missing = missing.parent
        journal = cls(folder, home.root, aside, existed and has_state(home),
                      stat.S_IMODE(home.root.stat().st_mode) if existed else None,
                      os.path.lexists(home.root / "config"), files, made)
        journal._save()
        return journal

    def _save(self) -> None:
        data = json.dumps({"home": str(self.home), "aside": str(self.aside), "home_existed": self.home_existed,
                           "home_mode": self.home_mode, "had_config": self.had_config, "files": self.files,
                           "made": self.made}).encode()
        tmp = self.folder / "journal.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.folder / "journal.json")
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @classmethod
    def load(cls, home: AirdeckHome) -> Journal | None:
        folder = _journal_folder(home)
        try:
            data = json.loads((folder / "journal.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            if folder.exists():  # killed before the journal was written: nothing had moved yet
                shutil.rmtree(folder, ignore_errors=True)
            return None
        return cls(folder, Path(data["home"]), Path(data["aside"]), bool(data["home_existed"]), data["home_mode"],
                   bool(data["had_config"]), list(data["files"]), list(data["made"]))

    def roll_back(self) -> None:
        """Put everything back as the journal found it (idempotent: a second run after a kill finishes it)."""
        if self.aside.exists():
            if self.home.exists():
                shutil.rmtree(self.home)
            if not self.had_config:
                shutil.rmtree(self.aside / "config", ignore_errors=True)
            self.aside.rename(self.home)
            if self.home_mode is not None:
                self.home.chmod(self.home_mode)
        elif not self.home_existed and self.home.exists():
            shutil.rmtree(self.home)
            if self.home_mode is not None:  # it was there, empty
                self.home.mkdir()
                self.home.chmod(self.home_mode)
        for entry in self.files:
            target = Path(entry["target"])
            if entry["copy"] is None:
                target.unlink(missing_ok=True)
                continue
            tmp = target.with_name(f".{target.name}.rollback")
            shutil.copyfile(entry["copy"], tmp)
            tmp.chmod(entry["mode"])
            os.replace(tmp, target)
        for made in self.made:
            with contextlib.suppress(OSError):
                Path(made).rmdir()  # only when empty: never a folder with someone's files
        shutil.rmtree(self.folder)

    def commit(self) -> None:
        shutil.rmtree(self.folder)


def recover_interrupted(home: AirdeckHome, say: Callable[[str], None]) -> bool:
    """Roll back a restore that was killed half-way (its journal is still there); True when one was."""
    journal = Journal.load(home)
    if journal is None:
        return False
    journal.roll_back()
    say(f"an earlier restore into {home.root} was interrupted; the state folder and configuration files were "
        "put back as they were before it")
    return True


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


def _move_aside(cfg: AirdeckConfig, home: AirdeckHome, journal: Journal, replacing: bool,
                external: bool, say: Callable[[str], None]) -> Path | None:
    """Stop the platform and rename the state folder to the journal's ``aside`` (one step), with copies of the
    configuration files it replaces and, for an external database, a dump of that database."""
    if not replacing and not external:
        return None
    aside = journal.aside
    if replacing:
        stack = Stack(cfg, home)
        if stack.supervisor.is_running():
            say("stopping the running platform")
            stack.down(quiet=True)
        else:
            stack.cleanup_stale(quiet=True)
    if external:
        # The external database is replaced: keep a dump of it (with the state folder's secrets). It is
        # not part of the all-or-nothing swap (a rollback leaves the dump where it is, named in the error).
        keep = home.root / "pre-restore" if replacing else aside.with_name(f"{aside.name}-database")
        store = SecretStore(home.secrets)
        db = Database.of(cfg, store)
        keep.mkdir(parents=True, exist_ok=True, mode=0o700)
        if db.answers() and db.schema_revision() is not None:
            tool = find_tool("pg_dump", db.server_major(), db)
            run_tool([str(tool), "--format=custom", "--file", str(keep / "database.dump"), *db.client_args(),
                      "--dbname", db.name], db, "pg_dump of the database being replaced")
            say(f"dumped the database being replaced to {keep / 'database.dump'}")
    if not replacing:
        return None
    home.root.rename(aside)
    aside.chmod(0o700)
    if not journal.had_config:  # the files it replaces, beside it, to undo the restore by hand later
        for entry in journal.files:
            if entry["copy"] is not None:
                (aside / "config").mkdir(exist_ok=True, mode=0o700)
                shutil.copy2(entry["copy"], aside / "config" / Path(entry["target"]).name)
    say(f"moved the current state folder aside to {aside}")
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
    """Write ``target`` in one step (temporary file + rename), keeping its mode (0600 for a new file)."""
    data = source.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o600
    tmp = target.with_name(f".{target.name}.restore")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.chmod(mode)
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
