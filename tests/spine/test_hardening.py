"""Regression tests of the hardening review (issue 13): each one failed on the code before its fix.

Findings 1, 10, 11, 13 and 14 (configuration and generated files) and the port-collision check of
``up --with-prometheus``; the hostile-input classes behind them are covered by test_roundtrip.py.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from airdeck import concerns
from airdeck.cli.commands import lifecycle
from airdeck.config.errors import ConfigError
from airdeck.config.loader import load_config, parse_config
from airdeck.errors import AirdeckError
from airdeck.stack.errors import PortInUseError
from airdeck.stack.orchestrator import Stack, effective_config
from airdeck.stack.ports import check_ports_free
from airdeck.stack.supervisor import Program, render_config
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import write_private
from airdeck.tasklogs.reader import TaskLog

from tests.cli.helpers import run, run_child

REPO = Path(__file__).resolve().parents[2]


def refused(data: dict, key: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "airdeck.yaml")
    paths = [issue.path for issue in caught.value.issues]
    assert key in paths, (key, caught.value.render())
    return caught.value


# ------------------------------------------------------------------ 1: config → process injection
def test_1_a_newline_in_a_value_is_refused_with_its_key() -> None:
    error = refused({"api_server": {"host": "127.0.0.1\n[program:x]\ncommand=/bin/touch /tmp/pwned"}},
                    "api_server.host")
    assert "line feed" in error.render() and "[program:x]\n" not in error.render()


@pytest.mark.parametrize("value", ["http://127.0.0.1:4318\n", "http://127.0.0.1:4318\r", "http://a\x00b",
                                   "http://a b:4318"])
def test_1_a_broken_otlp_endpoint_is_refused(value: str) -> None:
    refused({"observability": {"tracing": {"otlp_endpoint": value}}}, "observability.tracing.otlp_endpoint")


def test_1_config_validate_exits_2_on_an_injected_program(tmp_path: Path) -> None:
    (tmp_path / "airdeck.yaml").write_text('api_server:\n  host: "127.0.0.1\\n[program:x]\\ncommand=/bin/true"\n')
    done = run_child(tmp_path, "config", "validate")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "api_server.host" in done.stderr and "Traceback" not in done.stderr


def test_1_supervisord_conf_keeps_every_argument_whole(tmp_path: Path) -> None:
    """Characters supervisord's parser treats specially (inline comments, %, quotes) stay in their argument."""
    from supervisor.options import ServerOptions

    home = AirdeckHome(tmp_path / "home")
    home.run.mkdir(parents=True)
    home.logs.mkdir(parents=True)
    argv = ["/bin/echo", "a ;b", "c #d", "%(ENV_HOME)s", 'say "hi"', "it's", "back\\slash"]
    env = {"JSON": '{"conn_type": "wasb", "host": "https://a.example.com"}', "PCT": "100%"}
    conf = home.run / "supervisord.conf"
    conf.write_text(render_config(home, [Program("p", argv, env)], stop_timeout=5, start_retries=1))
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    (config,) = [pc for g in options.process_group_configs for pc in g.process_configs if pc.name == "p"]
    import shlex

    assert shlex.split(config.command) == argv
    assert config.environment["JSON"] == env["JSON"] and config.environment["PCT"] == "100%"


def test_1_an_environment_value_supervisord_cannot_hold_is_refused(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    for value in ("both \" and '", "\"quoted\"", "a ;comment"):
        with pytest.raises(AirdeckError, match="environment variable X"):
            render_config(home, [Program("p", ["/bin/true"], {"X": value})], stop_timeout=5, start_retries=1)


# ------------------------------------------------------------------ 10: tracebacks → one-line errors
def test_10_worker_log_ports_beyond_65535_are_refused() -> None:
    error = refused({"workers": {"replicas": 3, "log_server_port": 65534}}, "")
    assert "workers.log_server_port" in error.render() and "65533" in error.render()


def test_10_a_lone_surrogate_is_refused_before_any_file_is_written(tmp_path: Path) -> None:
    refused({"airflow": {"dags_folder": "/tmp/\udc80dags"}}, "airflow.dags_folder")


@pytest.mark.parametrize("text", ["a: " + "[" * 1000 + "]" * 1000, "a: " + "{a: " * 1000 + "1" + "}" * 1000,
                                  "- " * 1000 + "1"])
def test_10_deep_yaml_is_one_error_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "airdeck.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match="nested more than"):
        load_config(path)


@pytest.mark.parametrize("url", ["redis://h:abc/0", "redis://:secret@h:99999/0", "redis://:secret@/0",
                                 "redis://h:6379/zero"])
def test_10_a_malformed_broker_url_is_a_config_error_that_does_not_echo_it(url: str) -> None:
    error = refused({"broker": {"url": url}}, "broker.url")
    assert "secret" not in error.render()


def test_10_a_malformed_database_port_is_a_config_error() -> None:
    error = refused({"database": {"url": "postgresql+psycopg://u:pw-secret@h:abc/db"}}, "database.url")
    assert "pw-secret" not in error.render()


def test_10_rich_markup_in_an_error_is_printed_literally(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "airdeck.yaml").write_text('api_server:\n  "[/]": 1\n  "[red]x": 2\n')
    ran = run(capsys, "--config", "airdeck.yaml", "--home", str(tmp_path / "home"), "config", "validate")
    assert ran.code == 2 and "[/]" in ran.err and "[red]x" in ran.err


def test_10_a_run_id_with_rich_markup_is_printed_literally(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A run id is free text (``manual__[/]``): it used to go through rich markup and crash the command.

    The api-server is replaced by the log it would return; reading it is tested in tests/tasklogs."""
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    write_private(home.secrets / "admin_password", "pw")
    log = TaskLog("d", "manual__[/]x[red]", "t", 1, -1, [{"event": "hello"}])
    monkeypatch.setattr(lifecycle, "read_task_log", lambda *a, **k: log)
    monkeypatch.chdir(tmp_path)
    ran = run(capsys, "--home", str(home.root), "logs", "--task", "d", "t")
    assert ran.code == 0, ran.err
    assert "manual__[/]x[red]" in ran.err and "hello" in ran.out


# ------------------------------------------------------------------ 11: extra_config names
@pytest.mark.parametrize(("section", "key"), [("core", "a key"), ("core", "x]\n[api_auth"), ("bad section", "k"),
                                              ("[core]", "k"), ("core", "k=v"), ("core", "#k"), ("core", "")])
def test_11_extra_config_names_airflow_cannot_read_are_refused(section: str, key: str) -> None:
    refused({"airflow": {"extra_config": {section: {key: "1"}}}}, "airflow.extra_config")


# ------------------------------------------------------------------ 13: the triggerer's log server
def test_13_the_triggerer_log_server_has_its_own_key_and_port(tmp_path: Path) -> None:
    cfg = parse_config({"workers": {"replicas": 2}, "triggerer": {"log_server_port": 18794}})
    deployment = concerns.plan(cfg, AirdeckHome(tmp_path / "home"))
    triggerer = deployment.component("triggerer")
    assert ("triggerer.log_server_port", 18794) in triggerer.ports
    for comp in [*deployment.components, deployment.cli]:
        if comp.airflow:
            assert comp.settings["logging"]["trigger_log_server_port"] == "18794", comp.name


def test_13_by_default_no_two_components_share_a_port(tmp_path: Path) -> None:
    """Airflow's default 8794 is worker 2's port; airdeck's default is not."""
    cfg = parse_config({"workers": {"replicas": 32}})
    ports = [port for comp in concerns.plan(cfg, AirdeckHome(tmp_path / "home")).components for _, port in comp.ports]
    assert len(ports) == len(set(ports)) and cfg.triggerer.log_server_port in ports


def test_13_the_triggerer_port_collides_with_no_other_key() -> None:
    refused({"triggerer": {"log_server_port": 8080}}, "")


def test_13_up_refuses_to_start_when_the_triggerer_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = parse_config({"triggerer": {"log_server_port": port}})
        stack = Stack(cfg, AirdeckHome(tmp_path / "home"))
        with pytest.raises(PortInUseError, match=rf"port {port} \(triggerer.log_server_port\)"):
            stack.check_ports()
        # the check of one component, as `up` runs it
        with pytest.raises(PortInUseError):
            check_ports_free(list(stack.deployment.component("triggerer").ports))


# ------------------------------------------------------------------ 12 (part): up --with-prometheus
def test_12_with_prometheus_checks_port_collisions() -> None:
    cfg = parse_config({"api_server": {"port": 9090}})  # Prometheus's default port, Prometheus off
    with pytest.raises(ConfigError) as caught:
        effective_config(cfg, {"with_prometheus": True})
    assert caught.value.issues[0].path == "observability.prometheus.port"
    assert "api_server.port" in caught.value.render()


# ------------------------------------------------------------------ 14: hygiene
@pytest.mark.parametrize("value", ["not an address", "a@b@c", "x\n@y.z", "<a@b.c>", "a@", "@b.c"])
def test_14_from_email_must_be_an_address(value: str) -> None:
    refused({"alerts": {"channels": {"m": {"type": "email", "connection": "smtp_default", "to": ["a@example.com"],
                                           "from_email": value}}}}, "alerts.channels.m.from_email")


@pytest.mark.parametrize("value", ["Mars/Olympus", "../../etc/passwd", "Europe/paris ", ""])
def test_14_default_timezone_must_be_a_time_zone(value: str) -> None:
    refused({"airflow": {"default_timezone": value}}, "airflow.default_timezone")


@pytest.mark.parametrize("value", ["utc", "UTC", "system", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_14_real_time_zones_are_accepted(value: str) -> None:
    assert parse_config({"airflow": {"default_timezone": value}}).airflow.default_timezone == value


@pytest.mark.parametrize("value", ["${HOME}/x", "$HOME", "a$PATH", "~/logs", "~root"])
def test_14_values_airflow_would_expand_are_refused(value: str) -> None:
    error = refused({"airflow": {"extra_config": {"logging": {"base_log_folder": value}}}}, "airflow.extra_config")
    assert "expand" in error.render()


def test_14_a_dollar_in_a_database_password_is_refused_without_echoing_it() -> None:
    error = refused({"database": {"url": "postgresql+psycopg://u:pa$word@h:5432/db"}}, "database.url")
    assert "pa$word" not in error.render() and "$word" not in error.render() and "%24" in error.render()


@pytest.mark.parametrize("name", ["a%b", "a$b", 'a"b', "a;b", "a#b", "a\nb"])
def test_14_a_state_folder_the_generated_files_cannot_hold_is_refused_up_front(tmp_path: Path, name: str) -> None:
    with pytest.raises(AirdeckError, match=re.escape("$AIRDECK_HOME")):
        AirdeckHome.from_env(str(tmp_path / name))
    done = run_child(tmp_path, "--home", str(tmp_path / name), "status")
    assert done.returncode == 2 and "cannot carry" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / name).exists()  # nothing created, no initdb


def test_14_uv_is_installed_pinned_by_hash() -> None:
    lib = (REPO / "scripts" / "lib.sh").read_text()
    requirements = (REPO / "scripts" / "uv-requirements.txt").read_text()
    assert "--require-hashes" in lib and "uv-requirements.txt" in lib
    version = re.search(r'UV_VERSION="([^"]+)"', lib)
    assert version and f"uv=={version.group(1)}" in requirements
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", requirements)) >= 10  # one per platform wheel


# ------------------------------------------------------------------ found by the config fuzzer
def test_fuzz_a_mapping_used_as_a_key_is_a_config_error() -> None:
    """tests/fuzz/regressions/config/unhashable-key.yaml: ``? {a: 1}`` used to raise TypeError."""
    with pytest.raises(ConfigError, match="keys are plain names"):
        load_config(REPO / "tests" / "fuzz" / "regressions" / "config" / "unhashable-key.yaml")
    with pytest.raises(ConfigError, match="keys are plain names"):
        parse_config_text("a:\n  ? [x, y]\n  : 1\n")


def parse_config_text(text: str) -> object:
    from airdeck.config.loader import read_yaml_bytes

    return parse_config(read_yaml_bytes(text.encode()), "airdeck.yaml")
