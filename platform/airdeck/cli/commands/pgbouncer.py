"""`airdeck pgbouncer-config`: PgBouncer's files from the mounted database URL (the chart's init container)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Note, Result
from airdeck.run.entrypoint import read_mounted
from airdeck.run.pooler import POOL_MODES, PoolerSettings, render, write

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 81


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("pgbouncer-config",
                            help="write pgbouncer.ini, userlist.txt and hba.conf (0600) from the mounted database URL "
                                 "(the chart's PgBouncer init container)")
    parser.add_argument("--secrets-dir", type=Path, required=True,
                        help="folder of mounted secret files; database_url is read from it")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files to (a memory volume)")
    parser.add_argument("--port", type=int, default=6432, help="PgBouncer's listen port (default 6432)")
    parser.add_argument("--max-client-conn", type=int, default=100, help="client connections at most (default 100)")
    parser.add_argument("--pool-size", type=int, default=10,
                        help="server connections per user and database (default 10)")
    parser.add_argument("--pool-mode", choices=POOL_MODES, default="transaction",
                        help="when a server connection returns to the pool (default transaction)")
    parser.set_defaults(handler=pgbouncer_config)


def pgbouncer_config(ctx: CliContext) -> Result:
    args = ctx.args
    for flag, value in (("--port", args.port), ("--max-client-conn", args.max_client_conn),
                        ("--pool-size", args.pool_size)):
        if value < 1:
            raise CommandError(f"{flag} must be at least 1, not {value}", exit_code=2)
    try:
        url = read_mounted(args.secrets_dir, "database_url")
    except KeyError:
        raise CommandError(f"no database_url in {args.secrets_dir}: mount the database Secret's URL "
                           "(secrets.databaseUrl) into the PgBouncer pod", exit_code=2) from None
    settings = PoolerSettings(args.port, args.max_client_conn, args.pool_size, args.pool_mode)
    write(args.out, render(url, settings, args.out))
    return Result.of(Note(f"PgBouncer configuration written to {args.out} (pool mode {args.pool_mode}, "
                          f"port {args.port})", "ok"))
