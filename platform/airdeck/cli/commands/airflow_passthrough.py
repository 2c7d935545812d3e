"""`airdeck airflow ARGS…`: any `airflow` CLI command, run against this platform (this process is replaced)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from airdeck.cli.context import CliContext
from airdeck.cli.results import Result
from airdeck.plan.build import airflow_bin

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 90


def register(sub: Subcommands) -> None:
    airflow = sub.add_parser("airflow", help="run an `airflow` CLI command against this platform", prefix_chars="\0")
    airflow.add_argument("args", nargs=argparse.REMAINDER)
    airflow.set_defaults(handler=run_airflow)


def run_airflow(ctx: CliContext) -> Result:
    """Replace this process with ``airflow ARGS…`` in the platform's CLI environment (streams; never returns)."""
    os.execve(airflow_bin(), ["airflow", *ctx.args.args], ctx.stack().cli_env())
