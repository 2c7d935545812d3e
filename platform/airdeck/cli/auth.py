"""`airdeck ldap check` and `airdeck rbac sync|export`: parse, call, print."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from airdeck.auth.roles import DEFAULT_FILE, RolesFileError


def register(sub: Any) -> None:
    ldap = sub.add_parser("ldap", help="check the LDAP directory settings of auth.ldap")
    ldap_sub = ldap.add_subparsers(dest="ldap_command", required=True, metavar="ACTION")
    check = ldap_sub.add_parser("check", help="show a user's DN, groups and the roles they would get "
                                              "(no sign-in, nothing written)")
    check.add_argument("--user", required=True, help="login name to look up")
    check.add_argument("--password-stdin", action="store_true",
                       help="bind as the user with a password read from standard input (needed in direct-bind "
                            "mode when the directory refuses anonymous searches; also verifies the password)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=ldap_check)

    rbac = sub.add_parser("rbac", help="roles as code: security/roles.yaml against the live roles")
    rbac_sub = rbac.add_subparsers(dest="rbac_command", required=True, metavar="ACTION")
    sync = rbac_sub.add_parser("sync", help="create and update the roles of the file (idempotent)")
    sync.add_argument("--file", "-f", type=Path, default=DEFAULT_FILE, help=f"roles file (default {DEFAULT_FILE})")
    sync.add_argument("--check", action="store_true", help="change nothing; list the drift and exit 1 if any")
    sync.add_argument("--prune", action="store_true", help="also delete custom roles that are not in the file")
    sync.set_defaults(handler=rbac_sync)
    export = rbac_sub.add_parser("export", help="write the live custom roles in the roles file format")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=rbac_export)


def ldap_check(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.auth.directory import Directory, DirectoryUnavailable, roles_for_groups

    cfg = ctx.config()
    if cfg.auth.ldap is None:
        print("error: auth.ldap is not configured in airdeck.yaml (set auth.mode: ldap and auth.ldap.url)",
              file=sys.stderr)
        return 2
    settings = cfg.auth.ldap
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    try:
        directory = Directory(settings)
        if password is not None:
            user = directory.authenticate(args.user, password)
        else:
            user = directory.lookup(args.user)
    except DirectoryUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if user is None:
        why = "wrong password, or " if password is not None else ""
        print(f"error: {why}no user {args.user!r} matching auth.ldap.user_filter under "
              f"{settings.user_search_base or settings.user_dn_template}", file=sys.stderr)
        return 1
    roles = roles_for_groups(user.groups, settings.roles_mapping,
                             settings.default_role if settings.register_users else None)
    mapped = {group for group in settings.roles_mapping}
    if args.json:
        print(json.dumps({"dn": user.dn, "username": user.username, "first_name": user.first_name,
                          "last_name": user.last_name, "email": user.email, "groups": user.groups,
                          "roles": roles, "password_checked": password is not None}, ensure_ascii=False))
        return 0
    from airdeck.auth.directory import normalize_dn

    mapped_norm = {normalize_dn(g) for g in mapped}
    print(f"dn:     {user.dn}")
    print(f"name:   {user.first_name} {user.last_name} <{user.email}>")
    print("groups:" + ("" if user.groups else " (none)"))
    for group in user.groups:
        print(f"  - {group}{'   (mapped)' if normalize_dn(group) in mapped_norm else ''}")
    print(f"roles:  {', '.join(roles) if roles else '(none: sign-in would give no access)'}")
    if password is not None:
        print("password: accepted by the directory")
    return 0


def _stack(ctx: Any) -> Any:
    from airdeck.stack.orchestrator import Stack

    return Stack(ctx.config(), ctx.home, ctx.console)


def rbac_sync(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.auth.rbac import LiveRoles

    live = LiveRoles(_stack(ctx))
    try:
        if args.check:
            _desired, changes = live.plan(args.file, prune=args.prune)
            for change in changes:
                for line in change.lines():
                    print(line)
            if changes:
                print(f"drift: {len(changes)} role(s) differ from {args.file}; apply with `airdeck rbac sync`",
                      file=sys.stderr)
                return 1
            print(f"ok: the live roles match {args.file}")
            return 0
        changes = live.sync(args.file, prune=args.prune)
    except RolesFileError as exc:
        print(f"error: {exc.render()}\nnothing was changed", file=sys.stderr)
        return exc.exit_code
    for change in changes:
        for line in change.lines():
            print(line)
    print(f"ok: {len(changes)} role(s) changed; the live roles match {args.file}" if changes
          else f"ok: already in sync with {args.file}")
    return 0


def rbac_export(args: argparse.Namespace, ctx: Any) -> int:
    from airdeck.auth.rbac import LiveRoles

    text = LiveRoles(_stack(ctx)).export()
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"ok: wrote {args.output}", file=sys.stderr)
    return 0
