"""Sign-in and authorisation on a real platform: LDAP (slapd) users through the REST API and the real
login page, roles as code, permission enforcement per role, and the break-glass admin with the
directory down. One stack serves every test of this module; the tests run in file order and the last
one stops the directory (and starts it again)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.auth.slapd import PASSWORDS, SERVICE_PW, Slapd, user_dn
from tests.harness import REPO, Stack, running_stack

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.timeout(1800)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

#: Roles each directory user must have after signing in (mapped groups + default role Public).
EXPECTED = {
    "carol": {"Admin", "Public"},
    "olga": {"Op", "Public"},
    "ulrich": {"User", "Public"},
    "dave": {"DagAuthor", "User", "Public"},  # User through the nested group
    "vera": {"Viewer", "Public"},
    "fiona": {"team_finance", "Public"},
    "zoë": {"DagAuthor", "User", "Viewer", "Public"},
}


class AuthStack:
    def __init__(self, stack: Stack, slapd: Slapd, sync_check_before: subprocess.CompletedProcess[str],
                 sync_first: subprocess.CompletedProcess[str]):
        self.stack = stack
        self.slapd = slapd
        self.sync_check_before = sync_check_before
        self.sync_first = sync_first

    def login(self, username: str, password: str | None = None) -> httpx.Response:
        return httpx.post(f"{self.stack.base_url}/auth/token",
                          json={"username": username, "password": password or PASSWORDS[username]}, timeout=60)

    def token(self, username: str) -> str:
        response = self.login(username)
        assert response.status_code == 201, (username, response.status_code, response.text)
        return str(response.json()["access_token"])

    def as_user(self, token: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, f"{self.stack.base_url}/api/v2{path}",
                             headers={"Authorization": f"Bearer {token}"}, timeout=60, **kwargs)  # type: ignore[arg-type]

    def fab_user(self, username: str) -> httpx.Response:
        return httpx.get(f"{self.stack.base_url}/auth/fab/v1/users/{username}",
                         headers={"Authorization": f"Bearer {self.stack.token()}"}, timeout=60)

    def roles_of(self, username: str) -> set[str]:
        response = self.fab_user(username)
        assert response.status_code == 200, response.text
        return {role["name"] for role in response.json()["roles"]}


#: The service account's password reaches airdeck through this environment variable (auth.ldap.bind_password_env).
BIND_PASSWORD_ENV = "AIRDECK_TEST_LDAP_BIND_PASSWORD"


@pytest.fixture(scope="module")
def auth(slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthStack]:
    folder = tmp_path_factory.mktemp("authstack")
    # Search-then-bind with the service account's password in an environment variable of `airdeck up`
    # (the running api-server must get it: issue 13, finding 7).
    ldap = slapd.ldap_settings(bind_password_file=None, bind_password_env=BIND_PASSWORD_ENV)
    extra = {"auth": {"mode": "ldap", "ldap": ldap, "login_rate_limit": "1000 per minute",
                      "permission_cache_seconds": 2}}
    os.environ[BIND_PASSWORD_ENV] = SERVICE_PW
    with running_stack(folder, extra) as stack:
        roles_file = str(REPO / "security" / "roles.yaml")
        check_before = stack.airdeck("rbac", "sync", "--check", "--file", roles_file, check=False)
        first = stack.airdeck("rbac", "sync", "--file", roles_file, check=False)
        for dag_id in ("example_etl_daily", "example_fanout", "example_slow"):
            stack.wait_for_dag(dag_id)
        yield AuthStack(stack, slapd, check_before, first)
    os.environ.pop(BIND_PASSWORD_ENV, None)


# ---------------------------------------------------------------------------------------------- roles as code
def test_rbac_sync_reports_drift_then_applies_idempotently(auth: AuthStack) -> None:
    assert auth.sync_check_before.returncode == 1, auth.sync_check_before.stdout + auth.sync_check_before.stderr
    assert "+ role team_finance: missing" in auth.sync_check_before.stdout
    assert auth.sync_first.returncode == 0, auth.sync_first.stderr
    roles_file = str(REPO / "security" / "roles.yaml")
    again = auth.stack.airdeck("rbac", "sync", "--file", roles_file)
    assert "already in sync" in again.stdout
    assert auth.stack.airdeck("rbac", "sync", "--check", "--file", roles_file).returncode == 0


def test_rbac_export_round_trips(auth: AuthStack, tmp_path: Path) -> None:
    out = tmp_path / "exported.yaml"
    auth.stack.airdeck("rbac", "export", "--output", str(out))
    exported = yaml.safe_load(out.read_text())
    assert set(exported["roles"]) == {"DagAuthor", "team_finance", "team_platform"}
    assert "can_read on DAG:example_etl_daily" in exported["roles"]["team_finance"]["permissions"]
    assert auth.stack.airdeck("rbac", "sync", "--check", "--file", str(out)).returncode == 0


def test_rbac_drift_is_detected_after_a_live_change(auth: AuthStack, tmp_path: Path) -> None:
    # Someone grants team_finance every DAG by hand: --check must see it and sync must take it back.
    auth.stack.airdeck("airflow", "roles", "add-perms", "team_finance", "-r", "DAGs", "-a", "can_read")
    roles_file = str(REPO / "security" / "roles.yaml")
    check = auth.stack.airdeck("rbac", "sync", "--check", "--file", roles_file, check=False)
    assert check.returncode == 1 and "team_finance: - can_read on DAGs" in check.stdout
    auth.stack.airdeck("rbac", "sync", "--file", roles_file)
    assert auth.stack.airdeck("rbac", "sync", "--check", "--file", roles_file).returncode == 0


BAD_ROLE_FILES = [
    ("version: 1\nroles:\n  Broken:\n    permissions: ['can_read on Conections']\n",
     "roles.Broken: unknown permission 'can_read on Conections': Airflow has no resource 'Conections'; "
     "did you mean 'Connections'?"),
    ("version: 1\nroles:\n  Broken:\n    permissions: ['can_create on Website']\n",
     "on 'Website' the actions are can_read"),
    ("version: 1\nroles:\n  Broken:\n    permissions: ['can_create on DAG:x']\n", "on 'DAG:<dag_id>' the actions are"),
    ("version: 1\nroles:\n  Broken: {permissions: ['can_read on DAGs']}\n"
     "  Viewer: {permissions: ['can_read on DAGs']}\n", "roles.Viewer: Viewer is built into Airflow"),
    ("roles: {Broken: {permissions: ['can_read on DAGs']}", "malformed YAML"),
]


def test_rbac_bad_files_change_nothing(auth: AuthStack, tmp_path: Path) -> None:
    before = auth.stack.airdeck("rbac", "export").stdout
    for n, (body, needle) in enumerate(BAD_ROLE_FILES):
        path = tmp_path / f"roles-{n}.yaml"
        path.write_text(body)
        result = auth.stack.airdeck("rbac", "sync", "--file", str(path), check=False)
        assert result.returncode == 2, result.stdout + result.stderr
        assert str(path) in result.stderr and needle in result.stderr, result.stderr
        assert "nothing was changed" in result.stderr
    assert auth.stack.airdeck("rbac", "export").stdout == before
    assert "Broken" not in before


# ---------------------------------------------------------------------------------------------- LDAP sign-in
@pytest.mark.parametrize("username", sorted(EXPECTED))
def test_each_user_gets_exactly_the_mapped_roles_through_the_token_api(auth: AuthStack, username: str) -> None:
    token = auth.token(username)
    assert auth.roles_of(username) == EXPECTED[username]
    # A JWT for an Airflow user registered from the directory, with its attributes.
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["sub"]
    user = auth.fab_user(username).json()
    assert user["first_name"] and user["email"].endswith("@airdeck.test")


def test_non_ascii_user_attributes_are_registered(auth: AuthStack) -> None:
    auth.token("zoë")
    user = auth.fab_user("zoë").json()
    assert (user["first_name"], user["last_name"], user["email"]) == ("Zoë", "Ångström-Núñez", "zoe@airdeck.test")


@pytest.mark.parametrize("username,password", [
    ("vera", "not-her-password"),
    ("nobody-here", "whatever"),
    ("dan", PASSWORDS["dan"]),  # disabled in the directory
    ("*", "x"),
    (")(uid=*", "x"),
    ("*", PASSWORDS["vera"]),
    ("vera)(|(uid=*", PASSWORDS["vera"]),
])
def test_refused_sign_ins_create_no_user(auth: AuthStack, username: str, password: str) -> None:
    response = auth.login(username, password)
    assert response.status_code == 401, response.text
    if username != "vera":
        assert auth.fab_user(username).status_code == 404


def test_directory_user_cannot_use_a_local_password(auth: AuthStack) -> None:
    # Give vera a local password behind the directory's back: the token API's local fallback must refuse it.
    auth.token("vera")
    auth.stack.airdeck("airflow", "users", "reset-password", "-u", "vera", "-p", "local-Passw0rd!")
    assert auth.login("vera", "local-Passw0rd!").status_code == 401
    assert auth.login("vera").status_code == 201


def _eventually(check: object, expected: int, seconds: float = 20) -> int:
    # The api-server caches a user's roles for auth.permission_cache_seconds (2 s here).
    deadline = time.monotonic() + seconds
    status = check()  # type: ignore[operator]
    while status != expected and time.monotonic() < deadline:
        time.sleep(1)
        status = check()  # type: ignore[operator]
    return int(status)


def test_roles_follow_group_membership_at_next_sign_in(auth: AuthStack) -> None:
    token = auth.token("mallory")
    assert auth.roles_of("mallory") == {"Public"}
    assert auth.as_user(token, "GET", "/connections").status_code == 403
    auth.slapd.add_member("airflow-ops", user_dn("mallory"))
    try:
        token = auth.token("mallory")
        assert auth.roles_of("mallory") == {"Op", "Public"}
        assert _eventually(lambda: auth.as_user(token, "GET", "/connections").status_code, 200) == 200
    finally:
        auth.slapd.remove_member("airflow-ops", user_dn("mallory"))
    token = auth.token("mallory")
    assert auth.roles_of("mallory") == {"Public"}
    assert _eventually(lambda: auth.as_user(token, "GET", "/connections").status_code, 403) == 403


def test_ldap_check_shows_dn_groups_and_roles(auth: AuthStack) -> None:
    result = auth.stack.airdeck("ldap", "check", "--user", "dave", "--json")
    data = json.loads(result.stdout)
    assert data["dn"] == user_dn("dave")
    assert len(data["groups"]) == 2 and set(data["roles"]) == EXPECTED["dave"]
    assert auth.fab_user("nobody-checked").status_code == 404
    missing = auth.stack.airdeck("ldap", "check", "--user", "nobody-checked", check=False)
    assert missing.returncode == 1 and "no user 'nobody-checked'" in missing.stderr
    assert auth.fab_user("nobody-checked").status_code == 404


# ---------------------------------------------------------------------------------------------- enforcement
def _trigger(auth: AuthStack, token: str, dag_id: str) -> httpx.Response:
    return auth.as_user(token, "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})


def test_viewer_cannot_trigger_or_read_connections(auth: AuthStack) -> None:
    token = auth.token("vera")
    assert auth.as_user(token, "GET", "/dags").status_code == 200
    assert _trigger(auth, token, "example_etl_daily").status_code == 403
    assert auth.as_user(token, "GET", "/connections").status_code == 403


def test_user_can_trigger_but_not_read_connections(auth: AuthStack) -> None:
    token = auth.token("ulrich")
    assert _trigger(auth, token, "example_etl_daily").status_code == 200
    assert auth.as_user(token, "GET", "/connections").status_code == 403


def test_op_can_read_connections(auth: AuthStack) -> None:
    token = auth.token("olga")
    assert auth.as_user(token, "GET", "/connections").status_code == 200
    assert auth.as_user(token, "GET", "/variables").status_code == 200


def test_dag_author_reads_every_dag_and_no_connection(auth: AuthStack) -> None:
    token = auth.token("dave")
    dags = {d["dag_id"] for d in auth.as_user(token, "GET", "/dags").json()["dags"]}
    assert {"example_etl_daily", "example_fanout", "example_slow"} <= dags
    assert auth.as_user(token, "GET", "/connections").status_code == 403
    assert auth.as_user(token, "GET", "/variables").status_code == 200


def test_team_role_sees_and_runs_only_its_dags(auth: AuthStack) -> None:
    token = auth.token("fiona")
    dags = {d["dag_id"] for d in auth.as_user(token, "GET", "/dags").json()["dags"]}
    assert dags == {"example_etl_daily", "example_slow"}
    assert auth.as_user(token, "GET", "/dags/example_etl_daily").status_code == 200
    assert auth.as_user(token, "GET", "/dags/example_fanout").status_code == 403
    assert auth.as_user(token, "GET", "/dags/example_fanout/dagRuns").status_code == 403
    assert _trigger(auth, token, "example_fanout").status_code == 403
    assert _trigger(auth, token, "example_etl_daily").status_code == 200
    assert auth.as_user(token, "GET", "/connections").status_code == 403


def test_admin_from_the_directory_can_read_connections(auth: AuthStack) -> None:
    assert auth.as_user(auth.token("carol"), "GET", "/connections").status_code == 200


# ---------------------------------------------------------------------------------------------- one login, one account
def _accounts_like(auth: AuthStack, name: str) -> list[str]:
    response = httpx.get(f"{auth.stack.base_url}/auth/fab/v1/users", params={"limit": 1000},
                         headers={"Authorization": f"Bearer {auth.stack.token()}"}, timeout=60)
    assert response.status_code == 200, response.text
    return sorted(u["username"] for u in response.json()["users"] if u["username"].strip().lower() == name)


def _set_active(auth: AuthStack, username: str, active: bool) -> None:
    # What "Is active" off in the FAB user list does: ab_user.active = false.
    import psycopg

    password = (auth.stack.home / "secrets" / "database_password").read_text().strip()
    port = auth.stack.settings["database"]["embedded"]["port"]
    with psycopg.connect(host="127.0.0.1", port=port, user="airflow", password=password, dbname="airflow",
                         autocommit=True, connect_timeout=10) as conn:
        done = conn.execute("UPDATE ab_user SET active = %s WHERE username = %s", (active, username))
        assert done.rowcount == 1


SPELLINGS = ["olga ", " olga", "OLGA", " Olga "]


def test_every_spelling_of_a_login_is_the_one_directory_account(auth: AuthStack) -> None:
    # issue 13, finding 3: the directory matches uid ignoring case and surrounding spaces; the Airflow
    # account must be the entry's own uid, so no second account is registered for "olga ".
    assert auth.login("olga").status_code == 201
    for spelling in SPELLINGS:
        response = auth.login(spelling, PASSWORDS["olga"])
        assert response.status_code == 201, (spelling, response.text)
    assert _accounts_like(auth, "olga") == ["olga"]
    assert auth.roles_of("olga") == EXPECTED["olga"]


def test_a_deactivated_account_is_refused_in_every_spelling(auth: AuthStack) -> None:
    assert auth.login("olga").status_code == 201
    _set_active(auth, "olga", False)
    try:
        for spelling in ["olga", *SPELLINGS]:
            response = auth.login(spelling, PASSWORDS["olga"])
            assert response.status_code == 401, (spelling, response.text)
        client = _form_login(auth.stack.base_url, "olga ", PASSWORDS["olga"])
        try:
            assert "_token" not in client.cookies
        finally:
            client.close()
    finally:
        _set_active(auth, "olga", True)
    assert auth.login("olga ", PASSWORDS["olga"]).status_code == 201
    assert _accounts_like(auth, "olga") == ["olga"]


def test_service_account_password_from_the_environment_reaches_only_the_api_server_file(auth: AuthStack) -> None:
    # issue 13, finding 7: every sign-in above went through search-then-bind with bind_password_env; the
    # password is in the 0600 webserver_config.py, not in supervisord.conf nor any service's command line.
    home = auth.stack.home
    assert auth.stack.settings["auth"]["ldap"]["bind_password_env"] == BIND_PASSWORD_ENV
    assert SERVICE_PW not in (home / "run" / "supervisord.conf").read_text()
    webserver_config = home / "airflow" / "webserver_config.py"
    assert webserver_config.stat().st_mode & 0o777 == 0o600
    assert SERVICE_PW in webserver_config.read_text()
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        assert SERVICE_PW not in " ".join(proc.info["cmdline"] or [])


# ---------------------------------------------------------------------------------------------- browser
def test_browser_login_through_the_real_login_page(auth: AuthStack) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    base = auth.stack.base_url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/auth/login/", timeout=60_000)
            page.fill("input[name=username]", "zoë")
            page.fill("input[name=password]", PASSWORDS["zoë"])
            page.click("[type=submit]")
            page.wait_for_load_state("networkidle", timeout=60_000)
            cookies = {c["name"]: c["value"] for c in page.context.cookies()}
            assert "_token" in cookies, f"no session token; page at {page.url}: {page.content()[:500]}"
            assert "/auth/login" not in page.url
        finally:
            browser.close()
    session = {"_token": cookies["_token"]}
    me = httpx.get(f"{base}/ui/auth/me", cookies=session, timeout=60)
    assert me.status_code == 200 and me.json()["username"] == "zoë"
    assert auth.roles_of("zoë") == EXPECTED["zoë"]
    # The session carries those roles: DAGs yes (Viewer/User/DagAuthor), connections no (not Op).
    assert httpx.get(f"{base}/api/v2/dags", cookies=session, timeout=60).status_code == 200
    assert httpx.get(f"{base}/api/v2/connections", cookies=session, timeout=60).status_code == 403


def _form_login(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=True)
    page = client.get("/auth/login/")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token, page.text[:500]
    client.post("/auth/login/", data={"csrf_token": token.group(1), "username": username, "password": password})
    return client


# ---------------------------------------------------------------------------------------------- outage (last)
def test_directory_down_refuses_ldap_users_and_break_glass_admin_still_works(auth: AuthStack) -> None:
    creds = auth.stack.credentials()
    auth.slapd.stop()
    try:
        started = time.monotonic()
        assert auth.login("vera").status_code == 401
        assert time.monotonic() - started < 30
        admin = auth.login(creds["username"], creds["password"])
        assert admin.status_code == 201
        token = admin.json()["access_token"]
        assert auth.as_user(token, "GET", "/connections").status_code == 200
        # And through the login form of the UI.
        admin_client = _form_login(auth.stack.base_url, creds["username"], creds["password"])
        vera_client = _form_login(auth.stack.base_url, "vera", PASSWORDS["vera"])
        try:
            assert "_token" in admin_client.cookies
            assert "_token" not in vera_client.cookies
        finally:
            admin_client.close()
            vera_client.close()
        log = (auth.stack.home / "logs" / "api-server.log").read_text(errors="replace")
        assert re.search(r"LDAP directory ldap://127\.0\.0\.1:\d+ is unreachable.*sign-in of 'vera' refused", log)
    finally:
        auth.slapd.start()
    assert auth.login("vera").status_code == 201
