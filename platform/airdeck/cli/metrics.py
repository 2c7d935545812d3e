"""`airdeck metrics-bridge [BRIDGE OPTIONS]`: run the StatsD → Prometheus bridge in the foreground.

Without options it listens where airdeck.yaml says (``observability.statsd.port``,
``observability.bridge.metrics_port``) and reads the configured mapping; any option of
``airdeck.metrics.cli`` given on the command line wins (``airdeck metrics-bridge --help``).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    bridge = sub.add_parser(
        "metrics-bridge", prefix_chars="\0", add_help=False,
        help="run the StatsD → Prometheus metrics bridge in the foreground (`airdeck up` supervises it)")
    bridge.add_argument("args", nargs=argparse.REMAINDER)
    bridge.set_defaults(handler=_run)


def _run(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.metrics.cli import main as bridge_main

    argv = list(args.args)
    if any(a in ("-h", "--help") for a in argv):
        return bridge_main(argv)
    from airdeck.metrics.wiring import bridge_argv

    cfg = ctx.config()
    configured = bridge_argv(cfg)[3:]  # drop "python -m airdeck.metrics.cli"
    return bridge_main([*configured, *argv])
