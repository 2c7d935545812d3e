"""`airdeck alerts test|list`: send a test message now, show the outbox of failure and SLA alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airdeck.alerts.store import STATES, Row, read_outbox
from airdeck.alerts.testsend import matching_channels, send_test
from airdeck.cli import remote
from airdeck.cli.context import CliContext
from airdeck.cli.results import Column, Note, Record, Result, Table

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 50

#: The Airflow process context the dispatcher runs in: connections may come from the metadata database.
SERVER_CONTEXT = {"_AIRFLOW_PROCESS_CONTEXT": "server"}


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("alerts", help="failure and SLA alerts: send a test message, show the outbox")
    actions = parser.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    test = actions.add_parser("test", help="send a test message now to every channel of a type, or to one channel")
    test.add_argument("--channel", required=True, help="slack, email, or the name of a channel in alerts.channels")
    test.set_defaults(handler=alerts_test, kube_handler=remote.in_alert_dispatcher)
    show = actions.add_parser("list", help="the most recent alerts in the outbox")
    show.add_argument("--state", choices=list(STATES))
    show.add_argument("--channel", help="only this channel")
    show.add_argument("--limit", type=int, default=50)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=alerts_list)


def alerts_test(ctx: CliContext) -> Result:
    """Exit 1 when a message could not be delivered to some channel."""
    cfg = ctx.config()
    names = matching_channels(cfg, ctx.args.channel)
    stack = ctx.platform()
    outcomes = send_test(cfg, names, {**stack.cli_env(), **SERVER_CONTEXT}, stack.public_url())
    notes = []
    for o in outcomes:
        where = f"{o.channel} ({o.type}, connection {o.connection})"
        notes.append(Note(f"{where}: {o.error}", "fail") if o.error is not None
                     else Note(f"sent a test message to {where}", "ok"))
    return Result.of(*notes, exit_code=1 if any(o.error is not None for o in outcomes) else 0)


def record(row: Row) -> dict[str, Any]:
    """One outbox row as ``alerts list --json`` gives it."""
    return {"id": row.id, "state": row.state, "channel": row.channel, "event": row.event, "dag_id": row.dag_id,
            "run_id": row.run_id, "task_id": row.task_id, "try_number": row.try_number, "attempts": row.attempts,
            "occurred_at": row.occurred_at.isoformat(), "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "last_error": row.last_error, "key": row.idem_key}


def _where(r: Record) -> str:
    return f"{r['dag_id'] or ''}{'.' + r['task_id'] if r['task_id'] else ''}"


OUTBOX_COLUMNS = (
    Column.of_key("id"),
    Column.of_key("state"),
    Column.of_key("channel"),
    Column.of_key("event"),
    Column("dag / task", _where),
    Column.of_key("run", "run_id", empty=""),
    Column.of_key("try", "try_number", empty=""),
    Column.of_key("attempts"),
    Column.of_key("occurred", "occurred_at", limit=19),
    Column.of_key("error", "last_error", empty="", limit=60),
)


def outbox_table(rows: list[Row], counts: dict[str, int]) -> Table:
    title = "alert outbox (newest first) — " + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    return Table(title, "alerts", OUTBOX_COLUMNS, tuple(record(r) for r in rows), extra={"counts": counts})


def alerts_list(ctx: CliContext) -> Result:
    args = ctx.args
    listing = read_outbox(ctx.stack().secret("database_url"), state=args.state, limit=args.limit,
                          channel=args.channel)
    return Result.of(outbox_table(listing.rows, listing.counts), as_json=args.json)
