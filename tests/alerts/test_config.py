"""`airdeck config validate` on bad alerts: sections: exit 2 with the key path and a hint."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from airdeck.config import ConfigError
from airdeck.config.alerts import AlertsSettings
from airdeck.config.base import parse_duration
from airdeck.config.loader import parse_config

from tests.harness import REPO

GOOD = {"channels": {"team-a": {"type": "slack", "connection": "slack_a"},
                     "oncall": {"type": "email", "connection": "smtp_default", "to": ["oncall@example.com"]}},
        "routes": [{"tags": ["team-a"], "channels": ["team-a"]}],
        "slas": [{"dag_id": "etl_*", "within": "30m"}]}


def validate(tmp_path: Path, alerts: dict) -> subprocess.CompletedProcess[str]:  # type: ignore[type-arg]
    path = tmp_path / "airdeck.yaml"
    path.write_text(yaml.safe_dump({"alerts": alerts}))
    return subprocess.run([sys.executable, "-m", "airdeck.cli.main", "--config", str(path), "config", "validate"],
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)


def test_valid_alerts_section(tmp_path: Path) -> None:
    result = validate(tmp_path, GOOD)
    assert result.returncode == 0, result.stderr


def test_unknown_channel_in_a_route(tmp_path: Path) -> None:
    result = validate(tmp_path, {**GOOD, "routes": [{"tags": ["x"], "channels": ["team-b"]}]})
    assert result.returncode == 2
    assert "alerts: routes.0.channels.0: unknown channel 'team-b' (did you mean 'team-a'?)" in result.stderr


def test_malformed_duration(tmp_path: Path) -> None:
    result = validate(tmp_path, {**GOOD, "slas": [{"dag_id": "etl_*", "within": "half an hour"}]})
    assert result.returncode == 2
    assert "alerts.slas.0.within: 'half an hour' is not a duration; write e.g. 30s, 5m" in result.stderr


def test_missing_connection_id(tmp_path: Path) -> None:
    channels = {**GOOD["channels"], "mail": {"type": "email", "to": ["a@example.com"]}}
    result = validate(tmp_path, {**GOOD, "channels": channels})
    assert result.returncode == 2
    assert "alerts.channels.mail.connection: is required" in result.stderr


def test_email_channel_without_recipients_and_unknown_key(tmp_path: Path) -> None:
    result = validate(tmp_path, {"channels": {"mail": {"type": "email", "connection": "smtp", "too": ["x@y"]}}})
    assert result.returncode == 2
    assert "alerts.channels.mail.too: unknown key" in result.stderr


def test_sla_within_must_be_positive() -> None:
    with pytest.raises(ValueError, match="longer than 0s"):
        AlertsSettings.model_validate({**GOOD, "slas": [{"within": 0}]})
    assert AlertsSettings.model_validate(GOOD).slas[0].within == parse_duration("30m") == timedelta(minutes=30)


def test_routing_semantics() -> None:
    from airdeck.alerts.detect import route

    settings = AlertsSettings.model_validate({
        **GOOD, "default_channels": ["oncall"],
        "routes": [{"tags": ["team-a"], "channels": ["team-a"]},
                   {"dag_id": "etl_*", "owners": ["data"], "channels": ["oncall"], "events": ["sla_missed"]}]})
    assert route(settings, "task_failed", "x", ["team-a"], []) == ["team-a"]
    assert route(settings, "task_failed", "other", [], []) == ["oncall"]
    assert route(settings, "sla_missed", "etl_daily", [], ["data"]) == ["oncall"]
    assert route(settings, "task_failed", "etl_daily", [], ["data"]) == []
    assert route(settings, "task_retry", "other", [], []) == []


def test_settings_survive_the_json_round_trip_to_the_dispatcher() -> None:
    settings = AlertsSettings.model_validate({**GOOD, "digest": {"window": "90s"}})
    document = settings.model_dump(mode="json")
    assert document["digest"]["window"] == "1m30s" and document["slas"][0]["within"] == "30m"
    assert AlertsSettings.model_validate(document) == settings


def test_grafana_url_lives_under_observability() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {**GOOD, "grafana_url": "https://grafana.example.com"}}, "airdeck.yaml")
    assert "alerts: grafana_url moved to observability.grafana_url" in info.value.render()
    cfg = parse_config({"alerts": GOOD, "observability": {"grafana_url": "https://grafana.example.com/"}})
    assert cfg.observability.grafana_url == "https://grafana.example.com"
