"""`airdeck helm import-values`: carry a values file of the official Apache Airflow chart over to airdeck's
chart, and say what could not be carried and why (airdeck.ops.official_chart holds the mapping)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from airdeck.cli.context import CliContext
from airdeck.cli.results import Block, Note, Result, Text
from airdeck.ops.official_chart import ValuesImportError, convert, read

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 48


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (extraEnv, extraObjects, config texts) as readable block literals."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("helm", help="the Helm chart: import values written for the official Airflow chart")
    actions = parser.add_subparsers(dest="helm_command", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import-values", help="convert an official Airflow chart values file into airdeck chart values",
        description="Read a values file written for the official Apache Airflow chart and write values for "
                    "airdeck's chart (helm/airdeck): images, resources, scheduling, env, volumes, sidecars, "
                    "Secrets' names, ingress, KEDA, config: into airdeck.airflow.extra_config. Every key that "
                    "cannot be carried is listed with the reason (exit code 0).")
    imp.add_argument("official", type=Path, metavar="OFFICIAL.yaml", help="values of the official chart")
    imp.add_argument("-o", "--output", type=Path, metavar="FILE",
                     help="write the airdeck values here (mode 0600; default: standard output)")
    imp.set_defaults(handler=import_values)


def import_values(ctx: CliContext) -> Result:
    source: Path = ctx.args.official
    result = convert(read(source), str(source))
    text = ("# airdeck chart values converted from " + source.name + " by `airdeck helm import-values`\n"
            + yaml.dump(result.values, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True))
    blocks: list[Block] = []
    output: Path | None = ctx.args.output
    if output is None:
        blocks.append(Text(text.rstrip("\n")))
    else:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise ValuesImportError(f"{output}: cannot write it ({exc.strerror})") from None
        blocks.append(Note(f"wrote {output}", "ok"))
    if result.skipped:
        lines = [f"not carried ({len(result.skipped)}):"]
        lines += [f"  {key}: {why}" for key, why in result.skipped]
        blocks.append(Text.lines(lines, err=True))
    return Result.of(*blocks)
