"""`airdeck restart [SERVICE…]`: restart running services with the configuration as it is now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airdeck.cli.commands.lifecycle import status_table
from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Note, Result

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 11


def register(sub: Subcommands) -> None:
    restart = sub.add_parser(
        "restart", help="restart services in dependency order, each health-gated (all when none is named)")
    restart.add_argument("services", nargs="*", metavar="SERVICE", help="e.g. scheduler worker-1")
    restart.set_defaults(handler=restart_services)


def restart_services(ctx: CliContext) -> Result:
    stack = ctx.stack()
    known = stack.component_names()
    unknown = [name for name in ctx.args.services if name not in known]
    if unknown:
        raise CommandError(f"unknown service {', '.join(map(repr, unknown))}; services: {', '.join(known)}",
                           exit_code=2)
    names = list(dict.fromkeys(ctx.args.services))
    stack.restart_services(names)
    statuses = stack.status()
    healthy = all(s.healthy for s in statuses)
    return Result.of(status_table(statuses),
                     Note(f"restarted {', '.join(names) if names else 'every running service'}", "ok"),
                     exit_code=0 if healthy else 1)
