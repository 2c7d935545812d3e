"""The auth: section and the rendered webserver_config.py: bad input fails loudly, nothing is written."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from airdeck.auth.roles import RolesFileError, load_roles
from airdeck.auth.webserver_config import render
from airdeck.config import ConfigError
from airdeck.config.loader import parse_config
from airdeck.config.model import AirdeckConfig
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

REPO = Path(__file__).resolve().parents[2]

LDAP = {
    "url": "ldaps://ldap.example.org:636",
    "bind_dn": "cn=svc,dc=example,dc=org",
    "bind_password_env": "AIRDECK_TEST_BIND_PW",
    "user_search_base": "ou=people,dc=example,dc=org",
    "roles_mapping": {"cn=ops,ou=groups,dc=example,dc=org": ["Op"]},
}


def _errors(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "airdeck.yaml")
    return info.value.render()


def test_unknown_auth_keys_name_the_path_and_closest_key() -> None:
    assert "auth.mdoe: unknown key (did you mean 'mode'?)" in _errors({"auth": {"mdoe": "ldap"}})
    assert "auth.ldap.url_typo: unknown key" in _errors({"auth": {"mode": "ldap", "ldap": {**LDAP, "url_typo": 1}}})


def test_inline_bind_password_is_refused_with_the_way_out() -> None:
    text = _errors({"auth": {"mode": "ldap", "ldap": {**LDAP, "bind_password": "hunter2"}}})
    assert "auth.ldap" in text and "bind_password_file" in text and "bind_password_env" in text
    assert "hunter2" not in text


@pytest.mark.parametrize("ldap,needle", [
    ({**LDAP, "url": "http://x"}, "must start with ldap:// or ldaps://"),
    ({**LDAP, "url": "ldap://ldap.example.org", "start_tls": False}, "clear text"),
    ({**LDAP, "user_filter": "(objectClass=person"}, "balanced"),
    ({k: v for k, v in LDAP.items() if k != "bind_password_env"}, "bind_password_file or bind_password_env"),
    ({"url": "ldaps://x"}, "user_dn_template"),
    ({**LDAP, "bind_dn": None, "user_dn_template": "uid=x,dc=org"}, "{username}"),
    ({**LDAP, "roles_mapping": {"ops": ["Op"]}}, "group DN"),
])
def test_bad_ldap_settings(ldap: dict, needle: str) -> None:
    assert needle in _errors({"auth": {"mode": "ldap", "ldap": ldap}})


def test_ldap_mode_needs_the_ldap_section() -> None:
    assert "ldap: section is missing" in _errors({"auth": {"mode": "ldap"}})


def test_db_mode_renders_auth_db() -> None:
    text = render(parse_config({}))
    assert "AUTH_TYPE = AUTH_DB" in text and "SECURITY_MANAGER_CLASS" not in text
    compile(text, "webserver_config.py", "exec")


def test_ldap_mode_renders_the_security_manager_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRDECK_TEST_BIND_PW", "s3cret-value")
    cfg = parse_config({"auth": {"mode": "ldap", "ldap": LDAP, "break_glass_users": ["root-admin"]}})
    text = render(cfg)
    tree = ast.parse(text)
    values = {node.targets[0].id: node.value for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    assert ast.unparse(values["AUTH_TYPE"]) == "AUTH_LDAP"
    assert ast.unparse(values["SECURITY_MANAGER_CLASS"]) == "AirdeckSecurityManager"
    assert ast.literal_eval(values["AUTH_ROLES_MAPPING"]) == LDAP["roles_mapping"]
    assert ast.literal_eval(values["AUTH_USER_REGISTRATION"]) is True
    assert ast.literal_eval(values["AUTH_ROLES_SYNC_AT_LOGIN"]) is True
    assert ast.literal_eval(values["AIRDECK_BREAK_GLASS_USERS"]) == ["root-admin"]
    assert ast.literal_eval(values["AIRDECK_LDAP"])["bind_password_env"] == "AIRDECK_TEST_BIND_PW"
    assert "s3cret-value" not in text


def _check_and_write(cfg: AirdeckConfig, home: AirdeckHome) -> Path:
    """What `airdeck up` does with webserver_config.py: the auth concern's check, then the file of the plan."""
    from types import SimpleNamespace

    from airdeck import concerns
    from airdeck.auth.concern import check_webserver_config
    from airdeck.plan.render import materialise

    deployment = concerns.plan(cfg, home)
    check_webserver_config(SimpleNamespace(cfg=cfg, home=home, deployment=deployment))  # type: ignore[arg-type]
    (spec,) = [f for f in deployment.files if f.path == str(home.webserver_config)]
    return materialise(spec, concerns.resolver(cfg, home, SecretStore(home.secrets), generate=True))

def test_rendering_fails_when_fab_config_file_points_elsewhere(tmp_path: Path) -> None:
    cfg = parse_config({"airflow": {"extra_config": {"fab": {"config_file": str(tmp_path / "other.py")}}}})
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    with pytest.raises(ConfigError) as info:
        _check_and_write(cfg, home)
    assert "[fab] config_file of api-server" in info.value.render()
    assert not home.webserver_config.exists()


def test_rendering_fails_when_the_bind_password_cannot_be_read(tmp_path: Path) -> None:
    ldap = {**LDAP, "bind_password_env": None, "bind_password_file": str(tmp_path / "missing")}
    cfg = parse_config({"auth": {"mode": "ldap", "ldap": ldap}})
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    with pytest.raises(ConfigError, match="bind_password_file"):
        _check_and_write(cfg, home)
    assert not home.webserver_config.exists()


@pytest.mark.parametrize("password", ["plain-pw", 'q"uo\'te\\back', "line\nbreak\ttab", "zoë-😀-\u2028",
                                      "@@secret:x@@"])
def test_bind_password_from_the_environment_reaches_the_api_server_through_the_private_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    # supervisord does not pass the airdeck command's environment on (issue 13, finding 7): the password
    # goes into the 0600 webserver_config.py, and the api-server's security manager reads it from there.
    from airdeck import concerns
    from airdeck.auth.security_manager import whole_text
    from airdeck.plan.render import masked_settings

    monkeypatch.setenv("AIRDECK_TEST_BIND_PW", password)
    cfg = parse_config({"auth": {"mode": "ldap", "ldap": LDAP}})
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    path = _check_and_write(cfg, home)
    assert path.stat().st_mode & 0o777 == 0o600
    namespace: dict = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102 - our own file
    assert whole_text(namespace["AIRDECK_LDAP_BIND_PASSWORD"]) == password
    # Nowhere else: not in any component's argv, environment or airflow.cfg settings.
    deployment = concerns.plan(cfg, home)
    for comp in deployment.components:
        shown = repr((comp.argv, dict(comp.env), masked_settings(comp, lambda name: "***")))
        assert password not in shown and "AIRDECK_TEST_BIND_PW" not in repr(dict(comp.env))


def test_unset_bind_password_variable_stops_rendering_with_its_name(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRDECK_TEST_BIND_PW", raising=False)
    cfg = parse_config({"auth": {"mode": "ldap", "ldap": LDAP}})
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    with pytest.raises(ConfigError, match="AIRDECK_TEST_BIND_PW"):
        _check_and_write(cfg, home)
    assert not home.webserver_config.exists()


def test_rendered_file_is_private_and_named_by_every_service(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    path = _check_and_write(parse_config({}), home)
    assert path == home.webserver_config and path.stat().st_mode & 0o077 == 0


def test_shipped_roles_file_is_valid() -> None:
    roles = load_roles(REPO / "security" / "roles.yaml")
    assert {"DagAuthor", "team_finance", "team_platform"} <= set(roles)
    assert ("can_read", "DAG:example_etl_daily") in roles["team_finance"].permissions
    assert ("can_read", "DAGs") not in roles["team_finance"].permissions  # would reveal every DAG


ONE_ROLE = "version: 1\nroles:\n  X:\n"


@pytest.mark.parametrize("text,needle", [
    ("version: 1\nroles: [", "malformed YAML: line"),
    (ONE_ROLE + "    permisions: ['can_read on DAGs']\n", "roles.X.permisions: unknown key (did you mean 'perm"),
    ("version: 1\nroles:\n  Admin:\n    permissions: ['can_read on DAGs']\n", "roles.Admin: Admin is built in"),
    (ONE_ROLE + "    permissions: ['can_raed on DAGs']\n", "unknown action 'can_raed'; did you mean 'can_read'?"),
    (ONE_ROLE + "    permissions: ['read DAGs']\n", "is not '<action> on <resource>'"),
    (ONE_ROLE + "    include: [nope]\n    permissions: ['can_read on DAGs']\n", "no permission set named 'nope'"),
    ("version: 2\nroles:\n  X:\n    permissions: ['can_read on DAGs']\n", "version: must be 1"),
])
def test_malformed_roles_files_name_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text(text)
    with pytest.raises(RolesFileError) as info:
        load_roles(path)
    assert str(path) in info.value.render() and needle in info.value.render()


def test_airdeck_up_refuses_to_start_when_webserver_config_would_be_ignored(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import yaml

    from tests.harness import write_config

    config = write_config(tmp_path, {"airflow": {"extra_config": {"fab": {"config_file": "/nonexistent/wc.py"}}}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRDECK_HOME": str(tmp_path / "home"), "AIRDECK_CONFIG": str(config)})
    result = subprocess.run([sys.executable, "-m", "airdeck.cli.main", "up", "--detach"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "[fab] config_file of api-server" in result.stderr and "/nonexistent/wc.py" in result.stderr
    assert not (tmp_path / "home" / "run" / "supervisord.pid").exists()
    assert yaml.safe_load(config.read_text())  # the file itself is untouched


def test_a_mapping_to_a_role_that_does_not_exist_names_group_role_and_key() -> None:
    from airdeck.auth.roles import unknown_mapped_roles

    mapping = {"cn=ops,ou=groups,dc=example,dc=org": ["Op"], "cn=fin,ou=groups,dc=example,dc=org": ["team_finanse"],
               "cn=eng,ou=groups,dc=example,dc=org": ["DagAuthor"]}
    problems = unknown_mapped_roles(mapping, "Viewer", {"team_finance", "DagAuthor"}, "/etc/airdeck/roles.yaml")
    assert len(problems) == 1
    assert problems[0].startswith("auth.ldap.roles_mapping: group 'cn=fin,ou=groups,dc=example,dc=org' maps to "
                                  "role 'team_finanse', which does not exist")
    assert "/etc/airdeck/roles.yaml" in problems[0] and "did you mean 'team_finance'?" in problems[0]
    # A role only in the database (made in the UI) counts; so do the built-in ones.
    assert unknown_mapped_roles(mapping, "Public", {"team_finanse", "DagAuthor"}, "f") == []
    assert unknown_mapped_roles({}, "Reader", set(), "f") == [
        "auth.ldap.default_role: role 'Reader' does not exist: it is not built into Airflow, not declared in f and "
        "not in the database; declare it under roles: in f or name one of Admin, Op, Public, User, Viewer"]
