"""`airdeck alerts test --channel slack|email|NAME` and `airdeck alerts list [--state STATE]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def register(sub: Any) -> None:
    alerts = sub.add_parser("alerts", help="failure and SLA alerts: send a test message, show the outbox")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    test = alerts_sub.add_parser("test", help="send a test message now to every channel of a type, or to one channel")
    test.add_argument("--channel", required=True, help="slack, email, or the name of a channel in alerts.channels")
    test.set_defaults(handler=_test)
    show = alerts_sub.add_parser("list", help="the most recent alerts in the outbox")
    show.add_argument("--state", choices=["queued", "sending", "sent", "dead", "digested", "suppressed"])
    show.add_argument("--channel", help="only this channel")
    show.add_argument("--limit", type=int, default=50)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_list)


def _channels(cfg: Any, wanted: str) -> list[str]:
    if wanted in cfg.alerts.channels:
        return [wanted]
    return [name for name, channel in cfg.alerts.channels.items() if channel.type == wanted]


def _test(args: argparse.Namespace, ctx: Any) -> int:
    cfg = ctx.config()
    names = _channels(cfg, args.channel)
    if not names:
        defined = ", ".join(f"{n} ({c.type})" for n, c in cfg.alerts.channels.items()) or "none"
        print(f"error: no alert channel matches {args.channel!r} (alerts.channels: {defined})", file=sys.stderr)
        return 2
    from airdeck.concerns import plan

    # Resolve connections like the dispatcher does (environment, secrets backend, metadata database).
    cli = plan(cfg, ctx.home).cli
    for key, value in (cli.env if cli else {}).items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")
    from airdeck.alerts.channels import DeliveryError, Sender
    from airdeck.alerts.messages import render_test

    failed = 0
    timeout = cfg.alerts.delivery.timeout.total_seconds()
    for name in names:
        channel = cfg.alerts.channels[name]
        try:
            public_url = plan(cfg, ctx.home).component("api-server").url or ""
            Sender(name, channel, timeout).send(render_test(name, public_url))
        except DeliveryError as exc:
            failed += 1
            ctx.console.print(f"[red]✗[/] {name} ({channel.type}, connection {channel.connection}): {exc}")
            continue
        ctx.console.print(f"[green]✓[/] sent a test message to {name} "
                          f"({channel.type}, connection {channel.connection})")
    return 1 if failed else 0


def _list(args: argparse.Namespace, ctx: Any) -> int:
    cfg = ctx.config()
    from sqlalchemy.exc import OperationalError

    from airdeck.alerts.store import Outbox
    from airdeck.concerns import local_store, resolver
    from airdeck.plan.secrets import mask_url
    from airdeck.stack.errors import StackError

    url = resolver(cfg, ctx.home, local_store(cfg, ctx.home), generate=False)("database_url")
    try:
        outbox = Outbox.connect(url)
        try:
            rows = outbox.rows(args.state, args.limit, args.channel)
            counts = outbox.counts()
        finally:
            outbox.dispose()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise StackError(f"cannot read the alert outbox in the metadata database {mask_url(url)}: {reason}; "
                         "is the platform running (`airdeck status`)?") from None
    records: list[dict[str, Any]] = [
        {"id": r.id, "state": r.state, "channel": r.channel, "event": r.event, "dag_id": r.dag_id,
                "run_id": r.run_id, "task_id": r.task_id, "try_number": r.try_number, "attempts": r.attempts,
                "occurred_at": r.occurred_at.isoformat(), "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                "last_error": r.last_error, "key": r.idem_key} for r in rows]
    if args.json:
        print(json.dumps({"counts": counts, "alerts": records}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="alert outbox (newest first) — " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    for column in ("id", "state", "channel", "event", "dag / task", "run", "try", "attempts", "occurred", "error"):
        table.add_column(column)
    for r in records:
        where = f"{r['dag_id'] or ''}{'.' + r['task_id'] if r['task_id'] else ''}"
        table.add_row(str(r["id"]), r["state"], r["channel"], r["event"], where, r["run_id"] or "",
                      str(r["try_number"] or ""), str(r["attempts"]), r["occurred_at"][:19],
                      (r["last_error"] or "")[:60])
    Console().print(table)
    return 0
