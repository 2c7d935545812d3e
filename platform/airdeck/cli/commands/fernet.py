"""`airdeck fernet status|rotate`: the Fernet key that encrypts connections, variables and triggers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from airdeck.cli import remote
from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Document, Note, Result, Text
from airdeck.kube import fernet as kube_fernet
from airdeck.secrets import fernet, vault

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 40


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("fernet", help="the Fernet key that encrypts connections, variables and triggers")
    actions = parser.add_subparsers(dest="fernet_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="encrypted values, which key decrypts them, any no key decrypts")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=fernet_status)
    rotate = actions.add_parser("rotate", help="new key first, re-encrypt, verify, retire the old key (resumable)")
    rotate.add_argument("--vault-token-file", help="operator token file, when the key is held in Vault")
    # What `--target kubernetes` runs inside an api-server container between its restarts.
    rotate.add_argument("--step", choices=["reencrypt"], help=argparse.SUPPRESS)
    rotate.set_defaults(handler=fernet_rotate, kube_handler=fernet_rotate_release)


def fernet_status(ctx: CliContext) -> Result:
    """Exit 1 when some value is decrypted by no key."""
    stack = ctx.stack()
    keys = fernet.current_keys(stack)
    with fernet.connect(stack) as conn:
        survey = fernet.survey(conn, keys)
    state = fernet.read_state(stack)
    code = 1 if survey.undecryptable else 0
    if ctx.args.json:
        data: dict[str, Any] = survey.as_dict()
        data["rotation"] = state
        return Result.of(Document(data), exit_code=code)
    lines = [f"Fernet keys ({len(keys)}; the first encrypts, all decrypt):"]
    for entry in survey.as_dict()["keys"]:
        lines.append(f"  {entry['position']}  {entry['fingerprint']}  {entry['role']:<14} {entry['values']:>7} values")
    tables = ", ".join(f"{name} {count}" for name, count in sorted(survey.by_table.items())) or "none"
    lines.append(f"encrypted values: {survey.total} ({tables})")
    lines.append(f"decrypted by no key: {len(survey.undecryptable)}")
    lines += [f"  {item.table}.{item.column} of {item.ident}" for item in survey.undecryptable[:20]]
    if survey.plaintext:
        lines.append(f"stored unencrypted (written while no key was set): {len(survey.plaintext)}")
    if state:
        lines.append(f"rotation in progress: phase {state.get('phase')!r}, new key {state.get('new')}; "
                     "resume with `airdeck fernet rotate`")
    return Result.of(Text.lines(lines), exit_code=code)


def fernet_rotate_release(ctx: CliContext) -> Result:
    """`--target kubernetes`: the release's generated key, rotated through the Kubernetes API."""
    state = kube_fernet.rotate(remote.release(ctx), ctx.say, kube_fernet.reencrypt_in_api_server)
    return Result.of(Note(f"rotation complete: key {state['new']} encrypts and decrypts everything", "ok"))


def reencrypt_step(ctx: CliContext) -> Result:
    """Inside a release's container: `airflow rotate-fernet-key`, then every value must decrypt with the
    first key of the mounted list alone (exit 1 otherwise)."""
    platform = ctx.platform()
    keys = fernet.split_keys(platform.secret("fernet_key"))
    code, text = platform.airflow_cli("rotate-fernet-key")
    if code != 0:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise CommandError(f"airflow rotate-fernet-key failed with exit code {code}:\n{tail}")
    with fernet.connect(platform) as conn:
        check = fernet.survey(conn, keys[:1])
    if check.undecryptable:
        raise CommandError(f"{len(check.undecryptable)} values still do not decrypt with the new key alone; run the "
                           "rotation again")
    return Result.of(Note(f"re-encrypted {check.total} values with key {fernet.fingerprint(keys[0])}", "ok"))


def fernet_rotate(ctx: CliContext) -> Result:
    if ctx.args.step == "reencrypt":
        if ctx.args.where != "in-pod":
            raise CommandError("--step reencrypt runs inside a release's container (airdeck --target kubernetes "
                               "fernet rotate runs it)", exit_code=2)
        return reencrypt_step(ctx)
    stack = ctx.stack()
    flag = "--vault-token-file"
    token = vault.admin_token(ctx.args.vault_token_file, flag) if ctx.args.vault_token_file else None
    if token is None and isinstance(stack.secrets, vault.VaultSecretStore):
        token = vault.admin_token(None, flag)
    state = fernet.rotate(stack, vault_token=token)
    return Result.of(Note(f"rotation complete: key {state['new']} encrypts and decrypts everything", "ok"))
