"""``airdeck run COMPONENT``: the container entrypoint renders one component and becomes its process."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from airdeck.config.loader import parse_config
from airdeck.errors import AirdeckError
from airdeck.run.entrypoint import prepare
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import GENERATED

from tests.harness import free_port

EXTERNAL = {"database": {"url": "postgresql://airflow:db-pw@db.example:5432/airflow"},
            "broker": {"url": "redis://:broker-pw@redis.example:6379/0"}}
MOUNTED = {"fernet_key": "mounted-fernet", "jwt_private_key": GENERATED["jwt_private_key"][0](),
           "api_secret_key": "mounted-key", "log_fetch_key": "mounted-log-key"}


def _secrets(folder: Path, values: dict[str, str], mode: int = 0o400) -> Path:
    folder.mkdir(mode=0o700)
    for name, value in values.items():
        (folder / name).write_text(value + "\n")
        (folder / name).chmod(mode)
    return folder


def test_kubernetes_component_is_rendered_from_mounted_secrets(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    secrets = _secrets(tmp_path / "secrets", MOUNTED)
    cfg = parse_config({**EXTERNAL, "alerts": {"channels": {"s": {"type": "slack", "connection": "c"}}}})
    comp, env = prepare(cfg, home, "worker", target="kubernetes", release="prod", secrets_dir=secrets)
    assert comp.argv[1:3] == ("celery", "worker")
    config = Path(env["AIRFLOW_CONFIG"])
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config)
    # a worker runs task code: it gets the broker and the log-fetch key, and no platform key
    assert parser["api"]["secret_key"] == "mounted-log-key"
    assert parser["celery"]["broker_url"] == "redis://:broker-pw@redis.example:6379/0"
    assert parser["celery"]["result_backend"] == "redis://:broker-pw@redis.example:6379/0"
    assert not parser.has_option("core", "fernet_key") and not parser.has_option("database", "sql_alchemy_conn")
    assert not parser.has_option("api_auth", "jwt_secret") and not parser.has_option("api_auth", "jwt_private_key_path")
    assert not (home.secrets / "jwt_private_key").exists()  # mounted secrets are not mirrored for workers to read
    comp, env = prepare(cfg, home, "scheduler", target="kubernetes", release="prod", secrets_dir=secrets)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(env["AIRFLOW_CONFIG"])
    assert parser["core"]["fernet_key"] == "mounted-fernet"
    assert parser["database"]["sql_alchemy_conn"] == "postgresql+psycopg://airflow:db-pw@db.example:5432/airflow"
    key = Path(parser["api_auth"]["jwt_private_key_path"])
    assert key.read_text().strip() == MOUNTED["jwt_private_key"].strip() and key.stat().st_mode & 0o077 == 0
    assert parser["core"]["execution_api_server_url"] == "http://prod-api-server:8080/execution/"
    assert home.webserver_config.exists()  # shared files every component reads
    assert (home.airflow_home / "config" / "airflow_local_settings.py").exists()
    assert not any(k.startswith("AIRFLOW__") for k in env)


def test_a_mounted_url_wins_over_airdeck_yaml(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path / "secrets", {**MOUNTED, "database_url": "postgresql://m:mounted@pg:5432/af",
                                              "broker_url": "redis://:mounted@redis:6379/0"})
    comp, env = prepare(parse_config({}), AirdeckHome(tmp_path / "home"), "scheduler", target="kubernetes",
                        secrets_dir=secrets)
    text = Path(env["AIRFLOW_CONFIG"]).read_text()
    assert "postgresql://m:mounted@pg:5432/af" in text and "redis://:mounted@redis:6379/0" in text


def test_missing_secret_names_the_file_to_mount(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path / "secrets", {"fernet_key": "x"})
    with pytest.raises(AirdeckError, match="no secret '(jwt_private_key|database_url)'.*file named") as raised:
        prepare(parse_config(EXTERNAL), AirdeckHome(tmp_path / "home"), "scheduler", target="kubernetes",
                secrets_dir=secrets)
    assert str(secrets) in str(raised.value)
    secrets_all = _secrets(tmp_path / "all", MOUNTED)
    with pytest.raises(AirdeckError, match="(database|broker).url") as no_db:
        prepare(parse_config({}), AirdeckHome(tmp_path / "home2"), "scheduler", target="kubernetes",
                secrets_dir=secrets_all)
    assert "mount the secret file" in str(no_db.value)


def test_hostile_input_is_refused_clearly(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    readable = _secrets(tmp_path / "readable", MOUNTED, mode=0o644)
    with pytest.raises(AirdeckError, match="must not be readable by others"):
        prepare(parse_config(EXTERNAL), home, "scheduler", target="kubernetes", secrets_dir=readable)
    with pytest.raises(AirdeckError, match="unknown component 'nope'.*api-server"):
        prepare(parse_config(EXTERNAL), home, "nope", target="kubernetes")
    with pytest.raises(AirdeckError, match="--target"):
        prepare(parse_config(EXTERNAL), home, "scheduler", target="mars")
    with pytest.raises(AirdeckError, match="not a folder"):
        prepare(parse_config(EXTERNAL), home, "scheduler", target="kubernetes", secrets_dir=tmp_path / "none")
    broken = _secrets(tmp_path / "broken", {**MOUNTED, "fernet_key": "a\nb"})
    with pytest.raises(AirdeckError, match="line break"):
        prepare(parse_config(EXTERNAL), home, "scheduler", target="kubernetes", secrets_dir=broken)


def test_run_execs_the_component_and_passes_signals_and_exit_code(tmp_path: Path) -> None:
    """The process started as the entrypoint *is* the component: same pid, answers, stops on SIGTERM."""
    web, udp = free_port(), free_port()
    config = tmp_path / "airdeck.yaml"
    config.write_text(yaml.safe_dump({"observability": {"statsd": {"port": udp}, "bridge": {"metrics_port": web}}}))
    code = ("import sys; from pathlib import Path; from airdeck.config import load_config; "
            "from airdeck.state.home import AirdeckHome; from airdeck.run.entrypoint import run_component; "
            f"sys.exit(run_component(load_config({str(config)!r}), AirdeckHome(Path({str(tmp_path / 'home')!r})), "
            "'metrics-bridge'))")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "AIRFLOW__CORE__X": "dropped"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{web}/-/healthy", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("the bridge started through run_component never answered")
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"airdeck.metrics.cli" in cmdline  # the same pid now runs the bridge: exec, not a child
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
