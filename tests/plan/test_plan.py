"""The deployment plan: pure (writes nothing, holds no secret), one address book, targets differ only
where they must."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airdeck import concerns
from airdeck.config.loader import parse_config
from airdeck.plan.build import component_names
from airdeck.plan.endpoints import Target
from airdeck.plan.model import Component, Deployment
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "tls": {"tls": {"enabled": True}},
    "external": {"database": {"url": "postgresql://u:pw-d@db.example:5432/af"},
                 "broker": {"url": "rediss://:pw-b@broker.example:6380/0"}, "workers": {"replicas": 3}},
    "alerts": {"alerts": {"channels": {"s": {"type": "slack", "connection": "slack_x"}},
                          "slas": [{"tags": ["nightly"], "within": "1h"}]}},
    "tracing": {"observability": {"tracing": {"otlp_endpoint": "http://127.0.0.1:4318"},
                                  "prometheus": {"enabled": True}}},
}


def _all_text(deployment: Deployment) -> str:
    """Everything the plan holds, as text."""
    parts: list[str] = []
    for comp in [*deployment.components, deployment.cli]:
        assert comp is not None
        parts += [json.dumps(comp.settings), " ".join(comp.argv), json.dumps(dict(comp.env)),
                  repr(comp.probe), comp.url or ""]
        parts += [spec.content for spec in comp.files]
    parts += [spec.content for spec in deployment.files]
    return "\n".join(parts)


def _tree(root: Path) -> dict[str, str]:
    """Every path below root with a digest of its content and its mode."""
    out = {}
    for path in sorted(root.rglob("*")):
        stat = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(root))] = f"{digest} {stat.st_mode:o} {stat.st_mtime_ns}"
    return out


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_building_a_plan_writes_nothing_and_holds_no_secret(tmp_path: Path, name: str) -> None:
    home = AirdeckHome(tmp_path / "home")
    store = SecretStore(home.secrets)
    values = store.ensure_all()
    before = _tree(tmp_path)
    for target in (Target.local(), Target.kubernetes("prod")):
        deployment = concerns.plan(parse_config(CONFIGS[name]), home, target)
        text = _all_text(deployment)
        for secret, value in values.items():
            assert value not in text, f"{secret} is in the plan"
        assert "pw-d" not in text and "pw-b" not in text  # passwords inside database.url / broker.url
    assert _tree(tmp_path) == before


def test_a_plan_for_a_missing_state_folder_creates_none(tmp_path: Path) -> None:
    concerns.plan(parse_config(CONFIGS["alerts"]), AirdeckHome(tmp_path / "absent"))
    concerns.masked_config(parse_config({}), AirdeckHome(tmp_path / "absent"), "scheduler")
    assert not (tmp_path / "absent").exists()


def test_components_and_their_order() -> None:
    deployment = concerns.plan(parse_config({"workers": {"replicas": 2}, **CONFIGS["alerts"]}), AirdeckHome(Path("/h")))
    waves = [[c.name for c in wave] for wave in deployment.waves()]
    assert waves == [["postgres", "valkey", "metrics-bridge"], ["api-server"],
                     ["scheduler", "dag-processor", "triggerer", "worker-1", "worker-2", "alert-dispatcher",
                      "log-retention"]]
    assert [c.name for c in deployment.components if c.airflow] == component_names(parse_config({"workers": {
        "replicas": 2}}))


def test_external_servers_are_not_components() -> None:
    deployment = concerns.plan(parse_config(CONFIGS["external"]), AirdeckHome(Path("/h")))
    assert "postgres" not in deployment.names() and "valkey" not in deployment.names()
    assert deployment.component("api-server").depends_on == ("metrics-bridge",)


def _urls(comp: Component) -> list[str]:
    urls = [comp.probe.url, comp.probe.detail] if comp.probe else []
    urls += [v for section in comp.settings.values() for v in section.values() if "://" in v]
    return [u for u in urls if "://" in u]


def test_a_non_loopback_api_server_host_is_used_by_every_internal_url() -> None:
    cfg = parse_config({"api_server": {"host": "10.20.30.40", "port": 8443}, "tls": {"enabled": True},
                        **CONFIGS["alerts"]})
    home = AirdeckHome(Path("/h"))
    deployment = concerns.plan(cfg, home)
    api = "https://10.20.30.40:8443"
    for comp in deployment.components:
        if comp.probe is not None and comp.probe.kind in ("api-health", "heartbeat", "scheduler"):
            assert comp.probe.url == api, comp.name
        if comp.airflow:
            assert comp.settings["core"]["execution_api_server_url"] == f"{api}/execution/", comp.name
            assert comp.settings["api"]["base_url"] == api
    assert deployment.component("api-server").bind_host == "10.20.30.40"
    assert ("--host", "10.20.30.40") == deployment.component("api-server").argv[2:4]
    dispatcher = deployment.component("alert-dispatcher")
    assert json.loads(dispatcher.files[0].content)["api_url"] == api
    assert not [u for c in deployment.components for u in _urls(c) if "127.0.0.1:8443" in u]


def test_a_wildcard_api_server_host_is_reached_on_loopback() -> None:
    deployment = concerns.plan(parse_config({"api_server": {"host": "0.0.0.0"}}), AirdeckHome(Path("/h")))
    assert deployment.component("scheduler").probe.url == "http://127.0.0.1:8080"  # type: ignore[union-attr]
    assert deployment.component("api-server").bind_host == "0.0.0.0"


def test_kubernetes_target_addresses_services_by_release() -> None:
    cfg = parse_config({**CONFIGS["external"], **CONFIGS["alerts"], "workers": {"replicas": 3}})
    deployment = concerns.plan(cfg, AirdeckHome(Path("/opt/airdeck")), Target.kubernetes("prod"))
    assert deployment.names() == ["api-server", "scheduler", "dag-processor", "triggerer", "worker",
                                  "alert-dispatcher"]
    worker = deployment.component("worker")
    assert worker.settings["core"]["execution_api_server_url"] == "http://prod-api-server:8080/execution/"
    assert worker.settings["metrics"]["statsd_host"] == "prod-statsd-exporter"
    assert worker.settings["metrics"]["statsd_port"] == "9125"
    assert deployment.component("api-server").argv[2:4] == ("--host", "0.0.0.0")
    scheduler = deployment.component("scheduler")
    assert scheduler.settings["scheduler"]["scheduler_health_check_server_host"] == "0.0.0.0"
    policy = next(f for f in deployment.files if f.path.endswith("airflow_local_settings.py"))
    assert "http://prod-alert-dispatcher:" in policy.content


def test_secret_settings_are_references_filled_only_when_materialised(tmp_path: Path) -> None:
    from airdeck.plan.render import materialise

    home = AirdeckHome(tmp_path / "home")
    store = SecretStore(home.secrets)
    scheduler = concerns.plan(parse_config({}), home).component("scheduler")
    config_file, key_file = scheduler.files
    assert "@@secret:fernet_key@@" in config_file.content and config_file.mode == 0o600
    assert key_file.secrets[0].name == "jwt_signing_pem" and key_file.mode == 0o600
    path = materialise(config_file, concerns.resolver(parse_config({}), home, store, generate=True))
    text = path.read_text()
    assert f"fernet_key = {store.get('fernet_key')}" in text and "@@secret" not in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_config_render_and_validate_write_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"PATH": os.environ["PATH"], "AIRDECK_HOME": str(home)}
    for argv in (["config", "validate"], ["config", "render", "--service", "worker-1"]):
        result = subprocess.run([sys.executable, "-m", "airdeck.cli.main", *argv], cwd=tmp_path, env=env,
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    assert not home.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing in the working folder either


def test_status_writes_nothing_in_an_existing_state_folder(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    SecretStore(home.secrets).ensure_all()
    before = _tree(tmp_path)
    env = {"PATH": os.environ["PATH"], "AIRDECK_HOME": str(home.root)}
    cfg = tmp_path / "airdeck.yaml"
    cfg.write_text("alerts: {channels: {s: {type: slack, connection: c}}}\n")
    before = _tree(tmp_path)
    result = subprocess.run([sys.executable, "-m", "airdeck.cli.main", "--config", str(cfg), "status", "--json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr  # nothing runs: every service stopped
    assert {s["state"] for s in json.loads(result.stdout)["services"]} == {"STOPPED"}
    assert _tree(tmp_path) == before


def test_an_idle_worker_keeps_idle_processes_and_reserves_no_more_than_its_largest_pool() -> None:
    from airdeck.config import ConfigError

    def celery(data: dict[str, Any]) -> dict[str, dict[str, str]]:
        deployment = concerns.plan(parse_config(data), AirdeckHome(Path("/h")))
        return {c.name: c.settings.get("celery", {}) for c in deployment.components if c.airflow}

    default = celery({})
    assert default["worker-1"]["worker_autoscale"] == "8,1"
    assert json.loads(default["worker-1"]["extra_celery_config"]) == {"worker_disable_prefetch": True,
                                                                      "imports": ["airdeck.plan.worker_boot"]}
    assert default["worker-1"]["worker_prefetch_multiplier"] == "1"
    # only workers read it, so a change restarts only the workers
    assert all("worker_autoscale" not in default[name] for name in ("scheduler", "api-server", "triggerer"))
    assert celery({"workers": {"concurrency": 4, "idle_processes": 2}})["worker-1"]["worker_autoscale"] == "4,2"
    fixed = celery({"workers": {"concurrency": 4, "idle_processes": 4}})["worker-1"]
    # a fixed pool reserves no more than it runs anyway; every worker still boots through worker_boot
    assert "worker_autoscale" not in fixed
    assert json.loads(fixed["extra_celery_config"]) == {"imports": ["airdeck.plan.worker_boot"]}
    assert all("extra_celery_config" not in default[name] for name in ("scheduler", "api-server", "triggerer"))
    assert "worker_autoscale" not in celery({"workers": {"concurrency": 1}})["worker-1"]
    with pytest.raises(ConfigError) as info:
        parse_config({"workers": {"concurrency": 4, "idle_processes": 6}})
    assert "idle_processes (6) must not exceed concurrency (4)" in str(info.value)
    # the user's own Celery options still win, as every airflow.extra_config value does
    mine = celery({"airflow": {"extra_config": {"celery": {"worker_autoscale": "3,3"}}}})["worker-1"]
    assert mine["worker_autoscale"] == "3,3"
