"""`airdeck import airflow2`: move an Airflow 2.7–2.11 metadata database (PostgreSQL) onto this platform:
history, users and roles, connections and variables (re-encrypted with airdeck's Fernet key)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airdeck.auth.roles import DEFAULT_FILE as DEFAULT_ROLES_FILE
from airdeck.cli.context import CliContext
from airdeck.cli.results import Document, Note, Result, Text
from airdeck.config.masking import url_password
from airdeck.ops.airflow2 import ImportResult, import_airflow2

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 47


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("import", help="move an existing deployment onto airdeck (airflow2)")
    kinds = parser.add_subparsers(dest="import_kind", required=True, metavar="ACTION")
    af2 = kinds.add_parser(
        "airflow2", help="import an Airflow 2.7-2.11 metadata database (PostgreSQL)",
        description="Copy an Airflow 2.7-2.11 metadata database (PostgreSQL) into airdeck's database, upgrade it "
                    "with Airflow 3.3's migrations, re-encrypt connections and variables with airdeck's Fernet "
                    "key and apply security/roles.yaml. The platform must be stopped. Give the source password "
                    "through PGPASSWORD or ~/.pgpass rather than in the URL (a command line is visible to "
                    "every user of the machine).")
    af2.add_argument("--database-url", required=True, metavar="URL",
                     help="the Airflow 2 database, postgresql://USER@HOST:PORT/DATABASE (read only)")
    af2.add_argument("--fernet-key-file", required=True, type=Path, metavar="FILE",
                     help="a file holding the source's [core] fernet_key (every key of its list, comma-separated)")
    af2.add_argument("--dry-run", action="store_true",
                     help="report what would be imported and what would not carry over; change nothing")
    af2.add_argument("--replace", action="store_true",
                     help="replace airdeck's database when it is not empty (saved first with pg_dump into the "
                          "state folder's backups/)")
    af2.add_argument("--roles-file", type=Path, default=DEFAULT_ROLES_FILE,
                     help=f"roles as code applied after the import (default {DEFAULT_ROLES_FILE})")
    af2.add_argument("--json", action="store_true", help="print JSON")
    af2.set_defaults(handler=import_airflow2_command)


def _password_in(url: str) -> bool:
    return bool(url_password(url))


def report_lines(result: ImportResult) -> list[str]:
    plan = result.plan
    lines = [f"source: {plan.source} (Airflow {plan.airflow_version} schema, revision {plan.revision})",
             f"target: {plan.target}" + (f" ({plan.target_tables} tables)" if plan.target_tables else " (empty)"),
             "carried over:"]
    names = {"connection": "connections", "variable": "variables", "ab_user": "users", "ab_role": "roles",
             "dag": "DAGs", "dag_run": "DAG runs", "task_instance": "task instances",
             "task_instance_history": "earlier task tries", "xcom": "XComs", "log": "audit log entries",
             "trigger": "triggers", "slot_pool": "pools"}
    for table, rows in plan.counts.items():
        lines.append(f"  {names.get(table, table)}: {rows}")
    if plan.encrypted:
        lines.append("  encrypted values re-encrypted with airdeck's key: " +
                     ", ".join(f"{table} {n}" for table, n in sorted(plan.encrypted.items())))
    lines.append("roles:")
    outcome = {"built-in": "built in, managed by Airflow", "roles.yaml": "mapped to roles.yaml (its permissions)",
               "kept": "kept with its Airflow 2 permissions (not in roles.yaml)"}
    for role in plan.roles:
        lines.append(f"  {role.role} ({role.users} users): {outcome[role.outcome]}")
    lines.append("not carried over:" if plan.not_carried else "not carried over: nothing")
    for item in plan.not_carried:
        lines.append(f"  {item.what}: {item.rows} rows - {item.why}")
    lines.append("  DAG files are not in the database: put them in airdeck's DAG folder and check them with "
                 "`airdeck check-dags FOLDER`")
    lines.append("steps:" if result.dry_run else "done:")
    lines += [f"  {n}. {step}" for n, step in enumerate(plan.steps, start=1)]
    if result.seconds:
        lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    return lines


def import_airflow2_command(ctx: CliContext) -> Result:
    args = ctx.args
    notes: list[Note] = []
    if _password_in(args.database_url):
        notes.append(Note("the password in --database-url is visible in the process list while this runs; "
                          "prefer PGPASSWORD or ~/.pgpass", "warn"))
    result = import_airflow2(ctx.stack(), args.database_url, args.fernet_key_file, dry_run=args.dry_run,
                             replace=args.replace, roles_file=args.roles_file)
    notes += [Note(w, "warn") for w in result.plan.warnings]
    if args.json:
        return Result.of(*notes, Document(result.as_dict()))
    if result.dry_run:
        notes.append(Note("dry run: nothing was changed", "ok"))
    else:
        notes.append(Note(f"imported the Airflow {result.plan.airflow_version} database into airdeck "
                          f"({sum(result.seconds.values()):.0f}s); start the platform with `airdeck up`", "ok"))
        if result.backup:
            notes.append(Note(f"airdeck's previous database is saved in {result.backup}", "plain"))
    return Result.of(Text.lines(report_lines(result)), *notes)
