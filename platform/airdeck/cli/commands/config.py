"""`airdeck config validate|render|schema`: check airdeck.yaml, show what it renders to, describe it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airdeck import concerns
from airdeck.cli.context import CliContext
from airdeck.cli.results import Document, Result, Text
from airdeck.config.schema import json_schema
from airdeck.plan.build import component_names

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 20


def register(sub: Subcommands) -> None:
    config = sub.add_parser("config", help="validate, render or describe airdeck.yaml")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    validate = config_sub.add_parser("validate", help="check airdeck.yaml; exit 2 with the problems if it is invalid")
    validate.set_defaults(handler=validate_config)
    render = config_sub.add_parser("render", help="the effective Airflow settings of one service (secrets masked)")
    render.add_argument("--service", required=True)
    render.set_defaults(handler=render_config)
    schema = config_sub.add_parser("schema", help="the JSON schema of airdeck.yaml (for editors, Helm values, "
                                                  "Terraform variables)")
    schema.set_defaults(handler=print_schema)


def validate_config(ctx: CliContext) -> Result:
    cfg = ctx.config()  # raises ConfigError (exit 2) with every problem
    where = ctx.args.config or "configuration"
    database = "external" if cfg.database.url else "embedded"
    broker = "external" if cfg.broker.url else "embedded"
    return Result.of(Text(f"ok: {where} is valid ({len(component_names(cfg))} Airflow services, "
                          f"database {database}, broker {broker})"))


def render_config(ctx: CliContext) -> Result:
    """The masked airflow.cfg of one component; an unknown one is an error naming the valid ones."""
    return Result.of(Text(concerns.masked_config(ctx.config(), ctx.home, ctx.args.service), end=""))


def print_schema(ctx: CliContext) -> Result:
    return Result.of(Document(json_schema()))
