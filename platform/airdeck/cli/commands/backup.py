"""`airdeck backup|restore|upgrade`: take an encrypted backup, bring a platform back, move to a new Airflow.

The passphrase is never an argument: ``$AIRDECK_BACKUP_PASSPHRASE``, ``--passphrase-file FILE``,
``--key-file FILE``, ``backup.passphrase_file``/``backup.key_file`` in airdeck.yaml, or a prompt.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from airdeck.cli import output
from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Column, Document, Note, Result, Table
from airdeck.config.errors import ConfigError
from airdeck.config.loader import config_path
from airdeck.config.model import AirdeckConfig
from airdeck.ops import archive, backup, restore, upgrade
from airdeck.terminal import inert

if TYPE_CHECKING:
    import argparse

    from airdeck.cli.context import Subcommands

ORDER = 40


def _lock_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--passphrase-file", type=Path, metavar="FILE",
                        help=f"0600 file holding the passphrase (default: ${backup.PASSPHRASE_ENV}, "
                             "backup.passphrase_file, or a prompt)")
    parser.add_argument("--key-file", type=Path, metavar="FILE",
                        help="0600 file of at least 32 random bytes, instead of a passphrase")


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("backup", help="an encrypted archive of the database, its secrets and the configuration")
    parser.add_argument("--to", type=Path, metavar="FILE",
                        help="file (or folder) to write (default: backup.folder, else $AIRDECK_HOME/backups)")
    parser.add_argument("--list", action="store_true", help="list the archives in backup.folder (or --to)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    _lock_options(parser)
    parser.set_defaults(handler=take_backup)

    parser = sub.add_parser("restore", help="restore a backup archive into this state folder (verified first)")
    parser.add_argument("archive", type=Path, metavar="FILE")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="replace an existing state folder or external database without asking")
    parser.add_argument("--keep-config", action="store_true",
                        help="keep the airdeck.yaml in use instead of writing the archive's")
    _lock_options(parser)
    parser.set_defaults(handler=restore_backup)

    parser = sub.add_parser("upgrade", help="move the platform to this airdeck's Airflow: backup, DAG check, "
                                            "migrate once, restart in order, health and canary")
    parser.add_argument("--backup-to", type=Path, metavar="FILE", help="where the backup goes (default: backup.folder)")
    parser.add_argument("--force", action="store_true", help="go on despite DAG check findings")
    parser.add_argument("--canary-dag", default="example_fanout", metavar="DAG_ID",
                        help="DAG triggered after the upgrade (default example_fanout; 'none' to skip)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    _lock_options(parser)
    parser.set_defaults(handler=run_upgrade)


def take_backup(ctx: CliContext) -> Result:
    cfg = ctx.config()
    if ctx.args.list:
        where = ctx.args.to.absolute() if ctx.args.to else backup.folder(cfg, ctx.home)
        records = []
        for item in backup.listing(where):
            header = item.header or {}
            # Unauthenticated header fields and file names: shown inert (control characters escaped).
            records.append({"file": backup.inert(item.path.name), "bytes": item.size,
                            "created_at": backup.inert(header.get("created_at")),
                            "airflow": backup.inert(header.get("airflow_version")),
                            "schema": backup.inert(header.get("schema_revision")),
                            "kind": "scheduled" if header.get("scheduled") is True else ("manual" if header else None),
                            "problem": backup.inert(item.problem, 400)})
        columns = tuple(Column.of_key(h, k) for h, k in (("FILE", "file"), ("SIZE", "bytes"),
                        ("CREATED", "created_at"), ("AIRFLOW", "airflow"), ("SCHEMA", "schema"), ("KIND", "kind"),
                        ("PROBLEM", "problem")))
        table = Table(f"backups in {where}", "backups", columns, tuple(records), extra={"folder": str(where)},
                      footnotes=(("note", "headers are authenticated only when restored (with the passphrase)"),))
        return Result.of(table, as_json=ctx.args.json)
    secret = backup.lock(cfg, ctx.args.passphrase_file, ctx.args.key_file, confirm=True)
    done = backup.create(cfg, ctx.home, secret, to=ctx.args.to, say=ctx.say)
    facts = {"file": str(done.path), "bytes": done.size, "seconds": round(done.seconds, 1),
             "airflow_version": done.manifest["airflow_version"], "schema_revision": done.manifest["schema_revision"],
             "members": sorted(done.manifest["files"])}
    if ctx.args.json:
        return Result.of(Document(facts))
    return Result.of(Note(f"wrote {done.path} ({done.size / 1e6:.1f} MB in {done.seconds:.1f}s; Airflow "
                          f"{facts['airflow_version']}, schema {facts['schema_revision']}; mode 0600)", "ok"),
                     Note("keep the passphrase (or key file) apart from the archive: without it nothing can be read"))


def _confirm(ctx: CliContext) -> Callable[[str], bool]:
    def ask(question: str) -> bool:
        if ctx.args.yes:
            return True
        if not sys.stdin.isatty():
            raise CommandError(f"{question}\nNo terminal to confirm on: run again with --yes. Nothing was changed.",
                               exit_code=2)
        # The question quotes the archive's header (its creation time, versions): shown inert.
        return input(f"{inert(question)} [y/N] ").strip().lower() in ("y", "yes")

    return ask


def restore_backup(ctx: CliContext) -> Result:
    if not ctx.args.archive.is_file():
        raise CommandError(f"{ctx.args.archive} is not a file; nothing was changed", exit_code=2)
    # airdeck.yaml may not exist yet (a new machine): the lock then comes from flags or the environment.
    where = config_path(ctx.args.config)
    try:
        cfg = ctx.config()
    except ConfigError:
        if ctx.args.keep_config:
            raise
        cfg = AirdeckConfig()  # a missing or broken airdeck.yaml is replaced by the archive's
    secret = backup.lock(cfg, ctx.args.passphrase_file, ctx.args.key_file)
    warning = archive.python_warning()
    if warning:
        output.show(Note(warning, "warn"), ctx.console)
    done = restore.restore(ctx.args.archive.absolute(), secret, ctx.home, where.absolute() if where else None,
                           keep_config=ctx.args.keep_config, confirm=_confirm(ctx), say=ctx.say)
    notes = [Note(f"restored {ctx.args.archive} into {ctx.home.root} in {done.seconds:.1f}s", "ok")]
    if done.moved_aside is not None:
        notes.append(Note(f"the state it replaced is in {done.moved_aside}"))
    notes += [Note(text) for text in done.notes]
    return Result.of(*notes)


def run_upgrade(ctx: CliContext) -> Result:
    cfg = ctx.config()
    secret = backup.lock(cfg, ctx.args.passphrase_file, ctx.args.key_file)
    canary = None if ctx.args.canary_dag == "none" else ctx.args.canary_dag
    done = upgrade.upgrade(cfg, ctx.stack(), secret, backup_to=ctx.args.backup_to, force=ctx.args.force,
                           canary_dag=canary, say=ctx.say)
    ok = not done.unhealthy and done.canary in ("success", "skipped")
    if ctx.args.json:
        return Result.of(Document(done.as_dict()), exit_code=0 if ok else 1)
    blocks = [Note(f"upgraded Airflow {done.from_version} → {done.to_version}" if ok else
                   f"the upgrade to Airflow {done.to_version} is not healthy "
                   f"(unhealthy: {', '.join(done.unhealthy) or '-'}, canary: {done.canary})", "ok" if ok else "fail"),
              Note("to roll back: " + " ; ".join(done.rollback))]
    return Result.of(*blocks, exit_code=0 if ok else 1)
