"""`airdeck ldap check`: what the directory says about a user, and the roles they would get."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from airdeck.auth.directory import Directory, DirectoryUnavailable, normalize_dn, roles_for_groups
from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Document, Result, Text

if TYPE_CHECKING:
    from airdeck.cli.context import Subcommands

ORDER = 30


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("ldap", help="check the LDAP directory settings of auth.ldap")
    actions = parser.add_subparsers(dest="ldap_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="show a user's DN, groups and the roles they would get "
                                             "(no sign-in, nothing written)")
    check.add_argument("--user", required=True, help="login name to look up")
    check.add_argument("--password-stdin", action="store_true",
                       help="bind as the user with a password read from standard input (needed in direct-bind "
                            "mode when the directory refuses anonymous searches; also verifies the password)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=ldap_check)


def ldap_check(ctx: CliContext) -> Result:
    """Exit 2 for settings that cannot work, 1 when the directory is unreachable or has no such user."""
    args = ctx.args
    settings = ctx.config().auth.ldap
    if settings is None:
        raise CommandError("auth.ldap is not configured in airdeck.yaml (set auth.mode: ldap and auth.ldap.url)",
                           exit_code=2)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    try:
        directory = Directory(settings)
        user = directory.authenticate(args.user, password) if password is not None else directory.lookup(args.user)
    except DirectoryUnavailable as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise CommandError(str(exc), exit_code=2) from None
    if user is None:
        why = "wrong password, or " if password is not None else ""
        raise CommandError(f"{why}no user {args.user!r} matching auth.ldap.user_filter under "
                           f"{settings.user_search_base or settings.user_dn_template}")
    roles = roles_for_groups(user.groups, settings.roles_mapping,
                             settings.default_role if settings.register_users else None)
    if args.json:
        return Result.of(Document({"dn": user.dn, "username": user.username, "first_name": user.first_name,
                                   "last_name": user.last_name, "email": user.email, "groups": user.groups,
                                   "roles": roles, "password_checked": password is not None}, indent=None))
    mapped = {normalize_dn(group) for group in settings.roles_mapping}
    lines = [f"dn:     {user.dn}",
             f"name:   {user.first_name} {user.last_name} <{user.email}>",
             "groups:" + ("" if user.groups else " (none)")]
    lines += [f"  - {group}{'   (mapped)' if normalize_dn(group) in mapped else ''}" for group in user.groups]
    lines.append(f"roles:  {', '.join(roles) if roles else '(none: sign-in would give no access)'}")
    if password is not None:
        lines.append("password: accepted by the directory")
    return Result.of(Text.lines(lines))
