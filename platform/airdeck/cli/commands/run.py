"""`airdeck run SERVICE`: the container entrypoint: one component, rendered, then exec'd."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airdeck.cli.context import CliContext
from airdeck.cli.results import Result
from airdeck.run.entrypoint import run_component

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 80


def register(sub: Subcommands) -> None:
    run = sub.add_parser("run", help="render one component's configuration from airdeck.yaml and mounted secrets, "
                                     "then exec it (container entrypoint)")
    run.add_argument("service", metavar="SERVICE",
                     help="the component, e.g. scheduler or api-server, or a job: migrate (airflow db migrate and "
                          "the admin account), wait-for-migrations (until the schema is current), canary (trigger "
                          "a bundled DAG through the REST API and wait for success)")
    run.add_argument("--target", choices=["local", "kubernetes"], default="local",
                     help="where it runs: addresses of the other components and where secrets come from "
                          "(default local)")
    run.add_argument("--release", help="Helm release name (kubernetes: components are <release>-<component>)")
    run.add_argument("--secrets-dir", type=Path, help="folder of mounted secret files, one per secret")
    run.add_argument("--probe", action="store_true",
                     help="check the component already running in this container (exit 0 when alive)")
    run.add_argument("--migration-wait", type=int, default=600, metavar="SECONDS",
                     help="wait-for-migrations: how long to wait for a current schema (default 600)")
    run.add_argument("--dag", default="example_fanout",
                     help="canary: the DAG to trigger (default example_fanout; empty: none)")
    run.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                     help="canary: how long the run may take (default 600)")
    run.add_argument("--database-pooler", metavar="HOST:PORT",
                     help="reach the metadata database through PgBouncer there (the mounted URL's user, password and "
                          "database name); not for the migrate job")
    run.add_argument("--sign-in-as", metavar="USER",
                     help="canary: first sign in as USER (password: canary_password in --secrets-dir) and check its "
                          "permissions (--allowed, --denied)")
    run.add_argument("--allowed", action="append", default=[], metavar="PERMISSION",
                     help="canary --sign-in-as: a permission the user must have, e.g. 'can_read on DAGs' (repeatable)")
    run.add_argument("--denied", action="append", default=[], metavar="PERMISSION",
                     help="canary --sign-in-as: a permission the user must not have, e.g. 'can_edit on Connections'")
    run.add_argument("--sync-roles", action="store_true",
                     help="migrate: then apply the roles file (airdeck rbac sync); fail, changing nothing, when it is "
                          "invalid or auth.ldap.roles_mapping names a role that does not exist")
    run.add_argument("--roles-file", type=Path, default=None, metavar="FILE",
                     help="migrate --sync-roles: the roles file (default: airdeck's packaged security/roles.yaml)")
    run.set_defaults(handler=run_service)


def run_service(ctx: CliContext) -> Result:
    """Replace this process with the component (streams; returns only when it cannot start)."""
    code = run_component(ctx.config(), ctx.home, ctx.args.service, target=ctx.args.target,
                         release=ctx.args.release, secrets_dir=ctx.args.secrets_dir, probe=ctx.args.probe,
                         migration_wait=ctx.args.migration_wait, dag=ctx.args.dag, timeout=ctx.args.timeout,
                         database_pooler=ctx.args.database_pooler,
                         sync_roles=ctx.args.sync_roles, roles_file=ctx.args.roles_file,
                         sign_in_as=ctx.args.sign_in_as, allowed=ctx.args.allowed, denied=ctx.args.denied)
    return Result(exit_code=code)
