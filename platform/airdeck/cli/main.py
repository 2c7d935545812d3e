"""Entry point of the `airdeck` command."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence

from rich.console import Console

from airdeck import __version__
from airdeck.config import ConfigError, load_config
from airdeck.errors import AirdeckError
from airdeck.plan.build import component_names
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretFileError

console = Console(stderr=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airdeck", description="Run Apache Airflow 3 as a platform.")
    parser.add_argument("--version", action="version", version=f"airdeck {__version__}")
    parser.add_argument("--config", "-c", help="airdeck.yaml to use (default: $AIRDECK_CONFIG, else ./airdeck.yaml "
                                               "if present, else the embedded defaults)")
    parser.add_argument("--home", help="state folder (default: $AIRDECK_HOME, else ./.airdeck)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start the platform and wait until every service is healthy")
    up.add_argument("--detach", "-d", action="store_true", help="return once healthy, leave it running")
    up.add_argument("--with-prometheus", action="store_true",
                    help="also start Prometheus (scraping the metrics bridge, with airdeck's rules)")

    sub.add_parser("down", help="stop every service gracefully (then forcefully after the stop timeout)")

    status = sub.add_parser("status", help="state, health, pid and URL of every service")
    status.add_argument("--json", action="store_true", help="print JSON")

    logs = sub.add_parser("logs", help="show the log of one service")
    logs.add_argument("service")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--lines", "-n", type=int, default=100, help="lines to show first (default 100)")

    creds = sub.add_parser("credentials", help="the admin account and its generated password")
    creds.add_argument("--json", action="store_true", help="print JSON")

    config = sub.add_parser("config", help="validate or render airdeck.yaml")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_sub.add_parser("validate", help="check airdeck.yaml; exit 2 with the problems if it is invalid")
    render = config_sub.add_parser("render", help="the effective Airflow settings of one service (secrets masked)")
    render.add_argument("--service", required=True)

    for register in _extensions():
        register(sub)

    af = sub.add_parser("airflow", help="run an `airflow` CLI command against this platform",
                        prefix_chars="\0")
    af.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _extensions() -> list:  # type: ignore[type-arg]
    """Command groups of each concern. Each module's ``register(sub)`` adds sub-parsers whose
    ``handler(args, context)`` is called with the parsed arguments and a :class:`Context`."""
    from airdeck.cli import alerts as alerts_cli  # alerts test, alerts list
    from airdeck.cli import auth as auth_cli  # ldap check, rbac sync/export
    from airdeck.cli import metrics as metrics_cli  # metrics-bridge
    from airdeck.cli import secrets as secrets_cli  # fernet, vault, tls

    return [secrets_cli.register, alerts_cli.register, auth_cli.register, metrics_cli.register]


class Context:
    """What a command handler needs: the state folder, and the configuration loaded on demand."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.home = AirdeckHome.from_env(args.home)
        self.console = console

    def config(self):  # type: ignore[no-untyped-def]
        return load_config(self.args.config)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return ConfigError.exit_code
    except (AirdeckError, SecretFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except OSError as exc:
        # A state folder or file that cannot be created or read: name it and say what to do.
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot use{where}: {exc.strerror or exc}. Check that the path exists and is writable "
              "(state lives in $AIRDECK_HOME or --home, default ./.airdeck)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args, Context(args)))
    home = AirdeckHome.from_env(args.home)
    if args.command == "config":
        cfg = load_config(args.config)
        if args.config_command == "validate":
            print(f"ok: {args.config or 'configuration'} is valid "
                  f"({len(component_names(cfg))} Airflow services, database "
                  f"{'external' if cfg.database.url else 'embedded'}, broker "
                  f"{'external' if cfg.broker.url else 'embedded'})")
            return 0
        from airdeck.concerns import masked_config

        sys.stdout.write(masked_config(cfg, home, args.service))
        return 0

    from airdeck.stack.orchestrator import Stack

    cfg = load_config(args.config)
    stack = Stack(cfg, home, console)
    if args.command == "up":
        return _up(stack, detach=args.detach, with_prometheus=args.with_prometheus)
    if args.command == "down":
        stack.down()
        console.print("[green]✓[/] airdeck is stopped")
        return 0
    if args.command == "status":
        from airdeck.cli.output import print_status

        statuses = stack.status()
        print_status(Console(), statuses, args.json)
        return 0 if statuses and all(s.healthy for s in statuses) else 1
    if args.command == "logs":
        return _logs(stack, args.service, args.follow, args.lines)
    if args.command == "credentials":
        return _credentials(stack, args.json)
    if args.command == "airflow":
        os.execve(_airflow_bin(), ["airflow", *args.args], stack.cli_env())
    raise AssertionError(args.command)


def _airflow_bin() -> str:
    from airdeck.plan.build import airflow_bin

    return airflow_bin()


def _up(stack, detach: bool, with_prometheus: bool = False) -> int:  # type: ignore[no-untyped-def]
    from airdeck.cli.output import print_status

    statuses = stack.up(with_prometheus=with_prometheus)
    print_status(Console(), statuses, as_json=False)
    if not all(s.healthy for s in statuses):
        console.print("[yellow]some services are not healthy; see `airdeck status` and `airdeck logs SERVICE`[/]")
    console.print(f"Airflow UI: [bold]{stack.public_url()}[/]  (user {stack.cfg.admin.username}; "
                  "password: airdeck credentials)")
    if detach:
        console.print("running in the background; stop it with: airdeck down")
        return 0
    console.print("press Ctrl-C to stop")
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping:
        time.sleep(0.5)
        if not stack.supervisor.is_running() and not stopping:
            console.print("[red]supervisord is gone; cleaning up[/]")
            break
    console.print("stopping…")
    stack.down()
    console.print("[green]✓[/] airdeck is stopped")
    return 0


def _logs(stack, service: str, follow: bool, lines: int) -> int:  # type: ignore[no-untyped-def]
    from airdeck.stack.orchestrator import tail

    known = [*stack.component_names(), "supervisord"]
    if service not in known:
        print(f"error: unknown service {service!r}; services: {', '.join(known)}", file=sys.stderr)
        return 2
    path = stack.home.service_log(service)
    if not path.exists():
        print(f"error: {path} does not exist yet; has `airdeck up` run with AIRDECK_HOME={stack.home.root}?",
              file=sys.stderr)
        return 1
    print(tail(path, lines))
    if not follow:
        return 0
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        while True:
            chunk = handle.read()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                sys.stdout.flush()
            else:
                if path.exists() and path.stat().st_size < handle.tell():  # rotated
                    handle.close()
                    handle = open(path, "rb")  # noqa: SIM115
                time.sleep(0.5)


def _credentials(stack, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    if not stack.secrets.exists("admin_password"):
        print(f"error: no credentials in {stack.home.root} yet; run `airdeck up` first", file=sys.stderr)
        return 1
    data = {"url": stack.public_url(), "username": stack.cfg.admin.username,
            "password": stack.secrets.get("admin_password")}
    if as_json:
        print(json.dumps(data))
    else:
        print(f"url:      {data['url']}\nusername: {data['username']}\npassword: {data['password']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
