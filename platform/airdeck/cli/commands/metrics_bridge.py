"""`airdeck metrics-bridge [BRIDGE OPTIONS]`: run the StatsD → Prometheus bridge in the foreground.

Without options it listens where airdeck.yaml says (``observability.statsd.port``,
``observability.bridge.metrics_port``) and reads the configured mapping; any option of
``airdeck.metrics.cli`` given on the command line wins (``airdeck metrics-bridge --help``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from airdeck.cli.context import CliContext
from airdeck.cli.results import Result
from airdeck.metrics.cli import main as bridge_main
from airdeck.metrics.wiring import bridge_argv

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 60

#: ``bridge_argv`` starts with the interpreter and its module (``python -m airdeck.metrics.cli``).
_LAUNCHER = 3


def register(sub: Subcommands) -> None:
    bridge = sub.add_parser(
        "metrics-bridge", prefix_chars="\0", add_help=False,
        help="run the StatsD → Prometheus metrics bridge in the foreground (`airdeck up` supervises it)")
    bridge.add_argument("args", nargs=argparse.REMAINDER)
    bridge.set_defaults(handler=run_bridge)


def run_bridge(ctx: CliContext) -> Result:
    """Run until stopped (streams its own log); the bridge's exit code is the command's."""
    argv = list(ctx.args.args)
    if any(a in ("-h", "--help") for a in argv):
        return Result(exit_code=bridge_main(argv))
    return Result(exit_code=bridge_main([*bridge_argv(ctx.config())[_LAUNCHER:], *argv]))
