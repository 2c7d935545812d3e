"""Validate-or-round-trip: any text in airdeck.yaml is refused with its key path, or reaches every
generated file exactly as given.

For each string field of airdeck.yaml (every value and every user-chosen key, found by walking a few
configurations that together switch every feature on), hypothesis writes hostile text into it: line
breaks, NUL, C1 controls, lone surrogates, ``%(ENV_X)s``, ``${HOME}``, ``~``, ``[program:x]``, quotes,
`` ;`` and `` #`` (inline comments), brackets. Then either the model refuses it, naming the key, or
each generated file, read back by its own consumer's parser, holds exactly what the plan meant it to
hold, and no section, program, option or assignment more:

* airflow.cfg of every component — Airflow's own ``AirflowConfigParser`` (which also expands ``$VAR``);
* supervisord.conf — supervisor's own ``ServerOptions`` (command split with shlex, environment parsed);
* webserver_config.py — executed, every assignment compared;
* airflow_local_settings.py — parsed with ``ast``, its one literal decoded;
* the Prometheus configuration and dispatcher.json — YAML/JSON, and ``promtool check config``.
"""

from __future__ import annotations

import ast
import configparser
import copy
import json
import shlex
import shutil
import subprocess
import typing
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any

import pytest
import yaml
from airdeck import concerns
from airdeck.alerts.wiring import local_settings_path, policy_config
from airdeck.auth import webserver_config
from airdeck.config.errors import ConfigError
from airdeck.config.loader import parse_config
from airdeck.config.model import AirdeckConfig
from airdeck.metrics.wiring import render_prometheus_config
from airdeck.plan.endpoints import Endpoints, Target
from airdeck.plan.model import Deployment
from airdeck.plan.render import fill, with_secrets
from airdeck.stack.supervisor import Program, render_config
from airdeck.state.home import AirdeckHome
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

FILES = Path("/tmp/airdeck-roundtrip-files")  # fixed: the examples must not depend on pytest's tmp_path

# ----------------------------------------------------------------------------------- configurations
F = f"{FILES}/"
FULL: dict[str, Any] = {
    "database": {"url": "postgresql+psycopg://u:p@db.example.com:5432/airflow"},
    "broker": {"url": "redis://:pw@redis.example.com:6379/0"},
    "api_server": {"host": "127.0.0.1", "base_url": "https://airflow.example.com"},
    "admin": {"username": "admin", "email": "admin@example.com", "first_name": "Platform", "last_name": "Admin"},
    "airflow": {"dags_folder": F + "dags", "default_timezone": "Europe/Paris",
                "extra_config": {"core": {"hostname_callable": "socket.getfqdn"}}},
    "secrets": {"vault": {"url": "https://vault.example.com:8200", "mount_point": "airflow",
                          "connections_path": "connections", "variables_path": "variables", "config_path": "config",
                          "ca_file": F + "ca.pem", "namespace": "ns",
                          "auth": {"method": "approle", "mount_point": "approle", "role_id": "role",
                                   "secret_id_file": F + "tok"}}},
    "tls": {"enabled": True, "cert_file": F + "cert.pem", "key_file": F + "key.pem", "ca_file": F + "ca.pem",
            "hostnames": ["airflow.example.com"]},
    "auth": {"mode": "ldap",
             "ldap": {"url": "ldaps://ldap.example.com", "ca_file": F + "ca.pem", "bind_dn": "cn=svc,dc=example,dc=org",
                      "bind_password_file": F + "pw", "user_search_base": "ou=people,dc=example,dc=org",
                      "user_filter": "(objectClass=person)", "uid_attribute": "uid",
                      "first_name_attribute": "givenName", "last_name_attribute": "sn", "email_attribute": "mail",
                      "group_search_base": "ou=groups,dc=example,dc=org", "group_filter": "(objectClass=groupOfNames)",
                      "group_member_attribute": "member",
                      "roles_mapping": {"cn=ops,ou=groups,dc=example,dc=org": ["Admin"]}, "default_role": "Viewer"},
             "break_glass_users": ["admin"], "login_rate_limit": "5 per minute"},
    "alerts": {"channels": {"mail": {"type": "email", "connection": "smtp_default", "to": ["oncall@example.com"],
                                     "from_email": "airflow@example.com"},
                            "slack": {"type": "slack", "connection": "slack_default"}},
               "routes": [{"dag_id": "etl_*", "tags": ["team-a"], "owners": ["ravi"], "channels": ["slack"]}],
               "default_channels": ["mail"],
               "slas": [{"dag_id": "etl_*", "tags": ["team-a"], "owners": ["ravi"], "within": "30m"}],
               "dispatcher": {"host": "127.0.0.1"}},
    "observability": {"prometheus": {"enabled": True, "alertmanagers": ["127.0.0.1:9093"]},
                      "tracing": {"otlp_endpoint": "http://127.0.0.1:4318"},
                      "grafana_url": "https://grafana.example.com", "bridge": {"mapping": F + "mapping.yml"}},
    "logging": {"remote": "s3://bucket/logs", "connection": "aws_logs", "endpoint": "http://127.0.0.1:9000"},
    "backup": {"schedule": "1d", "keep": 7, "folder": F + "backups", "passphrase_file": F + "pass"},
    "workers": {"run_as_root_reason": "single-user VM"},
}
#: The alternatives FULL cannot hold at once: a bind template, git bundles, other Vault log-ins.
OTHERS: dict[str, Any] = {
    "airflow": {"extra_config": {"webserver": {"instance_name": "Ops"}}},
    "secrets": {"vault": {"url": "https://vault.example.com:8200",
                          "auth": {"method": "kubernetes", "kubernetes_role": "airflow",
                                   "kubernetes_jwt_file": F + "jwt"}}},
    "auth": {"mode": "ldap", "ldap": {"url": "ldap://ldap.example.com",
                                      "user_dn_template": "uid={username},ou=people,dc=example,dc=org",
                                      "group_attribute": "memberOf", "bind_password_env": "LDAP_PW"}},
    "dags": {"bundles": [{"name": "main", "git": {"url": "https://git.example.com/dags.git", "branch": "main",
                                                  "subdir": "dags", "connection": "git_default"}},
                         {"name": "local", "folder": F + "dags"}]},
    "backup": {"key_file": F + "backup.key"},
}
TOKEN: dict[str, Any] = {"secrets": {"vault": {"url": "https://vault.example.com:8200",
                                               "auth": {"method": "token", "token_file": F + "tok"}}}}
SCENARIOS = {"full": FULL, "others": OTHERS, "token": TOKEN}

#: Mappings whose keys the user chooses (the other keys are the model's own).
FREE_KEYS = {("airflow", "extra_config"), ("airflow", "extra_config", "*"), ("alerts", "channels"),
             ("auth", "ldap", "roles_mapping")}

Path_ = tuple[Any, ...]


def _generic(path: Path_) -> Path_:
    """``path`` with list indices dropped and user-chosen keys written ``*``."""
    out: list[Any] = []
    for part in path:
        if isinstance(part, int):
            continue
        out.append("*" if tuple(out) in FREE_KEYS else part)
    return tuple(out)


def _leaves(data: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str]]:
    """Every string of ``data``: (path, "value") for values, (path, "key") for user-chosen keys."""
    if isinstance(data, dict):
        for key, value in data.items():
            if _generic(path) in FREE_KEYS:
                yield (*path, key), "key"
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _leaves(item, (*path, index))
    elif isinstance(data, str):
        yield path, "value"


TARGETS = [(name, path, kind) for name, data in SCENARIOS.items() for path, kind in _leaves(data)]


def _replace(data: dict[str, Any], path: Path_, kind: str, text: str) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    if kind == "value":
        node[path[-1]] = text
    else:
        node[text] = node.pop(path[-1])
    return out


# ------------------------------------------------------------------------------------ hostile text
FRAGMENTS = ["\n", "\r", "\r\n", "\x00", "\t", "\x0b", "\x1b[31m", "\x7f", "\x85", "\u2028", "\udc80", "%", "%%",
             "%(ENV_HOME)s", "%(here)s", "$HOME", "${HOME}", "$", "~", "~root", " ", "\u00a0", " ;", " #", ";", "#",
             "[", "]", "[program:x]", "\n[program:x]\ncommand=/bin/sh", "=", ":", '"', "'", "\\", ",", "{", "}",
             "{username}", "<", ">", "`", "|", "^", "*", "/", "..", "@", "x", "a", "0", "é", "日本", "🙂", "-", "_",
             "http://", "'''", '"""', "\\n", "')\nimport os\n('"]
HOSTILE = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=6).map("".join)


# --------------------------------------------------------------------------------------- round trips
@pytest.fixture(scope="module", autouse=True)
def _referenced_files() -> None:
    FILES.mkdir(exist_ok=True)
    (FILES / "dags").mkdir(exist_ok=True)
    for name in ("ca.pem", "cert.pem", "key.pem", "tok", "jwt", "pw", "mapping.yml"):
        (FILES / name).touch()
    for sub in (HOME.run, HOME.logs):  # supervisor checks that its log and socket folders exist
        sub.mkdir(parents=True, exist_ok=True)


HOME = AirdeckHome(Path("/tmp/airdeck-roundtrip-home"))


def _secret(cfg: AirdeckConfig, name: str) -> str:
    if name == "database_url" and cfg.database.url is not None:
        return cfg.database.url.get_secret_value()
    if name == "broker_url" and cfg.broker.url is not None:
        return cfg.broker.url.get_secret_value()
    return f"secret-{name}-%$x"


_PARSER: list[Any] = []


def _airflow_cfg(text: str) -> Any:
    """Airflow's own parser holding ``text`` (one parser, emptied each time: building one takes 70 ms)."""
    from airflow.configuration import AirflowConfigParser

    if not _PARSER:
        _PARSER.append(AirflowConfigParser())
    parser = _PARSER[0]
    for section in configparser.RawConfigParser.sections(parser):
        configparser.RawConfigParser.remove_section(parser, section)
    parser.read_string(text)
    return parser


def check_airflow_cfgs(cfg: AirdeckConfig, deployment: Deployment) -> None:
    for comp in [*deployment.components, deployment.cli]:
        if not comp.airflow:
            continue
        spec = next(f for f in comp.files if f.path.endswith("airflow.cfg"))
        def resolve(name: str) -> str:
            return _secret(cfg, name)

        expected = with_secrets(comp.settings, comp.secret_settings, lambda ref: ref.apply(_secret(cfg, ref.name)))
        parser = _airflow_cfg(fill(spec, resolve))
        raw = configparser.RawConfigParser
        read = {section: set(raw.options(parser, section)) for section in raw.sections(parser)}
        assert read == {section: set(options) for section, options in expected.items() if options}, comp.name
        for section, options in expected.items():
            for key, value in options.items():
                assert parser.get(section, key) == value, f"{comp.name}: [{section}] {key}"


def check_supervisord_conf(deployment: Deployment, tmp: Path) -> None:
    from supervisor.options import ServerOptions

    programs = [Program(c.name, list(c.argv), dict(c.env)) for c in deployment.components]
    text = render_config(HOME, programs, stop_timeout=10, start_retries=3)
    conf = tmp / "supervisord.conf"
    conf.write_text(text, encoding="utf-8")
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    found = {pc.name: pc for group in options.process_group_configs for pc in group.process_configs}
    assert set(found) == {"airdeck-events", *(p.name for p in programs)}
    for prog in programs:
        config = found[prog.name]
        assert shlex.split(config.command) == prog.argv, prog.name
        expected_env = {"AIRDECK_HOME": str(HOME.root), "AIRDECK_SERVICE": prog.name, **prog.env}
        assert config.environment == expected_env, prog.name


def check_webserver_config(cfg: AirdeckConfig) -> None:
    text = webserver_config.render(cfg)
    namespace: dict[str, Any] = {}
    exec(compile(text, "webserver_config.py", "exec"), namespace)  # noqa: S102 - the file under test
    assigned = {n.id for node in ast.parse(text).body if isinstance(node, ast.Assign) for n in node.targets
                if isinstance(n, ast.Name)}
    ldap = cfg.auth.ldap
    if cfg.auth.mode != "ldap" or ldap is None:
        assert namespace["AUTH_TYPE"] == 1 and "AIRDECK_LDAP" not in assigned
        return
    assert namespace["AIRDECK_LDAP"] == ldap.model_dump(mode="json")
    assert namespace["AUTH_LDAP_SERVER"] == ldap.url
    assert namespace["AUTH_ROLES_MAPPING"] == ldap.roles_mapping
    assert namespace["AUTH_USER_REGISTRATION_ROLE"] == ldap.default_role
    assert namespace["AIRDECK_BREAK_GLASS_USERS"] == cfg.auth.break_glass(cfg.admin.username)
    for key, attribute in (("UID", "uid_attribute"), ("FIRSTNAME", "first_name_attribute"),
                           ("LASTNAME", "last_name_attribute"), ("EMAIL", "email_attribute")):
        assert namespace[f"AUTH_LDAP_{key}_FIELD"] == getattr(ldap, attribute)
    assert assigned == {n for n in assigned if n.isupper()}  # nothing but the settings themselves


def check_local_settings(cfg: AirdeckConfig, deployment: Deployment) -> None:
    spec = next(f for f in deployment.files if f.path == str(local_settings_path(HOME)))
    tree = ast.parse(spec.content)
    assert [type(node) for node in tree.body] == [ast.ImportFrom, ast.Assign]
    call = tree.body[1].value  # type: ignore[attr-defined]
    assert isinstance(call, ast.Call) and len(call.args) == 1 and not call.keywords
    assert json.loads(ast.literal_eval(call.args[0])) == json.loads(json.dumps(policy_config(
        cfg, Endpoints(cfg, Target.local()))))


def check_prometheus(cfg: AirdeckConfig, deployment: Deployment, tmp: Path, promtool: bool) -> None:
    specs = [f for c in deployment.components for f in c.files if f.path.endswith("prometheus.yml")]
    if not cfg.observability.prometheus.enabled:
        assert not specs
        return
    (spec,) = specs
    assert yaml.safe_load(spec.content) == render_prometheus_config(cfg)
    if promtool and shutil.which("promtool"):
        path = tmp / "prometheus.yml"
        path.write_text(spec.content, encoding="utf-8")
        done = subprocess.run(["promtool", "check", "config", "--syntax-only", str(path)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def check_dispatcher_json(cfg: AirdeckConfig, deployment: Deployment) -> None:
    for comp in deployment.components:
        for spec in comp.files:
            if spec.quote == "json":
                document = json.loads(fill(spec, lambda name: _secret(cfg, name)))
                assert document["alerts"] == json.loads(json.dumps(cfg.alerts.model_dump(mode="json")))


def validate_or_round_trip(data: dict[str, Any], path: Path_, tmp: Path) -> str:
    dotted = ".".join(str(p) for p in path)
    try:
        cfg = parse_config(data, "airdeck.yaml")
    except ConfigError as exc:
        # Refused: the message names the key (or the mapping holding it), on one line per problem.
        assert any(issue.path and (dotted + ".").startswith(issue.path + ".") for issue in exc.issues), \
            (dotted, exc.render())
        assert all("\n" not in issue.render("airdeck.yaml") and "\r" not in issue.render("airdeck.yaml")
                   for issue in exc.issues)
        return "refused"
    deployment = concerns.plan(cfg, HOME)
    check_airflow_cfgs(cfg, deployment)
    check_supervisord_conf(deployment, tmp)
    check_webserver_config(cfg)
    check_local_settings(cfg, deployment)
    check_prometheus(cfg, deployment, tmp, promtool=path[0] == "observability")
    check_dispatcher_json(cfg, deployment)
    return "round-tripped"


# ------------------------------------------------------------------------------------------- tests
def test_the_scenarios_cover_every_string_field() -> None:
    """A new text field of the model must appear in one of the configurations above."""
    covered = {_generic(path) for _, path, _ in TARGETS}
    missing = sorted(".".join(p) for p in _model_text_fields(AirdeckConfig, ()) if p not in covered)
    assert not missing, f"add these keys to a scenario in {__name__}: {missing}"


def _model_text_fields(model: type[BaseModel], prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for name, field in model.model_fields.items():
        yield from _text_types(field.annotation, (*prefix, name))


def _text_types(annotation: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        yield from _text_types(args[0], path)
    elif origin in (typing.Union, type(int | str)):
        for arg in args:
            yield from _text_types(arg, path)
    elif origin is list:
        yield from _text_types(args[0], path)
    elif origin is dict:
        yield (*path, "*")  # a user-chosen key
        yield from _text_types(args[1], (*path, "*"))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _model_text_fields(annotation, path)
    elif annotation in (str, SecretStr) or (isinstance(annotation, type) and issubclass(annotation, PurePath)):
        yield path


def test_the_scenarios_round_trip_as_written(tmp_path: Path) -> None:
    for name, data in SCENARIOS.items():
        cfg = parse_config(data, name)
        deployment = concerns.plan(cfg, HOME)
        check_airflow_cfgs(cfg, deployment)
        check_supervisord_conf(deployment, tmp_path)
        check_webserver_config(cfg)
        check_local_settings(cfg, deployment)
        check_prometheus(cfg, deployment, tmp_path, promtool=True)
        check_dispatcher_json(cfg, deployment)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target=st.sampled_from(TARGETS), text=HOSTILE)
def test_hostile_text_is_refused_or_round_trips(target: tuple[str, Path_, str], text: str, tmp_path: Path) -> None:
    scenario, path, kind = target
    data = _replace(SCENARIOS[scenario], path, kind, text)
    event(validate_or_round_trip(data, path, tmp_path))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t[0]}:{'.'.join(map(str, t[1]))}:{t[2]}")
@pytest.mark.parametrize("text", ["127.0.0.1\n[program:x]\ncommand=/bin/sh",
                                  "a ;b #c \"q\" it's %(ENV_HOME)s %% [x]"])
def test_known_injections_are_refused_or_round_trip(target: tuple[str, Path_, str], text: str,
                                                    tmp_path: Path) -> None:
    scenario, path, kind = target
    validate_or_round_trip(_replace(SCENARIOS[scenario], path, kind, text), path, tmp_path)
