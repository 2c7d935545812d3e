"""The airdeck.yaml model and loader: defaults, and every kind of bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from airdeck.config import ConfigError, load_config
from airdeck.config.loader import parse_config
from airdeck.config.model import AirdeckConfig


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
