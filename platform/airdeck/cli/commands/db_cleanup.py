"""`airdeck db-cleanup`: `airflow db clean` of rows older than N days (the chart's databaseCleanup CronJob)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Result
from airdeck.plan.build import airflow_bin
from airdeck.run.cleanup import clean_args, environment
from airdeck.run.entrypoint import read_mounted

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 82


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("db-cleanup",
                            help="purge metadata rows older than --retention-days with `airflow db clean`, holding "
                                 "only the mounted database URL (the chart's databaseCleanup CronJob)")
    parser.add_argument("--secrets-dir", type=Path, required=True,
                        help="folder of mounted secret files; database_url is read from it")
    parser.add_argument("--retention-days", type=int, required=True, help="keep this many days of rows")
    parser.add_argument("--tables", default="", help="comma-separated tables (default: every table Airflow cleans)")
    parser.add_argument("--archive", action="store_true",
                        help="keep purged rows in _airflow_deleted__* archive tables (default: --skip-archive)")
    parser.add_argument("--batch-size", type=int, help="rows deleted per transaction (default: Airflow's)")
    parser.add_argument("--home", type=Path, help="the job's Airflow home (default $AIRDECK_HOME/db-cleanup)")
    parser.set_defaults(handler=db_cleanup)


def db_cleanup(ctx: CliContext) -> Result:
    """Replace this process with `airflow db clean` (returns only when it cannot start)."""
    args = ctx.args
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    argv = [airflow_bin(), "db", "clean", *clean_args(args.retention_days, tables=tables,
                                                      skip_archive=not args.archive, batch_size=args.batch_size)]
    try:
        url = read_mounted(args.secrets_dir, "database_url")
    except KeyError:
        raise CommandError(f"no database_url in {args.secrets_dir}: mount the database Secret's URL "
                           "(secrets.databaseUrl) into the cleanup pod", exit_code=2) from None
    home = args.home or ctx.home.root / "db-cleanup"
    env = environment(url, home)
    print(f"airflow db clean {' '.join(argv[3:])}", flush=True)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        raise CommandError(f"cannot start {argv[0]}: {exc.strerror or exc}", exit_code=2) from None
    return Result(exit_code=1)  # not reached
