"""The airdeck.yaml model and loader: defaults, and every kind of bad input."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import get_args

import pytest
from airdeck.config import ConfigError, load_config
from airdeck.config.base import format_duration, parse_duration, prometheus_duration
from airdeck.config.loader import parse_config
from airdeck.config.model import AirdeckConfig
from pydantic import BaseModel


def _error(data: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "airdeck.yaml")
    return info.value


def test_no_file_means_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIRDECK_CONFIG", raising=False)
    cfg = load_config()
    assert cfg == AirdeckConfig()
    assert cfg.database.url is None and cfg.broker.url is None
    assert cfg.api_server.public_url() == "http://127.0.0.1:8080"
    assert cfg.workers.replicas == 1


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "airdeck.yaml"
    path.write_text("# nothing yet\n")
    assert load_config(path) == AirdeckConfig()


def test_unknown_top_level_key_names_closest_key() -> None:
    issue = _error({"wrokers": {"replicas": 2}}).issues[0]
    assert issue.path == "wrokers"
    assert "unknown key" in issue.message
    assert "'workers'" in issue.hint


def test_unknown_nested_key_names_path_and_closest_key() -> None:
    issue = _error({"workers": {"replica": 2}}).issues[0]
    assert issue.path == "workers.replica"
    assert "'replicas'" in issue.hint


def test_unknown_key_without_close_match_lists_valid_keys() -> None:
    issue = _error({"database": {"zzzz": 1}}).issues[0]
    assert "valid keys here" in issue.hint and "embedded" in issue.hint


def test_wrong_type_says_why_and_what_was_given() -> None:
    error = _error({"workers": {"replicas": "many"}})
    text = error.render()
    assert "workers.replicas" in text and "integer" in text and "'many'" in text


def test_out_of_range_value() -> None:
    text = _error({"api_server": {"port": 70000}}).render()
    assert "api_server.port" in text and "65535" in text


def test_every_problem_is_reported_at_once() -> None:
    error = _error({"workers": {"replicas": 0, "concurrency": -1}, "nope": 1})
    assert {i.path for i in error.issues} == {"workers.replicas", "workers.concurrency", "nope"}


def test_sqlite_database_is_refused_with_reason() -> None:
    text = _error({"database": {"url": "sqlite:////tmp/airflow.db"}}).render()
    assert "database.url" in text and "SQLite" in text


def test_database_url_password_never_echoed() -> None:
    text = _error({"database": {"url": "mysql://u:hunter2@db/x"}}).render()
    assert "hunter2" not in text


def test_broker_must_be_redis() -> None:
    assert "broker.url" in _error({"broker": {"url": "amqp://guest@x//"}}).render()


def test_port_collision_is_refused() -> None:
    text = _error({"api_server": {"port": 15432}}).render()
    assert "15432" in text and "database.embedded.port" in text


def test_worker_log_ports_counted_per_replica() -> None:
    text = _error({"workers": {"replicas": 3, "log_server_port": 8079}}).render()
    assert "8080" in text and "worker 2" in text


def test_extra_config_cannot_override_managed_secrets() -> None:
    text = _error({"airflow": {"extra_config": {"core": {"fernet_key": "x"}}}}).render()
    assert "managed by airdeck" in text
    assert "x" not in text.split("managed")[0].split("airflow.extra_config")[-1].strip(": ")


def test_top_level_must_be_mapping() -> None:
    assert "mapping" in _error([1, 2]).render()


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "airdeck.yaml"
    path.write_text("workers:\n  replicas: 2\n   concurrency: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = info.value.render()
    assert str(path) in text and "malformed YAML" in text and "line 3" in text


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "airdeck.yaml"
    path.write_text("workers:\n  replicas: 2\nworkers:\n  replicas: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "duplicate key 'workers'" in info.value.render()


def test_yaml_tags_that_run_code_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "airdeck.yaml"
    path.write_text("workers: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(ConfigError):
        load_config(path)
    assert not (tmp_path / "pwned").exists()


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "airdeck.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "UTF-8" in info.value.render()


def test_missing_file_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yaml")
    assert "file not found" in info.value.render()


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "airdeck.yaml"
    path.write_text("# " + "x" * (2 * 1024 * 1024))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "limit" in info.value.render()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airdeck.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, check=False, env={"PATH": "/usr/bin:/bin", "AIRDECK_HOME": str(cwd / "home")})


def test_cli_validate_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "airdeck.yaml").write_text("workers:\n  replicsa: 2\n")
    result = _cli("config", "validate", cwd=tmp_path)
    assert result.returncode == 2
    assert "workers.replicsa" in result.stderr and "did you mean 'replicas'" in result.stderr
    up = _cli("up", "--detach", cwd=tmp_path)
    assert up.returncode == 2
    assert not (tmp_path / "home").exists(), "an invalid configuration must not create any state"


def test_cli_validate_ok(tmp_path: Path) -> None:
    (tmp_path / "airdeck.yaml").write_text("workers:\n  replicas: 2\n")
    result = _cli("config", "validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


# --- the shared vocabulary (config/base.py) ---------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25), ("1m30s", 90), (45, 45),
    (0.5, 0.5), ("0.5s", 0.5), ("90", 90), ("PT15S", 15), ("P1DT2H", 93600), (" 1H ", 3600),
])
def test_duration_forms(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "m", "-3", "1h 2x", "5m1h", "P", True, None, [5]])
def test_bad_durations_name_the_accepted_forms(text: object) -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 30s, 5m|negative"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "human", "prometheus"), [
    (0, "0s", "0s"), (15, "15s", "15s"), (90, "1m30s", "1m30s"), (300, "5m", "5m"), (5400, "1h30m", "1h30m"),
    (86400, "1d", "1d"), (0.25, "250ms", "250ms"), (1.5, "1.5s", "1s500ms"), (0.0005, "0.0005s", "1ms"),
])
def test_durations_are_written_in_the_short_form(seconds: float, human: str, prometheus: str) -> None:
    duration = timedelta(seconds=seconds)
    assert format_duration(duration) == human
    assert parse_duration(human) == duration
    assert prometheus_duration(duration) == prometheus
    assert abs(parse_duration(prometheus) - duration) <= timedelta(microseconds=500)


def test_former_integer_seconds_still_read_and_dump_in_the_short_form() -> None:
    cfg = parse_config({"supervision": {"start_timeout": 240, "stop_timeout": 45},
                        "dag_processor": {"refresh_interval": "1m"}, "api_server": {"worker_timeout": "PT2M"}})
    assert cfg.supervision.start_timeout == timedelta(minutes=4)
    assert cfg.supervision.stop_timeout.total_seconds() == 45
    document = cfg.model_dump(mode="json")
    assert document["supervision"] == {"start_timeout": "4m", "stop_timeout": "45s", "start_retries": 5}
    assert document["dag_processor"]["refresh_interval"] == "1m"
    assert document["api_server"]["worker_timeout"] == "2m"
    assert AirdeckConfig.model_validate(document) == cfg


def test_duration_bounds_and_whole_seconds_name_the_key() -> None:
    text = _error({"supervision": {"start_timeout": "5s"}, "secrets": {"backend": "vault", "vault": {
        "url": "http://127.0.0.1:8200", "timeout": "10m"}}, "dag_processor": {"refresh_interval": "1.5s"}}).render()
    assert "supervision.start_timeout: must be at least 10s (got '5s')" in text
    assert "secrets.vault.timeout: must be at most 5m (got '10m')" in text
    assert "dag_processor.refresh_interval: must be a whole number of seconds" in text


def test_every_section_shares_one_base_and_nothing_is_defined_twice() -> None:
    import ast

    from airdeck.config import base

    def models(model: type[BaseModel]) -> set[type[BaseModel]]:
        found = {model}
        for field in model.model_fields.values():
            for arg in (field.annotation, *get_args(field.annotation),
                        *(a for inner in get_args(field.annotation) for a in get_args(inner))):
                if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                    found |= models(arg)
        return found

    sections = models(AirdeckConfig)
    assert len(sections) > 25
    assert all(issubclass(model, base.Section) for model in sections), sections
    shared = {"Section", "Port", "Duration", "HttpUrl", "EmailAddress", "HostPort", "parse_duration",
              "SECRET_OPTIONS", "INLINE_SECRET_KEYS", "grafana_url"}
    defined: dict[str, list[str]] = {}
    for module in sorted(Path(base.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([node.name] if isinstance(node, ast.ClassDef | ast.FunctionDef) else
                     [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else
                     [node.target.id] if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                     else [])
            for name in names:
                if name in shared:
                    defined.setdefault(name, []).append(module.name)
    assert {name: where for name, where in defined.items() if len(where) > 1} == {}


def test_shared_value_types_explain_themselves() -> None:
    text = _error({"api_server": {"base_url": "grafana.example.com"}, "admin": {"email": "nobody"},
                   "observability": {"prometheus": {"alertmanagers": ["localhost"]},
                                     "grafana_url": "ftp://x"}}).render()
    assert "api_server.base_url: must be an absolute http:// or https:// URL" in text
    assert "admin.email: 'nobody' is not an email address" in text
    assert "observability.prometheus.alertmanagers.0: 'localhost' is not host:port" in text
    assert "observability.grafana_url: must be an absolute http:// or https:// URL" in text


def test_defaults_survive_the_json_round_trip() -> None:
    cfg = AirdeckConfig()
    assert AirdeckConfig.model_validate(cfg.model_dump(mode="json")) == cfg
