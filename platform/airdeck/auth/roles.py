"""Roles as code: ``security/roles.yaml``, read, checked and compared with the live roles.

The file::

    version: 1
    permission_sets:              # named lists, reused by roles (optional)
      browse:
        - can_read on Website
    roles:
      DagAuthor:
        description: Writes DAGs, reads their code and logs   # optional, for people
        include: [browse]                                      # permission sets (optional)
        permissions:
          - can_read on DAGs
          - can_edit on DAG:finance_daily                      # DAG-level: "DAG:<dag_id>"

Permissions use FAB's names, ``<action> on <resource>``. The roles Airflow manages itself (Admin, Op,
User, Viewer, Public) cannot be declared. Nothing here imports Airflow; the live side runs in a
subprocess (:mod:`airdeck.auth.rbac_runner`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airdeck.config.auth import BUILTIN_ROLES
from airdeck.resources import data_root

#: The roles file airdeck ships (packaged from the repository's security/roles.yaml); pass another
#: with ``--file``. In a checkout it is the repository's file itself (the package's data link, resolved).
DEFAULT_FILE = (data_root() / "security" / "roles.yaml").resolve()
ACTIONS = ("can_create", "can_read", "can_edit", "can_delete", "menu_access")
ROLE_NAME = re.compile(r"^[A-Za-z0-9_.\- ]{1,64}$")
FILE_KEYS = ("version", "permission_sets", "roles")
ROLE_KEYS = ("description", "include", "permissions")

Permission = tuple[str, str]  # (action, resource)


class RolesFileError(Exception):
    """roles.yaml cannot be used; nothing was changed."""

    exit_code = 2

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join([f"invalid roles file {self.source} ({len(self.problems)} problem(s)):",
                          *(f"  - {self.source}: {p}" for p in self.problems)])


@dataclass
class RoleSpec:
    name: str
    permissions: set[Permission] = field(default_factory=set)
    description: str = ""


def parse_permission(text: Any, where: str, problems: list[str]) -> Permission | None:
    if not isinstance(text, str):
        problems.append(f"{where}: must be a string like 'can_read on DAGs', not {type(text).__name__}")
        return None
    action, sep, resource = text.strip().partition(" on ")
    action, resource = action.strip(), resource.strip()
    if not sep or not action or not resource:
        problems.append(f"{where}: {text!r} is not '<action> on <resource>' (e.g. 'can_read on DAG:my_dag')")
        return None
    if action not in ACTIONS:
        close = difflib.get_close_matches(action, ACTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; actions are {', '.join(ACTIONS)}"
        problems.append(f"{where}: unknown action {action!r}{hint}")
        return None
    return action, resource


def format_permission(permission: Permission) -> str:
    return f"{permission[0]} on {permission[1]}"


def _unknown_keys(data: Mapping[str, Any], valid: tuple[str, ...], where: str, problems: list[str]) -> None:
    for key in data:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (valid keys: {', '.join(valid)})"
            problems.append(f"{where}{key}: unknown key{hint}")


def parse_roles(data: Any, source: str) -> dict[str, RoleSpec]:
    """Validate the file's structure; raises RolesFileError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise RolesFileError(source, ["the top level must be a mapping with 'version' and 'roles'"])
    _unknown_keys(data, FILE_KEYS, "", problems)
    if data.get("version") != 1:
        problems.append(f"version: must be 1 (got {data.get('version')!r})")
    sets_raw = data.get("permission_sets") or {}
    sets: dict[str, set[Permission]] = {}
    if not isinstance(sets_raw, dict):
        problems.append("permission_sets: must be a mapping of name -> list of permissions")
        sets_raw = {}
    for set_name, items in sets_raw.items():
        if not isinstance(items, list):
            problems.append(f"permission_sets.{set_name}: must be a list of permissions")
            continue
        found = [parse_permission(item, f"permission_sets.{set_name}[{i}]", problems) for i, item in enumerate(items)]
        sets[str(set_name)] = {p for p in found if p is not None}
    roles_raw = data.get("roles")
    if not isinstance(roles_raw, dict) or not roles_raw:
        problems.append("roles: must be a mapping of role name -> role (at least one role)")
        roles_raw = {}
    roles: dict[str, RoleSpec] = {}
    for name, body in roles_raw.items():
        where = f"roles.{name}"
        name = str(name)
        if name in BUILTIN_ROLES:
            problems.append(f"{where}: {name} is built into Airflow, which manages its permissions; "
                            "declare a new role instead")
            continue
        if not ROLE_NAME.match(name):
            problems.append(f"{where}: a role name is 1-64 letters, digits, spaces, '_', '-' or '.'")
            continue
        if not isinstance(body, dict):
            problems.append(f"{where}: must be a mapping with 'permissions' (and optional 'include', 'description')")
            continue
        _unknown_keys(body, ROLE_KEYS, f"{where}.", problems)
        spec = RoleSpec(name=name, description=str(body.get("description") or ""))
        include = body.get("include") or []
        if not isinstance(include, list):
            problems.append(f"{where}.include: must be a list of permission_sets names")
            include = []
        for set_name in include:
            if set_name not in sets:
                close = difflib.get_close_matches(str(set_name), list(sets), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{where}.include: no permission set named {set_name!r}{hint}")
            else:
                spec.permissions |= sets[set_name]
        perms = body.get("permissions") or []
        if not isinstance(perms, list):
            problems.append(f"{where}.permissions: must be a list like ['can_read on DAGs']")
            perms = []
        for i, item in enumerate(perms):
            permission = parse_permission(item, f"{where}.permissions[{i}]", problems)
            if permission is not None:
                spec.permissions.add(permission)
        if not spec.permissions:
            problems.append(f"{where}: grants no permission; list some under 'permissions' or 'include'")
        roles[name] = spec
    if problems:
        raise RolesFileError(source, problems)
    return roles


def load_roles(path: Path) -> dict[str, RoleSpec]:
    source = str(path)
    if not path.is_file():
        if path == DEFAULT_FILE:
            raise RolesFileError(source, ["airdeck's packaged roles file is missing; reinstall airdeck, "
                                          "or pass your own with --file"])
        raise RolesFileError(source, [f"file not found (create it, or pass --file; default {DEFAULT_FILE})"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RolesFileError(source, [f"malformed YAML: {where}{getattr(exc, 'problem', None) or exc}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RolesFileError(source, [f"cannot be read: {exc}"]) from None
    return parse_roles(data, source)


def dump_roles(live: Mapping[str, set[Permission]]) -> str:
    """The live roles in the file's format (permissions spelled out, sorted)."""
    doc = {
        "version": 1,
        "roles": {name: {"permissions": sorted(format_permission(p) for p in perms)}
                  for name, perms in sorted(live.items())},
    }
    header = "# Exported by `airdeck rbac export` from the live Airflow roles. Apply with `airdeck rbac sync`.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)


@dataclass
class RoleDrift:
    role: str
    create: bool = False
    add: set[Permission] = field(default_factory=set)
    remove: set[Permission] = field(default_factory=set)
    delete: bool = False

    def lines(self) -> list[str]:
        if self.delete:
            return [f"- role {self.role}: not in the file; will be deleted (--prune)"]
        out = [f"+ role {self.role}: missing; will be created"] if self.create else []
        out += [f"  {self.role}: + {format_permission(p)}" for p in sorted(self.add)]
        out += [f"  {self.role}: - {format_permission(p)}" for p in sorted(self.remove)]
        return out


def drift(desired: Mapping[str, RoleSpec], live: Mapping[str, set[Permission]], prune: bool) -> list[RoleDrift]:
    """What applying ``desired`` would change in ``live`` (live: every non-built-in role)."""
    changes: list[RoleDrift] = []
    for name, spec in sorted(desired.items()):
        current = live.get(name)
        change = RoleDrift(role=name, create=current is None)
        current = current or set()
        change.add = spec.permissions - current
        change.remove = current - spec.permissions
        if change.create or change.add or change.remove:
            changes.append(change)
    if prune:
        for name in sorted(set(live) - set(desired)):
            changes.append(RoleDrift(role=name, delete=True))
    return changes


def unknown_mapped_roles(roles_mapping: Mapping[str, list[str]], default_role: str | None,
                         known: set[str], source: str) -> list[str]:
    """The problems of ``auth.ldap.roles_mapping`` / ``default_role`` naming a role that does not exist:
    neither built into Airflow nor declared in ``source`` (the roles file) nor already in the database.

    FAB would skip such a role at sign-in, so its group's members would sign in without it."""
    exists = set(BUILTIN_ROLES) | known
    listed = ", ".join(sorted(exists))
    problems = []
    for group, names in roles_mapping.items():
        for name in names:
            if name not in exists:
                close = difflib.get_close_matches(name, sorted(exists), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                problems.append(f"auth.ldap.roles_mapping: group {group!r} maps to role {name!r}, which does not "
                                f"exist: it is not built into Airflow, not declared in {source} and not in the "
                                f"database; {hint}declare it under roles: in {source} or fix the mapping "
                                f"(roles: {listed})")
    if default_role and default_role not in exists:
        problems.append(f"auth.ldap.default_role: role {default_role!r} does not exist: it is not built into "
                        f"Airflow, not declared in {source} and not in the database; declare it under roles: in "
                        f"{source} or name one of {listed}")
    return problems
