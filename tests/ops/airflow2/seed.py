"""Run by a real Airflow 2 (the throw-away environment of tests/ops/test_import_airflow2.py), never by
airdeck's: fills a freshly migrated Airflow 2 metadata database the way a deployment would, through
Airflow 2's own APIs: users and roles (FAB's security manager), encrypted connections and variables,
and finished DAG runs (``dag.test()`` of the DAG in this folder: one run that succeeds, one that fails).

Reads a JSON document on standard input (users with passwords, connections, variables) and prints
``SEEDED`` when done.
"""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path


def main() -> int:
    spec = json.load(sys.stdin)
    from airflow.models import Connection, Variable
    from airflow.models.dagbag import DagBag
    from airflow.models.slamiss import SlaMiss
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
    from airflow.utils.session import create_session

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        sm.sync_roles()  # the built-in roles (Admin, Op, User, Viewer, Public), as the webserver creates them
        for name, permissions in spec["roles"].items():
            role = sm.find_role(name) or sm.add_role(name)
            for action, resource in permissions:
                permission = sm.create_permission(action, resource)
                sm.add_permission_to_role(role, permission)
        for user in spec["users"]:
            roles = [sm.find_role(name) for name in user["roles"]]
            if not sm.add_user(user["username"], user["first_name"], user["last_name"], user["email"], roles,
                               user["password"]):
                print(f"could not add user {user['username']}", file=sys.stderr)
                return 1

    with create_session() as session:
        for conn in spec["connections"]:
            session.add(Connection(conn_id=conn["conn_id"], conn_type=conn["conn_type"], host=conn.get("host"),
                                   login=conn.get("login"), password=conn.get("password"),
                                   port=conn.get("port"), extra=conn.get("extra")))
    for key, value in spec["variables"].items():
        Variable.set(key, value)
    with create_session() as session:  # an SLA miss as the Airflow 2 scheduler records one
        session.add(SlaMiss(task_id="extract", dag_id="legacy_etl",
                            execution_date=datetime(2024, 1, 1, tzinfo=UTC),
                            timestamp=datetime(2024, 1, 1, 2, tzinfo=UTC), description="late"))

    bag = DagBag(dag_folder=str(Path(__file__).with_name("dags")), include_examples=False)
    if bag.import_errors:
        print(f"DAG import errors: {bag.import_errors}", file=sys.stderr)
        return 1
    dag = bag.get_dag("legacy_etl")
    dag.sync_to_db()
    for day, fail in ((1, False), (2, True)):
        run = dag.test(execution_date=datetime(2024, 1, day, tzinfo=UTC), run_conf={"fail": fail})
        print(f"RUN {run.run_id} {run.state}")
    print("SEEDED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
