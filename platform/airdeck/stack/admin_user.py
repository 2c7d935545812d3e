"""Create the platform admin account through FAB's own security manager.

Run as ``python -m airdeck.stack.admin_user USERNAME EMAIL FIRST LAST`` with the service
configuration in AIRFLOW_CONFIG; the password is read from standard input so it never appears in a
process listing. Prints ``created`` or ``exists``. With ``--reset USERNAME`` instead, the existing
account's password becomes the one on standard input (prints ``changed``).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    password = sys.stdin.readline().strip()
    if not password:
        print("no password on standard input", file=sys.stderr)
        return 2
    if argv[:1] == ["--reset"]:
        return reset(argv[1], password)
    username, email, first, last = argv
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


def reset(username: str, password: str) -> int:
    """Give the existing account ``username`` this password (FAB hashes it)."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        user = sm.find_user(username=username)
        if user is None:
            print(f"there is no account {username!r}; the migration Job creates it when admin_password is mounted",
                  file=sys.stderr)
            return 1
        if not sm.reset_password(user.id, password):
            print(f"FAB refused to change the password of {username!r}", file=sys.stderr)
            return 1
    print("changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
