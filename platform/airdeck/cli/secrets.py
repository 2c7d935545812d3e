"""`airdeck fernet`, `airdeck vault` and `airdeck tls`: parse and call (platform/airdeck/secrets, tls)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    fernet = sub.add_parser("fernet", help="the Fernet key that encrypts connections, variables and triggers")
    fsub = fernet.add_subparsers(dest="fernet_command", required=True, metavar="ACTION")
    status = fsub.add_parser("status", help="encrypted values, which key decrypts them, any no key decrypts")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_fernet_status)
    rotate = fsub.add_parser("rotate", help="new key first, re-encrypt, verify, retire the old key (resumable)")
    rotate.add_argument("--vault-token-file", help="operator token file, when the key is held in Vault")
    rotate.set_defaults(handler=_fernet_rotate)

    vault = sub.add_parser("vault", help="set up Vault for the platform and write secrets Airflow reads")
    vsub = vault.add_subparsers(dest="vault_command", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="Vault address (default: secrets.vault.url)")
    common.add_argument("--token-file", help="file holding an operator token (default: $VAULT_TOKEN)")
    boot = vsub.add_parser("bootstrap", parents=[common],
                           help="KV v2 mount, least-privilege read policy, AppRole credentials (0600, state dir)")
    boot.add_argument("--platform-secrets", action="store_true",
                      help="also store the Fernet key, jwt_secret and secret_key in Vault (the current ones)")
    boot.set_defaults(handler=_vault_bootstrap)
    conn = vsub.add_parser("put-connection", parents=[common], help="write a connection as Airflow reads it")
    conn.add_argument("conn_id")
    conn.add_argument("uri", help="connection URI, or - to read it from stdin (keeps the password out of `ps`)")
    conn.set_defaults(handler=_vault_put_connection)
    var = vsub.add_parser("put-variable", parents=[common], help="write a variable as Airflow reads it")
    var.add_argument("key")
    var.add_argument("value", help="the value, or - to read it from stdin")
    var.set_defaults(handler=_vault_put_variable)

    tls = sub.add_parser("tls", help="HTTPS for the api-server")
    tsub = tls.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    init = tsub.add_parser("init", help="generate a local CA and server certificate (keys 0600)")
    init.add_argument("--hostname", action="append", default=[], help="extra DNS name or IP (repeatable)")
    init.add_argument("--force", action="store_true", help="issue a new server certificate (keeps the CA)")
    init.set_defaults(handler=_tls_init)


def _stack(ctx: Any) -> Any:
    from airdeck.stack.orchestrator import Stack

    return Stack(ctx.config(), ctx.home, ctx.console)


def _fernet_status(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.secrets import fernet

    stack = _stack(ctx)
    keys = fernet.current_keys(stack)
    with fernet.connect(stack) as conn:
        result = fernet.survey(conn, keys)
    state = fernet.read_state(stack)
    if args.json:
        data = result.as_dict()
        data["rotation"] = state
        print(json.dumps(data, indent=2))
        return 1 if result.undecryptable else 0
    print(f"Fernet keys ({len(keys)}; the first encrypts, all decrypt):")
    for entry in result.as_dict()["keys"]:
        print(f"  {entry['position']}  {entry['fingerprint']}  {entry['role']:<14} {entry['values']:>7} values")
    tables = ", ".join(f"{name} {count}" for name, count in sorted(result.by_table.items())) or "none"
    print(f"encrypted values: {result.total} ({tables})")
    print(f"decrypted by no key: {len(result.undecryptable)}")
    for item in result.undecryptable[:20]:
        print(f"  {item.table}.{item.column} of {item.ident}")
    if result.plaintext:
        print(f"stored unencrypted (written while no key was set): {len(result.plaintext)}")
    if state:
        print(f"rotation in progress: phase {state.get('phase')!r}, new key {state.get('new')}; "
              "resume with `airdeck fernet rotate`")
    return 1 if result.undecryptable else 0


def _fernet_rotate(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.secrets import fernet, vault

    stack = _stack(ctx)
    token = vault.admin_token(args.vault_token_file) if args.vault_token_file else None
    if token is None and isinstance(stack.secrets, vault.VaultSecretStore):
        token = vault.admin_token(None)
    state = fernet.rotate(stack, lambda text: ctx.console.print(f"[green]✓[/] {text}"), vault_token=token)
    ctx.console.print(f"[green]✓[/] rotation complete: key {state['new']} encrypts and decrypts everything")
    return 0


def _read_value(value: str, what: str) -> str:
    if value != "-":
        return value
    data = sys.stdin.read()
    data = data[:-1] if data.endswith("\n") else data
    if not data:
        from airdeck.secrets.vault import VaultError

        raise VaultError(f"{what}: nothing was given on stdin")
    return data


def _vault_bootstrap(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.secrets import vault

    cfg = ctx.config()
    target = vault.Target.of(cfg, args.url)
    token = vault.admin_token(args.token_file)
    from airdeck.state.secrets import SecretStore

    result = vault.bootstrap(target, token, ctx.home, platform_secrets=args.platform_secrets,
                             local=SecretStore(ctx.home.secrets))
    say = ctx.console.print
    say(f"[green]✓[/] KV v2 mount {target.mount_point}/ " + ("created" if result.mount_created else "present"))
    say(f"[green]✓[/] policy {vault.POLICY_NAME}: read-only on {target.mount_point}/data/"
        f"{{{target.connections_path},{target.variables_path},{target.config_path}}}/*")
    say(f"[green]✓[/] AppRole {vault.APPROLE_NAME}" + (" (approle auth enabled)" if result.approle_enabled else ""))
    say(f"[green]✓[/] credentials written (0600): {result.role_id_file}, {result.secret_id_file} "
        "(a new secret_id at every bootstrap)")
    if args.platform_secrets:
        stored = ", ".join(result.platform_secrets_written) or "none (already there)"
        say(f"[green]✓[/] platform keys stored under {target.mount_point}/{target.config_path}/: {stored}")
    say("Next: set `secrets: {backend: vault, vault: {url: " + target.url + "}}` in airdeck.yaml"
        + (" with platform_secrets: true" if args.platform_secrets else "") + ", then `airdeck up`.")
    return 0


def _vault_put_connection(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.secrets import vault

    target = vault.Target.of(ctx.config(), args.url)
    uri = _read_value(args.uri, f"connection {args.conn_id}")
    vault.validate_key("connection id", args.conn_id)
    vault.validate_connection_uri(args.conn_id, uri)
    path = vault.put_connection(target, vault.admin_token(args.token_file), args.conn_id, uri)
    ctx.console.print(f"[green]✓[/] wrote connection {args.conn_id} to {path} (key conn_uri)")
    return 0


def _vault_put_variable(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.secrets import vault

    target = vault.Target.of(ctx.config(), args.url)
    vault.validate_key("variable", args.key)
    value = _read_value(args.value, f"variable {args.key}")
    path = vault.put_variable(target, vault.admin_token(args.token_file), args.key, value)
    ctx.console.print(f"[green]✓[/] wrote variable {args.key} to {path} (key value)")
    return 0


def _tls_init(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.tls.certs import TLSFiles, certificate_names, default_names, generate, trust_instructions

    cfg = ctx.config()
    files = TLSFiles.of(ctx.home)
    names = default_names([*cfg.tls.hostnames, *args.hostname], cfg.api_server.host)
    created = generate(files, names, force=args.force)
    if created:
        ctx.console.print(f"[green]✓[/] wrote {files.ca_cert}, {files.server_cert} and their keys "
                          f"(0600) in {files.folder}")
    else:
        ctx.console.print(f"certificates already exist in {files.folder} (use --force for a new server certificate)")
    print(f"server certificate names: {', '.join(certificate_names(files.server_cert))}")
    print(trust_instructions(files.ca_cert))
    if not cfg.tls.enabled:
        print("Serve the api-server over HTTPS with `tls: {enabled: true}` in airdeck.yaml, then `airdeck up`.")
    return 0
