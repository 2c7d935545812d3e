"""Run with airdeck's Airflow 3 and the platform's one-off configuration (``Stack.cli_env()``): reads the
imported database through Airflow's own models (so values are decrypted with airdeck's Fernet key) and
FAB's security manager (users, roles, password sign-in), and prints one ``RESULT {json}`` line.

Standard input: {username: password} to try signing in with.
"""

import json
import sys


def main() -> int:
    passwords = json.load(sys.stdin)
    from airflow.models import Connection, DagRun, TaskInstance, Variable
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
    from airflow.utils.session import create_session

    out: dict = {}
    with create_session() as session:
        out["connections"] = {c.conn_id: {"host": c.host, "login": c.login, "password": c.password,
                                          "extra": c.extra} for c in session.query(Connection)}
        out["variables"] = {v.key: v.val for v in session.query(Variable)}
        out["runs"] = {r.run_id: r.state for r in session.query(DagRun)}
        out["task_instances"] = sorted([ti.run_id, ti.task_id, ti.state] for ti in session.query(TaskInstance))
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        out["users"] = {u.username: sorted(r.name for r in u.roles) for u in sm.get_all_users()}
        out["role_permissions"] = {r.name: sorted(f"{p.action.name} on {p.resource.name}" for p in r.permissions)
                                   for r in sm.get_all_roles()}
        with appbuilder.app.test_request_context():
            out["sign_in"] = {name: sm.auth_user_db(name, password) is not None for name, password in passwords.items()}
    print("RESULT " + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
