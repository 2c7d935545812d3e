"""`airdeck rbac sync|export`: compare roles.yaml with the live roles and apply it, idempotently."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from airdeck.auth.rbac_runner import RESULT_MARKER
from airdeck.auth.roles import (
    Permission,
    RoleDrift,
    RolesFileError,
    RoleSpec,
    drift,
    dump_roles,
    load_roles,
    unknown_mapped_roles,
)
from airdeck.config.auth import LdapSettings
from airdeck.errors import AirdeckError


class RoleMappingError(AirdeckError):
    """auth.ldap names a role that would not exist after the sync; nothing was changed."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join([f"the LDAP group mapping names roles that do not exist ({len(self.problems)} problem(s)):",
                          *(f"  - {p}" for p in self.problems)])


@dataclass
class RbacResult:
    live: dict[str, set[Permission]]
    problems: list[str]


class LiveRoles:
    """The platform's live roles, reached through a subprocess with the stack's `cli` configuration.

    ``stack`` is anything with ``home`` and ``cli_env()``: the local stack, or the chart's migration Job."""

    def __init__(self, stack):  # type: ignore[no-untyped-def]
        self.stack = stack

    def _run(self, command: str, roles: dict[str, RoleSpec], prune: bool = False) -> RbacResult:
        home = self.stack.home
        if not home.service_config("cli").exists():
            raise AirdeckError(f"no platform configuration in {home.root}; run `airdeck up` first")
        request = {"command": command, "prune": prune,
                   "roles": {name: sorted([a, r] for a, r in spec.permissions) for name, spec in roles.items()}}
        result = subprocess.run([sys.executable, "-m", "airdeck.auth.rbac_runner"], input=json.dumps(request),
                                env=self.stack.cli_env(), capture_output=True, text=True, check=False, timeout=600)
        lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_MARKER)]
        if result.returncode != 0 or not lines:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            raise AirdeckError(f"could not read the live roles (is the platform up? `airdeck status`):\n{tail}")
        data = json.loads(lines[-1][len(RESULT_MARKER):])
        live = {name: {(a, r) for a, r in perms} for name, perms in data["live"].items()}
        return RbacResult(live=live, problems=list(data["problems"]))

    def plan(self, path: Path, prune: bool = False,
             ldap: LdapSettings | None = None) -> tuple[dict[str, RoleSpec], list[RoleDrift]]:
        """The file's roles and what a sync would change. With ``ldap``: RoleMappingError when its
        roles_mapping or default_role names a role that would not exist after the sync."""
        desired = load_roles(path)
        result = self._run("plan", desired)
        if result.problems:
            raise RolesFileError(str(path), result.problems)
        if ldap is not None:
            # After the sync: the file's roles, and the live ones unless --prune deletes them.
            known = set(desired) | (set() if prune else set(result.live))
            problems = unknown_mapped_roles(ldap.roles_mapping, ldap.default_role if ldap.register_users else None,
                                            known, str(path))
            if problems:
                raise RoleMappingError(problems)
        return desired, drift(desired, result.live, prune)

    def sync(self, path: Path, prune: bool = False, ldap: LdapSettings | None = None) -> list[RoleDrift]:
        """Apply the file; returns what was changed (empty when already in sync)."""
        desired, changes = self.plan(path, prune, ldap)
        if not changes:
            return []
        result = self._run("apply", desired, prune)
        if result.problems:
            raise RolesFileError(str(path), result.problems)
        remaining = drift(desired, result.live, prune)
        if remaining:
            raise AirdeckError("roles still differ after sync:\n" + "\n".join(
                line for change in remaining for line in change.lines()))
        return changes

    def export(self) -> str:
        return dump_roles(self._run("plan", {}).live)
