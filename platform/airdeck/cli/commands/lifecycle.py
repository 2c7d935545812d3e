"""`airdeck up|down|status|logs|credentials`: run the local platform and look at it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text as RichText

from airdeck.cli import remote
from airdeck.cli.commands.dags import import_error_notes
from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Column, Document, Note, Result, Table, Text
from airdeck.dags.status import gather
from airdeck.metrics.grafana import ADMIN_USER as GRAFANA_USER
from airdeck.metrics.grafana import PASSWORD_SECRET as GRAFANA_PASSWORD
from airdeck.stack.orchestrator import ServiceStatus, Stack, tail
from airdeck.tasklogs.reader import read_task_log
from airdeck.terminal import inert

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 10

#: Seconds between checks, while `airdeck up` waits in the foreground or `logs -f` follows a file.
POLL_SECONDS = 0.5


def register(sub: Subcommands) -> None:
    up = sub.add_parser("up", help="start the platform and wait until every service is healthy")
    up.add_argument("--detach", "-d", action="store_true", help="return once healthy, leave it running")
    up.add_argument("--with-prometheus", action="store_true",
                    help="also start Prometheus (scraping the metrics bridge, with airdeck's rules)")
    up.add_argument("--with-grafana", action="store_true",
                    help="also start Grafana, found on this machine, with Prometheus as its datasource and the "
                         "dashboards in an airdeck folder (implies --with-prometheus)")
    up.add_argument("--dry-run", action="store_true",
                    help="print what would be started, restarted or stopped, and change nothing")
    up.add_argument("--json", action="store_true", help="with --dry-run: print JSON")
    up.set_defaults(handler=up_platform)

    down = sub.add_parser("down", help="stop every service gracefully (then forcefully after the stop timeout)")
    down.set_defaults(handler=down_platform)

    status = sub.add_parser("status", help="state, health, pid and URL of every service")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=show_status, kube_handler=show_release_status)

    logs = sub.add_parser("logs", help="show the log of one service, or of a task (--task DAG_ID TASK_ID)")
    logs.add_argument("service", nargs="?", help="a service of `airdeck status`")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines (services)")
    logs.add_argument("--lines", "-n", type=int, default=100, help="lines to show first (default 100)")
    logs.add_argument("--task", nargs=2, metavar=("DAG_ID", "TASK_ID"),
                      help="a task's log, read through the api-server wherever it is (worker, object storage)")
    logs.add_argument("--run", metavar="RUN_ID", help="with --task: the run (default: the DAG's latest)")
    logs.add_argument("--try", dest="try_number", type=int, metavar="N",
                      help="with --task: the try (default: the latest)")
    logs.add_argument("--map-index", type=int, default=-1, metavar="N", help="with --task: a mapped task's index")
    logs.set_defaults(handler=show_logs)

    creds = sub.add_parser("credentials", help="the admin account and its generated password")
    creds.add_argument("--json", action="store_true", help="print JSON")
    creds.add_argument("--reset-account", action="store_true",
                       help="give the admin account the stored password (after the stored one was replaced, e.g. "
                            "by terraform apply -replace): the account changes, not only the stored value")
    creds.set_defaults(handler=show_credentials, kube_handler=show_release_credentials)


STATUS_COLUMNS = (
    Column.of_key("service", "name"),
    Column.of_key("state"),
    Column.of_key("health", styles={"healthy": "green", "unhealthy": "red"}),
    Column.of_key("pid"),
    Column.of_key("restarts"),
    Column.of_key("url"),
)


def status_table(statuses: Sequence[ServiceStatus]) -> Table:
    """Every service as a row; for people, the cause of each unhealthy one under the table."""
    return Table("airdeck services", "services", STATUS_COLUMNS, tuple(s.as_dict() for s in statuses),
                 footnotes=tuple((s.name, s.health) for s in statuses if not s.healthy))


def show_status(ctx: CliContext) -> Result:
    stack = ctx.stack()
    statuses = stack.status()
    healthy = bool(statuses) and all(s.healthy for s in statuses)
    table = status_table(statuses)
    dag_notes = []
    if any(s.name == "dag-processor" and s.state == "RUNNING" for s in statuses):
        reports, _ = gather(stack.cfg, stack.secret("database_url"))  # failing bundles, import errors
        dag_notes = import_error_notes(reports)
        table = replace(table, extra={**table.extra, "dag_bundles": [r.as_dict() for r in reports]})
    root = [Note(f"the workers run as root (workers.run_as_root_reason: {stack.cfg.workers.run_as_root_reason}); "
                 "task code can read the state folder's secrets", "warn")] if stack.workers_as_root() else []
    return Result.of(table, *dag_notes, *root, exit_code=0 if healthy else 1, as_json=ctx.args.json)


CHANGE_COLUMNS = (
    Column.of_key("service"),
    Column.of_key("action", styles={"restart": "yellow", "start": "green", "stop": "red"}),
    Column("why", lambda row: "; ".join(row["why"])),
)


def dry_run(ctx: CliContext) -> Result:
    stack = ctx.stack()
    changes = stack.planned_changes(with_prometheus=ctx.args.with_prometheus, with_grafana=ctx.args.with_grafana)
    table = Table("what `airdeck up` would do", "changes", CHANGE_COLUMNS, tuple(c.as_dict() for c in changes))
    acting = [c for c in changes if c.action != "keep"]
    summary = (Note(f"{len(acting)} of {len(changes)} services would change; nothing was changed")
               if acting else Note("nothing would change; nothing was changed", "ok"))
    return Result.of(table, summary, as_json=ctx.args.json)


def up_platform(ctx: CliContext) -> Result:
    if ctx.args.dry_run:
        return dry_run(ctx)
    stack = ctx.stack()
    was_running = stack.supervisor.is_running()
    try:
        statuses = stack.up(with_prometheus=ctx.args.with_prometheus, with_grafana=ctx.args.with_grafana)
    except KeyboardInterrupt:
        # Ctrl-C while a foreground `up` is still starting: stop what it started, as Ctrl-C does later.
        if ctx.args.detach or was_running:
            raise
        ctx.show(Result.of(Note("interrupted while starting; stopping…", "warn")))
        stack.down()
        raise CommandError("interrupted: airdeck is stopped", exit_code=130) from None
    shown: list[Table | Note] = [status_table(statuses)]
    if not all(s.healthy for s in statuses):
        shown.append(Note("some services are not healthy; see `airdeck status` and `airdeck logs SERVICE`", "warn"))
    shown.append(Note(f"Airflow UI: {stack.public_url()}  (user {stack.cfg.admin.username}; "
                      "password: airdeck credentials)"))
    if stack.cfg.observability.grafana.enabled:
        shown.append(Note(f"Grafana: {stack.grafana_url()}  (user {GRAFANA_USER}; password: airdeck credentials)"))
    if ctx.args.detach:
        return Result.of(*shown, Note("running in the background; stop it with: airdeck down"))
    if was_running:  # started elsewhere: this command applied the configuration and leaves it running
        return Result.of(*shown, Note("the platform was already running and keeps running; stop it with: airdeck down"))
    ctx.show(Result.of(*shown, Note("press Ctrl-C to stop")))
    if _wait_for_stop_signal(stack):
        ctx.show(Result.of(Note("supervisord is gone; cleaning up", "bad")))
    ctx.show(Result.of(Note("stopping…")))
    stack.down()
    return Result.of(Note("airdeck is stopped", "ok"))


def _wait_for_stop_signal(stack: Stack) -> bool:
    """Wait for Ctrl-C or SIGTERM; True when supervisord died first."""
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping:
        time.sleep(POLL_SECONDS)
        if not stopping and not stack.supervisor.is_running():
            return True
    return False


def down_platform(ctx: CliContext) -> Result:
    ctx.stack().down()
    return Result.of(Note("airdeck is stopped", "ok"))


def show_logs(ctx: CliContext) -> Result:
    args = ctx.args
    if args.task:
        if args.service or args.follow:
            raise CommandError("give either SERVICE or --task DAG_ID TASK_ID (a task's log cannot be followed)",
                               exit_code=2)
        return show_task_log(ctx)
    if args.run or args.try_number is not None or args.map_index != -1:
        raise CommandError("--run, --try and --map-index go with --task DAG_ID TASK_ID", exit_code=2)
    if not args.service:
        raise CommandError("name a SERVICE (see airdeck status) or --task DAG_ID TASK_ID", exit_code=2)
    stack = ctx.stack()
    service = args.service
    known = [*stack.component_names(), "supervisord"]
    if service not in known:
        raise CommandError(f"unknown service {service!r}; services: {', '.join(known)}", exit_code=2)
    path = ctx.home.service_log(service)
    if not path.exists():
        raise CommandError(f"{path} does not exist yet; has `airdeck up` run with AIRDECK_HOME={ctx.home.root}?")
    first = Result.of(Text(tail(path, ctx.args.lines)))
    if not ctx.args.follow:
        return first
    ctx.show(first)
    _follow(path)
    return Result()


def show_task_log(ctx: CliContext) -> Result:
    """A task try's log through the api-server (which reads it from the worker or from object storage)."""
    stack = ctx.stack()
    if not stack.secrets.exists("admin_password"):
        raise CommandError(f"no platform in {ctx.home.root} yet; run `airdeck up` first")
    api = stack.deployment.component("api-server")
    probe = api.probe
    base_url = probe.url if probe is not None and probe.url else stack.public_url()
    verify: bool | str = probe.ca_file if probe is not None and probe.ca_file else True
    dag_id, task_id = ctx.args.task
    log = read_task_log(base_url, lambda: (stack.cfg.admin.username, stack.secrets.get("admin_password")),
                        dag_id, task_id, run_id=ctx.args.run, try_number=ctx.args.try_number,
                        map_index=ctx.args.map_index, verify=verify)
    # Ids are printed as literal, inert text: a run id may hold rich markup such as [/] or [red], or
    # control characters.
    ctx.console.print(RichText(inert(f"{log.dag_id} / {log.run_id} / {log.task_id}"
                                     f"{f' [{log.map_index}]' if log.map_index >= 0 else ''}, try {log.try_number}",
                                     multiline=False), style="dim"))
    return Result.of(Text.lines(log.lines()))


def _follow(path: Path) -> None:
    """Print what is appended to ``path`` until interrupted, reopening it when it is rotated."""
    handle = open(path, "rb")  # noqa: SIM115 (reopened on rotation)
    try:
        handle.seek(0, os.SEEK_END)
        while True:
            chunk = handle.read()
            if chunk:
                sys.stdout.write(inert(chunk.decode("utf-8", errors="replace")))
                sys.stdout.flush()
                continue
            if path.exists() and path.stat().st_size < handle.tell():
                handle.close()
                handle = open(path, "rb")  # noqa: SIM115
            time.sleep(POLL_SECONDS)
    finally:
        handle.close()


def show_release_status(ctx: CliContext) -> Result:
    """`--target kubernetes`: every pod of the release as a row, exit 1 unless all are healthy."""
    records, _where = remote.release_statuses(ctx)
    healthy = bool(records) and all(r["health"] == "healthy" for r in records)
    table = Table("airdeck services", "services", STATUS_COLUMNS, tuple(records),
                  footnotes=tuple((r["pod"], r["detail"]) for r in records if r["health"] != "healthy"))
    return Result.of(table, exit_code=0 if healthy else 1, as_json=ctx.args.json)


def show_release_credentials(ctx: CliContext) -> Result:
    if ctx.args.reset_account:
        return remote.reset_release_account(ctx)
    return _credentials(ctx, remote.release_credentials(ctx))


def show_credentials(ctx: CliContext) -> Result:
    if ctx.args.reset_account:
        return reset_account(ctx)
    stack = ctx.stack()
    if not stack.secrets.exists("admin_password"):
        raise CommandError(f"no credentials in {ctx.home.root} yet; run `airdeck up` first")
    data: dict[str, Any] = {"url": stack.public_url(), "username": stack.cfg.admin.username,
                            "password": stack.secrets.get("admin_password")}
    if stack.cfg.observability.grafana.enabled and stack.secrets.exists(GRAFANA_PASSWORD):
        data["grafana"] = {"url": stack.grafana_url(), "username": GRAFANA_USER,
                           "password": stack.secrets.get(GRAFANA_PASSWORD)}
    return _credentials(ctx, data)


def reset_account(ctx: CliContext) -> Result:
    """The admin account's password becomes the stored one: the state folder's, or, inside a release's
    container (``--target kubernetes``), the one the laptop read from the release's Secret (standard input)."""
    platform = ctx.platform()
    if ctx.args.where == "in-pod":
        password = sys.stdin.readline().strip()
    else:
        stack = ctx.stack()
        if not stack.secrets.exists("admin_password"):
            raise CommandError(f"no credentials in {ctx.home.root} yet; run `airdeck up` first")
        password = stack.secrets.get("admin_password")
    if not password:
        raise CommandError("no password given on standard input", exit_code=2)
    username = platform.cfg.admin.username
    done = subprocess.run([sys.executable, "-m", "airdeck.stack.admin_user", "--reset", username], input=password,
                          env=platform.cli_env(), capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CommandError(f"the password of the admin account {username} was not changed: {why}")
    return Result.of(Note(f"the admin account {username} now has the stored password", "ok"))


def _credentials(ctx: CliContext, data: dict[str, Any]) -> Result:
    if ctx.args.json:
        return Result.of(Document(data, indent=None))
    lines = [f"url:      {data['url']}", f"username: {data['username']}", f"password: {data['password']}"]
    if "grafana" in data:
        lines += ["", f"grafana url:      {data['grafana']['url']}",
                  f"grafana username: {data['grafana']['username']}",
                  f"grafana password: {data['grafana']['password']}"]
    return Result.of(Text.lines(lines))
