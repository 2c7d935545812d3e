"""How the CLI shows results: tables for people, JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from airdeck.stack.orchestrator import ServiceStatus


def status_table(statuses: Sequence[ServiceStatus]) -> Table:
    table = Table(title="airdeck services", title_justify="left")
    for column in ("service", "state", "health", "pid", "restarts", "url"):
        table.add_column(column, no_wrap=True, overflow="fold")
    for st in statuses:
        health = "[green]healthy[/]" if st.healthy else "[red]unhealthy[/]"
        table.add_row(st.name, st.state, health, str(st.pid or "-"), str(st.restarts), st.url or "-")
    return table


def print_status(console: Console, statuses: Sequence[ServiceStatus], as_json: bool) -> None:
    if not console.is_terminal:
        console = Console(width=140)
    if as_json:
        print(json.dumps({"services": [s.as_dict() for s in statuses]}, indent=2))
    else:
        console.print(status_table(statuses))
        for st in statuses:
            if not st.healthy:
                console.print(f"[red]{st.name}[/]: {st.health}")
