"""`airdeck vault bootstrap|put-connection|put-variable`: set up Vault and write secrets Airflow reads."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from airdeck.cli.context import CliContext
from airdeck.cli.results import Note, Result
from airdeck.secrets import vault
from airdeck.state.secrets import SecretStore

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 41


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("vault", help="set up Vault for the platform and write secrets Airflow reads")
    actions = parser.add_subparsers(dest="vault_command", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="Vault address (default: secrets.vault.url, else the one bootstrap set up)")
    common.add_argument("--token-file", help="file holding an operator token (default: $VAULT_TOKEN)")
    boot = actions.add_parser("bootstrap", parents=[common],
                              help="KV v2 mount, least-privilege read policy, AppRole credentials (0600, state dir)")
    boot.add_argument("--platform-secrets", action="store_true",
                      help="also store the Fernet key, jwt_secret and secret_key in Vault (the current ones)")
    boot.set_defaults(handler=bootstrap)
    conn = actions.add_parser("put-connection", parents=[common], help="write a connection as Airflow reads it")
    conn.add_argument("conn_id")
    conn.add_argument("uri", help="connection URI, or - to read it from stdin (keeps the password out of `ps`)")
    conn.set_defaults(handler=put_connection)
    var = actions.add_parser("put-variable", parents=[common], help="write a variable as Airflow reads it")
    var.add_argument("key")
    var.add_argument("value", help="the value, or - to read it from stdin")
    var.set_defaults(handler=put_variable)


def _read_value(value: str, what: str) -> str:
    """``value`` itself, or standard input (one trailing newline dropped) when it is ``-``."""
    if value != "-":
        return value
    data = sys.stdin.read()
    data = data[:-1] if data.endswith("\n") else data
    if not data:
        raise vault.VaultError(f"{what}: nothing was given on stdin")
    return data


def bootstrap(ctx: CliContext) -> Result:
    args = ctx.args
    target = vault.Target.of(ctx.config(), args.url, ctx.home)
    token = vault.admin_token(args.token_file)
    done = vault.bootstrap(target, token, ctx.home, platform_secrets=args.platform_secrets,
                           local=SecretStore(ctx.home.secrets))
    notes = [
        Note(f"KV v2 mount {target.mount_point}/ " + ("created" if done.mount_created else "present"), "ok"),
        Note(f"policy {vault.POLICY_NAME}: read-only on {target.mount_point}/data/"
             f"{{{target.connections_path},{target.variables_path},{target.config_path}}}/*", "ok"),
        Note(f"AppRole {vault.APPROLE_NAME}" + (" (approle auth enabled)" if done.approle_enabled else ""), "ok"),
        Note(f"credentials written (0600): {done.role_id_file}, {done.secret_id_file} "
             "(a new secret_id at every bootstrap)", "ok"),
    ]
    if args.platform_secrets:
        stored = ", ".join(done.platform_secrets_written) or "none (already there)"
        notes.append(Note(f"platform keys stored under {target.mount_point}/{target.config_path}/: {stored}", "ok"))
    notes.append(Note("Next: set `secrets: {backend: vault, vault: {url: " + target.url + "}}` in airdeck.yaml"
                      + (" with platform_secrets: true" if args.platform_secrets else "") + ", then `airdeck up`. "
                      "`airdeck vault put-connection ID -` and `put-variable KEY -` write to this Vault "
                      f"(recorded in {vault.bootstrapped_url_file(ctx.home)}) until airdeck.yaml names one."))
    return Result.of(*notes)


def put_connection(ctx: CliContext) -> Result:
    args = ctx.args
    target = vault.Target.of(ctx.config(), args.url, ctx.home)
    uri = _read_value(args.uri, f"connection {args.conn_id}")
    vault.validate_key("connection id", args.conn_id)
    vault.validate_connection_uri(args.conn_id, uri)
    path = vault.put_connection(target, vault.admin_token(args.token_file), args.conn_id, uri)
    return Result.of(Note(f"wrote connection {args.conn_id} to {path} (key conn_uri)", "ok"))


def put_variable(ctx: CliContext) -> Result:
    args = ctx.args
    target = vault.Target.of(ctx.config(), args.url, ctx.home)
    vault.validate_key("variable", args.key)
    value = _read_value(args.value, f"variable {args.key}")
    path = vault.put_variable(target, vault.admin_token(args.token_file), args.key, value)
    return Result.of(Note(f"wrote variable {args.key} to {path} (key value)", "ok"))
