"""The JSON schema of airdeck.yaml: current, strict at every level, and in agreement with the model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from airdeck.config import ConfigError
from airdeck.config.loader import parse_config
from airdeck.config.model import AirdeckConfig
from airdeck.config.schema import SCHEMA_FILE, json_schema, render

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

#: A file using every section, nested ones included; the model and the schema both accept it.
FULL = {
    "version": 1,
    "database": {"url": "postgresql+psycopg://airflow:pw@db.internal:5432/airflow", "pool_size": 10},
    "broker": {"url": "redis://:pw@redis.internal:6379/0"},
    "api_server": {"host": "0.0.0.0", "port": 8443, "worker_timeout": "3m", "base_url": "https://airflow.example.com"},
    "dag_processor": {"refresh_interval": 60, "min_file_process_interval": "PT1M"},
    "workers": {"replicas": 2, "concurrency": 16},
    "admin": {"username": "ops", "email": "ops@example.com"},
    "airflow": {"dags_folder": "/srv/dags", "extra_config": {"scheduler": {"task_queued_timeout": 900}}},
    "supervision": {"start_timeout": "5m", "stop_timeout": 30},
    "secrets": {"backend": "vault", "vault": {"url": "https://vault.example.com:8200", "timeout": "15s",
                                              "auth": {"method": "approle", "role_id": "r-1"}}},
    "tls": {"enabled": True, "hostnames": ["airflow.example.com"]},
    "auth": {"mode": "ldap", "ldap": {"url": "ldaps://ldap.example.com:636", "connect_timeout": "3s",
                                      "user_dn_template": "uid={username},ou=people,dc=example,dc=com",
                                      "roles_mapping": {"cn=admins,dc=example,dc=com": ["Admin"]}}},
    "alerts": {"channels": {"oncall": {"type": "email", "connection": "smtp_default", "to": ["oncall@example.com"]}},
               "routes": [{"tags": ["team-a"], "channels": ["oncall"], "events": ["task_failed"]}],
               "slas": [{"dag_id": "etl_*", "within": "1h30m"}], "delivery": {"max_age": "2d"}},
    "observability": {"prometheus": {"enabled": True, "scrape_interval": "5s", "alertmanagers": ["127.0.0.1:9093"]},
                      "tracing": {"otlp_endpoint": "http://127.0.0.1:4318"},
                      "grafana_url": "https://grafana.example.com"},
}


def errors(document: Any) -> list[jsonschema.ValidationError]:
    return list(VALIDATOR.iter_errors(document))


def test_committed_schema_matches_the_model() -> None:
    committed = (REPO / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render(), f"run: python -m airdeck.config.schema --write {SCHEMA_FILE}"


def test_is_a_valid_draft_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "properties" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_every_object_refuses_unknown_keys_and_says_what_it_is() -> None:
    objects = list(_objects(SCHEMA))
    assert len(objects) > 25
    for node in objects:
        assert node.get("additionalProperties") is False, node.get("title")
        assert node.get("description"), f"{node.get('title')} has no description (a docstring on the class)"


def test_defaults_are_written_as_in_airdeck_yaml() -> None:
    defs = SCHEMA["$defs"]
    assert defs["SupervisionSettings"]["properties"]["start_timeout"]["default"] == "4m"
    assert defs["DeliverySettings"]["properties"]["max_age"]["default"] == "1d"
    assert defs["PrometheusSettings"]["properties"]["scrape_interval"]["default"] == "15s"
    assert defs["AlertsSettings"]["properties"]["routes"]["default"] == []
    assert defs["DatabaseSettings"]["properties"]["url"]["anyOf"][0] == {
        "type": "string", "format": "password", "writeOnly": True}


def test_accepts_the_defaults_and_the_model_accepts_the_schema_defaults() -> None:
    assert errors({}) == []
    assert errors(AirdeckConfig().model_dump(mode="json")) == []
    defaults = {name: prop["default"] for name, prop in SCHEMA["$defs"]["SupervisionSettings"]["properties"].items()}
    assert parse_config({"supervision": defaults}) == AirdeckConfig()


def test_accepts_a_file_using_every_section() -> None:
    cfg = parse_config(FULL)
    assert errors(FULL) == []
    assert errors(cfg.model_dump(mode="json", exclude_none=True)) == []


def _doc_examples() -> Iterator[tuple[str, Any]]:
    for path in sorted((REPO / "docs").glob("*.md")):
        for n, block in enumerate(re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)):
            yield f"{path.name}#{n}", yaml.safe_load(block)
    for module in ("alerts", "observability"):
        source = (REPO / "platform" / "airdeck" / "config" / f"{module}.py").read_text(encoding="utf-8")
        example = source.split("Example::\n\n", 1)[1].split("\n\n", 1)[0]
        yield f"config/{module}.py", yaml.safe_load(example)


def test_every_example_the_model_accepts_the_schema_accepts() -> None:
    accepted = []
    for name, data in _doc_examples():
        try:
            parse_config(data, name)
        except ConfigError:
            continue  # an excerpt, or an example of an error
        assert errors(data) == [], name
        accepted.append(name)
    assert "configuration.md#0" in accepted and "config/alerts.py" in accepted and len(accepted) >= 5, accepted


@pytest.mark.parametrize(("document", "path", "key"), [
    ({"wrokers": {"replicas": 2}}, "$", "wrokers"),
    ({"workers": {"replicsa": 2}}, "$.workers", "replicsa"),
    ({"secrets": {"backend": "vault", "vault": {"url": "http://127.0.0.1:8200", "auth": {"tokn_file": "/t"}}}},
     "$.secrets.vault.auth", "tokn_file"),
    ({"alerts": {"channels": {"mail": {"type": "email", "connection": "smtp", "too": ["a@b"]}}}},
     "$.alerts.channels.mail", "too"),
    ({"alerts": {"routes": [{"channels": ["x"], "tag": ["a"]}]}}, "$.alerts.routes[0]", "tag"),
    ({"alerts": {"grafana_url": "https://grafana.example.com"}}, "$.alerts", "grafana_url"),
])
def test_typos_are_refused_with_the_key_path(document: dict[str, Any], path: str, key: str) -> None:
    error = jsonschema.exceptions.best_match(VALIDATOR.iter_errors(document))
    assert error is not None
    assert error.json_path == path and error.validator == "additionalProperties"
    assert repr(key) in error.message
    with pytest.raises(ConfigError):
        parse_config(document)


@pytest.mark.parametrize(("document", "path"), [
    ({"supervision": {"stop_timeout": "45 seconds"}}, "$.supervision.stop_timeout"),
    ({"supervision": {"stop_timeout": 3600}}, "$.supervision.stop_timeout"),
    ({"api_server": {"port": 70000}}, "$.api_server.port"),
    ({"secrets": {"backend": "consul"}}, "$.secrets.backend"),
])
def test_bad_values_are_refused_with_the_key_path(document: dict[str, Any], path: str) -> None:
    error = jsonschema.exceptions.best_match(VALIDATOR.iter_errors(document))
    assert error is not None and error.json_path == path
    with pytest.raises(ConfigError):
        parse_config(document)
