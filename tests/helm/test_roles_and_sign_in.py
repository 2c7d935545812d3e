"""Roles and LDAP sign-in as the chart configures them, with the chart's containers as local processes.

The chart is rendered with a roles file (``auth.roles``) declaring a custom role, airdeck.yaml's
search-then-bind LDAP sign-in mapping a directory group to it, and the directory's service account
password and private CA from Secrets (``auth.ldap.bindPasswordSecret``, ``caSecret``). Then, as a
kubelet would (tests/helm/pods.py), against a real PostgreSQL and a real slapd (tests/auth's fixture,
StartTLS with its own CA):

* the migration Job's rendered command migrates and applies the roles file: the custom role exists
  with exactly its permissions; a second release whose mapping names a role that does not exist fails
  its Job, naming the group, the role and the key, and changes nothing;
* the api-server pod starts from its rendered command with only its mounted files (the bind password
  and CA read from there), and the `helm test` canary signs in as an LDAP user of the mapped group and
  checks the custom role's permissions: it reads DAGs and DAG runs, and may not read or edit
  connections nor create variables. A canary expecting a permission the role lacks fails.

What stays different from a cluster: see tests/helm/test_outside_kubernetes.py (one host, root, a
private /etc/hosts instead of cluster DNS).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airdeck.state.secrets import GENERATED
from cryptography.fernet import Fernet

from tests.auth.conftest import slapd  # noqa: F401 - the real slapd fixture of the auth tests
from tests.auth.slapd import GROUPS, PASSWORDS, PEOPLE, SERVICE_DN, SERVICE_PW, Slapd, group_dn
from tests.harness import free_port, postgres_server
from tests.helm.chart import render
from tests.helm.pods import LocalPod, hosts_file, unshare_prefix
from tests.helm.test_outside_kubernetes import _unshare_works, _wait_healthy

pytestmark = [pytest.mark.integration, pytest.mark.stack, pytest.mark.timeout(1200)]

RELEASE = "rr"
ROLE = "PipelineReader"
ROLES = {
    "version": 1,
    "permission_sets": {"browse": ["can_read on Website", "menu_access on DAGs"]},
    "roles": {ROLE: {"description": "Reads every DAG and its runs; no connections, no variables.",
                     "include": ["browse"],
                     "permissions": ["can_read on DAGs", "can_read on DAG Runs", "can_read on Task Instances"]}},
}
ALLOWED = ["can_read on DAGs", "can_read on DAG Runs"]
DENIED = ["can_read on Connections", "can_edit on Connections", "can_create on Variables"]


def _values(server: Slapd, api_port: int, mapping: dict[str, list[str]], *,
            allowed: list[str] = ALLOWED, denied: list[str] = DENIED) -> dict[str, Any]:
    return {
        "airdeck": {
            "api_server": {"port": api_port, "workers": 1},
            "auth": {"mode": "ldap", "ldap": {
                "url": server.url, "start_tls": True, "bind_dn": SERVICE_DN, "user_search_base": PEOPLE,
                "user_filter": "(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))",
                "group_search_base": GROUPS, "group_filter": "(objectClass=groupOfNames)",
                "roles_mapping": mapping, "default_role": "Public", "connect_timeout": 3, "response_timeout": 5}},
        },
        "auth": {"roles": ROLES, "ldap": {"bindPasswordSecret": {"name": f"{RELEASE}-ldap", "key": "bind-password"},
                                          "caSecret": {"name": f"{RELEASE}-ldap-ca", "key": "ca.crt"}}},
        "apiServer": {"replicas": 1},
        "tests": {"dagId": "", "signIn": {"username": "dave", "passwordSecret": {"name": f"{RELEASE}-dave"},
                                          "allowed": allowed, "denied": denied}},
    }


class Release:
    """One rendered release, its pods laid out under ``folder`` with the Secrets ``held``."""

    def __init__(self, folder: Path, values: dict[str, Any], held: dict[str, dict[str, str]]):
        self.folder = folder
        self.objects = render(values, name=RELEASE)
        self.configmaps = {o["metadata"]["name"]: o["data"] for o in self.objects if o["kind"] == "ConfigMap"}
        self.held = held
        services = [o["metadata"]["name"] for o in self.objects if o["kind"] == "Service"]
        self.prefix = unshare_prefix(hosts_file(folder, services))
        self.pods: list[LocalPod] = []

    def pod(self, kind: str, name: str = "") -> LocalPod:
        manifest = next(o for o in self.objects if o["kind"] == kind and o["metadata"]["name"].endswith(name))
        p = LocalPod(manifest, self.folder / "pods" / manifest["metadata"]["name"], self.configmaps, self.held,
                     self.prefix)
        p.lay_out()
        self.pods.append(p)
        return p

    def run(self, kind: str, log: Path, timeout: float = 600) -> int:
        p = self.pod(kind)
        p.start(log)
        return p.procs[0].wait(timeout)

    def stop(self) -> None:
        for p in reversed(self.pods):
            p.stop()


def _roles(dsn: str) -> dict[str, set[str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT r.name, a.name || ' on ' || v.name FROM ab_role r "
            "LEFT JOIN ab_permission_view_role pvr ON pvr.role_id = r.id "
            "LEFT JOIN ab_permission_view pv ON pv.id = pvr.permission_view_id "
            "LEFT JOIN ab_permission a ON a.id = pv.permission_id "
            "LEFT JOIN ab_view_menu v ON v.id = pv.view_menu_id").fetchall()
    out: dict[str, set[str]] = {}
    for role, permission in rows:
        out.setdefault(role, set())
        if permission:
            out[role].add(permission)
    return out


@pytest.fixture(scope="module")
def cluster(slapd: Slapd) -> Iterator[dict[str, Any]]:  # noqa: F811 - the imported fixture
    folder = Path(tempfile.mkdtemp(prefix="airdeck-roles-", dir="/tmp"))
    why = _unshare_works(folder)
    if why:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"cannot give the local pods their own /etc/hosts ({why}); needs `unshare --mount`")
    api = free_port()
    releases: list[Release] = []
    with postgres_server("airflow", secrets.token_urlsafe(12)) as pg:
        try:
            held = {
                f"{RELEASE}-fernet-key": {"fernet-key": Fernet.generate_key().decode()},
                f"{RELEASE}-jwt-secret": {"jwt-secret": secrets.token_urlsafe(32)},
                f"{RELEASE}-api-secret-key": {"api-secret-key": secrets.token_urlsafe(32)},
                f"{RELEASE}-jwt-private-key": {"jwt-private-key": GENERATED["jwt_private_key"][0]()},
                f"{RELEASE}-log-fetch-key": {"log-fetch-key": secrets.token_urlsafe(32)},
                f"{RELEASE}-admin-password": {"password": secrets.token_urlsafe(16)},
                f"{RELEASE}-database": {"url": pg.dsn()},
                f"{RELEASE}-broker": {"url": "redis://:unused@127.0.0.1:9/0"},
                # What the user (or the Terraform module) creates: the directory's Secrets, the canary's user.
                f"{RELEASE}-ldap": {"bind-password": SERVICE_PW},
                f"{RELEASE}-ldap-ca": {"ca.crt": slapd.ca_file.read_text()},
                f"{RELEASE}-dave": {"password": PASSWORDS["dave"]},
            }

            def release(name: str, mapping: dict[str, list[str]], **checks: list[str]) -> Release:
                where = folder / name
                where.mkdir()
                r = Release(where, _values(slapd, api, mapping, **checks), held)
                releases.append(r)
                return r

            yield {"folder": folder, "pg": pg, "release": release, "held": held}
        finally:
            for r in releases:
                r.stop()
    shutil.rmtree(folder, ignore_errors=True)


GOOD_MAPPING = {group_dn("data-engineers"): [ROLE], group_dn("airflow-admins"): ["Admin"]}


def test_bad_mapping_fails_the_job_naming_group_role_and_key_and_changes_nothing(cluster: dict[str, Any]) -> None:
    bad = cluster["release"]("bad", {group_dn("data-engineers"): ["PipelineReeder"]})
    log = bad.folder / "migrate.log"
    code = bad.run("Job", log)
    text = log.read_text()
    assert code == 2, text[-3000:]
    assert (f"auth.ldap.roles_mapping: group '{group_dn('data-engineers')}' maps to role 'PipelineReeder', "
            "which does not exist") in text, text[-3000:]
    assert "did you mean 'PipelineReader'?" in text and "nothing was changed" in text
    assert "Traceback" not in text
    assert ROLE not in _roles(cluster["pg"].dsn())  # the file's role was not created either


def test_migration_job_applies_the_roles_file_then_the_canary_signs_in_through_ldap(
        cluster: dict[str, Any]) -> None:
    good = cluster["release"]("good", GOOD_MAPPING)
    log = good.folder / "migrate.log"
    code = good.run("Job", log)
    text = log.read_text()
    assert code == 0, text[-4000:]
    assert f"+ role {ROLE}: missing; will be created" in text
    assert "roles: 1 role(s) changed; the live roles match " in text and "/etc/airdeck/roles.yaml" in text
    assert _roles(cluster["pg"].dsn())[ROLE] == {
        "can_read on Website", "menu_access on DAGs", "can_read on DAGs", "can_read on DAG Runs",
        "can_read on Task Instances"}

    api = good.pod("Deployment", "-api-server")
    api.run_init(good.folder / "api-server.log")
    api.start(good.folder / "api-server.log")
    _wait_healthy(api, 300)
    # The api-server reads the bind password and the CA from its own mounted files.
    mounted = api.mounts["/run/secrets/airdeck"]
    assert (mounted / "ldap_bind_password").read_text().strip() == SERVICE_PW
    assert (mounted / "ldap_ca.pem").read_text().strip() == cluster["held"][f"{RELEASE}-ldap-ca"]["ca.crt"].strip()
    environ = Path(f"/proc/{api.procs[0].pid}/environ").read_bytes().decode(errors="replace")
    cmdline = Path(f"/proc/{api.procs[0].pid}/cmdline").read_bytes().decode(errors="replace")
    assert SERVICE_PW not in environ and SERVICE_PW not in cmdline

    canary_log = good.folder / "canary.log"
    code = good.run("Pod", canary_log, timeout=300)
    text = canary_log.read_text()
    assert code == 0, text[-3000:]
    assert "signed in to" in text and "as dave" in text
    for permission in ALLOWED:
        assert f"ok: dave {permission}: granted" in text, text
    for permission in DENIED:
        assert f"ok: dave {permission}: refused" in text, text
    assert PASSWORDS["dave"] not in text
    # dave got the role through the group mapping, at sign-in.
    with psycopg.connect(cluster["pg"].dsn(), autocommit=True) as conn:
        roles = {r for (r,) in conn.execute(
            "SELECT r.name FROM ab_user u JOIN ab_user_role ur ON ur.user_id = u.id "
            "JOIN ab_role r ON r.id = ur.role_id WHERE u.username = 'dave'").fetchall()}
    assert roles == {ROLE, "Public"}

    # A canary that expects what the role does not grant fails, saying which permission differs.
    wrong = cluster["release"]("wrong", GOOD_MAPPING, allowed=["can_read on Connections"], denied=["can_read on DAGs"])
    wrong_log = wrong.folder / "canary.log"
    started = time.monotonic()
    assert wrong.run("Pod", wrong_log, timeout=300) == 1
    text = wrong_log.read_text()
    assert "WRONG: dave can_read on Connections: refused" in text
    assert "WRONG: dave can_read on DAGs: granted" in text
    assert time.monotonic() - started < 300
