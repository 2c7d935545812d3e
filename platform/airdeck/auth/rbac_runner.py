"""The live half of roles as code, run through FAB's own security manager.

Run as ``python -m airdeck.auth.rbac_runner`` with the ``cli`` service configuration in AIRFLOW_CONFIG
(see ``Stack.cli_env()``). Reads one JSON request on standard input::

    {"command": "plan" | "apply", "roles": {"Name": [["can_read", "DAGs"], ...]}, "prune": false}

and prints one line ``AIRDECK-RESULT <json>``: the live non-built-in roles, and the problems that stop
the request (unknown permissions). ``apply`` checks everything first and changes nothing when any
permission is unknown; it then sets each declared role's permissions exactly.
"""

from __future__ import annotations

import difflib
import json
import sys
from typing import Any

from airdeck.config.auth import BUILTIN_ROLES

RESULT_MARKER = "AIRDECK-RESULT "


def _live_roles(sm: Any) -> dict[str, list[list[str]]]:
    live: dict[str, list[list[str]]] = {}
    for role in sm.get_all_roles():
        if role.name in BUILTIN_ROLES:
            continue
        live[role.name] = sorted([p.action.name, p.resource.name] for p in role.permissions)
    return live


def _problems(sm: Any, roles: dict[str, list[list[str]]]) -> list[str]:
    from airflow.providers.fab.www.security.permissions import RESOURCE_DETAILS_MAP

    known = sm.get_all_permissions()
    resources = {resource for _action, resource in known}
    prefixed = {details["prefix"]: details["actions"] for details in RESOURCE_DETAILS_MAP.values()}
    problems: list[str] = []
    for role, perms in sorted(roles.items()):
        for action, resource in perms:
            if (action, resource) in known:
                continue
            text = f"roles.{role}: unknown permission '{action} on {resource}'"
            prefix = next((p for p in prefixed if resource.startswith(p)), None)
            if prefix is not None:
                if not resource[len(prefix):]:
                    problems.append(f"{text}: name the DAG after '{prefix}'")
                elif action not in prefixed[prefix]:
                    problems.append(f"{text}: on '{prefix}<dag_id>' the actions are "
                                    f"{', '.join(sorted(prefixed[prefix]))}")
                continue  # a DAG-level permission is created on demand, even before the DAG is parsed
            if resource not in resources:
                close = difflib.get_close_matches(resource, sorted(resources), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(f"{text}: Airflow has no resource {resource!r}{hint}")
            else:
                allowed = sorted(a for a, r in known if r == resource)
                problems.append(f"{text}: on {resource!r} the actions are {', '.join(allowed)}")
    return problems


def _apply(sm: Any, roles: dict[str, list[list[str]]], prune: bool) -> None:
    for name, perms in sorted(roles.items()):
        role = sm.find_role(name) or sm.add_role(name)
        wanted = []
        for action, resource in perms:
            permission = sm.get_permission(action, resource) or sm.create_permission(action, resource)
            if permission is None:
                raise RuntimeError(f"FAB could not create the permission '{action} on {resource}'")
            wanted.append(permission)
        role.permissions = wanted
    sm.session.commit()
    if prune:
        for role in sm.get_all_roles():
            if role.name not in BUILTIN_ROLES and role.name not in roles:
                sm.delete_role(role.name)


def main() -> int:
    request = json.loads(sys.stdin.read())
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    roles: dict[str, list[list[str]]] = request.get("roles", {})
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        problems = _problems(sm, roles)
        if request["command"] == "apply" and not problems:
            _apply(sm, roles, bool(request.get("prune")))
        result = {"live": _live_roles(sm), "problems": problems}
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
