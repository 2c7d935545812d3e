"""Entry point of the ``airdeck`` command: build the parser, call the command's handler, show its
result, and turn every error for people into one ``error: …`` line and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from airdeck import __version__
from airdeck.cli import commands, output, remote
from airdeck.cli.context import CliContext, CommandError, Handler
from airdeck.config import ConfigError
from airdeck.config.masking import url_password
from airdeck.errors import AirdeckError
from airdeck.ops import restore
from airdeck.state.secrets import SecretFileError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airdeck", description="Run Apache Airflow 3 as a platform.")
    parser.add_argument("--version", action="version", version=f"airdeck {__version__}")
    parser.add_argument("--config", "-c", help="airdeck.yaml to use (default: $AIRDECK_CONFIG, else ./airdeck.yaml "
                                               "if present, else the embedded defaults)")
    parser.add_argument("--home", help="state folder (default: $AIRDECK_HOME, else ./.airdeck)")
    remote.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.register_all(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    console = Console(stderr=True)
    ctx: CliContext | None = None
    try:
        ctx = CliContext.of(args, console)
        restore.recover_interrupted(ctx.home, ctx.say)  # a restore killed half-way is rolled back first
        result = _handler(args)(ctx)
        ctx.show(result)
        return int(result.exit_code)
    except ConfigError as exc:
        output.error(exc.render(), _known_secrets(ctx))
        return ConfigError.exit_code
    except (AirdeckError, SecretFileError) as exc:
        output.error(str(exc), _known_secrets(ctx))
        return int(getattr(exc, "exit_code", 1))
    except OSError as exc:
        # A state folder or file that cannot be created or read: name it and say what to do.
        where = f" {exc.filename}" if exc.filename else ""
        output.error(f"cannot use{where}: {exc.strerror or exc}. Check that the path exists and is writable "
                     "(state lives in $AIRDECK_HOME or --home, default ./.airdeck)", _known_secrets(ctx))
        return 1
    except KeyboardInterrupt:
        return 130


def _handler(args: argparse.Namespace) -> Handler:
    """The command's handler for the chosen target."""
    if args.where != "kubernetes":
        return args.handler  # type: ignore[no-any-return]
    handler = getattr(args, "kube_handler", None)
    if handler is None:
        raise CommandError(f"`airdeck {' '.join(remote.command_argv(args.argv)[:2])}` acts on the local platform "
                           f"only; with --target kubernetes: {', '.join(remote.COMMANDS)}", exit_code=2)
    return handler  # type: ignore[no-any-return]


def _known_secrets(ctx: CliContext | None) -> list[str | None]:
    """Secrets of the loaded configuration that an error might quote (the URLs' passwords)."""
    cfg = ctx.loaded_config() if ctx is not None else None
    if cfg is None:
        return []
    urls = [cfg.database.url, cfg.broker.url]
    return [url_password(url.get_secret_value()) for url in urls if url is not None]


if __name__ == "__main__":
    sys.exit(main())
