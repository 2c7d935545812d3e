"""Create the platform admin account through FAB's own security manager.

Run as ``python -m airdeck.stack.admin_user USERNAME EMAIL FIRST LAST`` with the service
configuration in AIRFLOW_CONFIG; the password is read from standard input so it never appears in a
process listing. Prints ``created`` or ``exists``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    username, email, first, last = argv
    password = sys.stdin.read().strip()
    if not password:
        print("no password on standard input", file=sys.stderr)
        return 2
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        if sm.find_user(username=username):
            print("exists")
            return 0
        role = sm.find_role("Admin")
        if role is None:
            print("the Admin role does not exist; was the FAB database migrated?", file=sys.stderr)
            return 1
        if not sm.add_user(username, first, last, email, role, password):
            print(f"FAB refused to create user {username!r}", file=sys.stderr)
            return 1
    print("created")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
