"""`airdeck rbac sync|export`: roles as code (security/roles.yaml) against the live roles."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import TYPE_CHECKING

from airdeck.auth.rbac import LiveRoles, RoleMappingError
from airdeck.auth.roles import DEFAULT_FILE, RolesFileError
from airdeck.cli import remote
from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Result, Text
from airdeck.state.secrets import write_private

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 31


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("rbac", help="roles as code: security/roles.yaml against the live roles")
    actions = parser.add_subparsers(dest="rbac_command", required=True, metavar="ACTION")
    sync = actions.add_parser("sync", help="create and update the roles of the file (idempotent)")
    sync.add_argument("--file", "-f", type=Path, default=DEFAULT_FILE, help=f"roles file (default {DEFAULT_FILE})")
    sync.add_argument("--check", action="store_true", help="change nothing; list the drift and exit 1 if any")
    sync.add_argument("--prune", action="store_true", help="also delete custom roles that are not in the file")
    # What `--target kubernetes` passes to the container: the laptop's roles file, base64-encoded.
    sync.add_argument("--file-content", help=argparse.SUPPRESS)
    sync.set_defaults(handler=rbac_sync, kube_handler=remote.in_api_server)
    export = actions.add_parser("export", help="write the live custom roles in the roles file format")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=rbac_export)


def rbac_sync(ctx: CliContext) -> Result:
    """With ``--check``: exit 1 when the live roles drift from the file. Exit 2, changing nothing, when the
    file is invalid or auth.ldap.roles_mapping names a role that would not exist."""
    args = ctx.args
    live = LiveRoles(ctx.platform())
    auth = ctx.config().auth
    ldap = auth.ldap if auth.mode == "ldap" else None  # its roles_mapping must name roles that exist
    path = Path(args.file)
    if args.file_content is not None:  # sent by `--target kubernetes`: read here, named as on the laptop
        path = ctx.home.root / "roles-sent.yaml"
        write_private(path, base64.b64decode(args.file_content).decode("utf-8"))
    try:
        if args.check:
            _desired, changes = live.plan(path, prune=args.prune, ldap=ldap)
        else:
            changes = live.sync(path, prune=args.prune, ldap=ldap)
    except (RolesFileError, RoleMappingError) as exc:
        shown = exc.render().replace(str(path), str(args.file))
        raise CommandError(f"{shown}\nnothing was changed", exit_code=exc.exit_code) from None
    lines = Text.lines([line for change in changes for line in change.lines()])
    listed = (lines,) if changes else ()
    if args.check and changes:
        return Result.of(*listed, Text(f"drift: {len(changes)} role(s) differ from {args.file}; apply with "
                                       "`airdeck rbac sync`", err=True), exit_code=1)
    if args.check:
        done = f"ok: the live roles match {args.file}"
    elif changes:
        done = f"ok: {len(changes)} role(s) changed; the live roles match {args.file}"
    else:
        done = f"ok: already in sync with {args.file}"
    return Result.of(*listed, Text(done))


def rbac_export(ctx: CliContext) -> Result:
    text = LiveRoles(ctx.stack()).export()
    output: Path | None = ctx.args.output
    if output is None:
        return Result.of(Text(text, end=""))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return Result.of(Text(f"ok: wrote {output}", err=True))
