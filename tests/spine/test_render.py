"""Per-component Airflow settings from the plan: what each component gets, and that secrets stay secret."""

from __future__ import annotations

import configparser
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from airdeck import concerns
from airdeck.config.loader import parse_config
from airdeck.errors import AirdeckError
from airdeck.plan.build import component_names
from airdeck.plan.render import airflow_cfg, materialise
from airdeck.plan.secrets import mask_url
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

from tests.plan_support import settings_of as airflow_settings


@pytest.fixture
def home(tmp_path: Path) -> AirdeckHome:
    h = AirdeckHome(tmp_path / "home")
    h.ensure()
    return h


def test_services_in_start_order() -> None:
    cfg = parse_config({"workers": {"replicas": 3}})
    assert component_names(cfg) == ["api-server", "scheduler", "dag-processor", "triggerer",
                                  "worker-1", "worker-2", "worker-3"]


def test_platform_settings_are_set_on_purpose(home: AirdeckHome) -> None:
    cfg = parse_config({"api_server": {"workers": 3}})
    s = airflow_settings(cfg, home, SecretStore(home.secrets), "api-server")
    assert s["core"]["executor"] == "CeleryExecutor"
    assert s["core"]["auth_manager"].endswith("FabAuthManager")
    assert s["core"]["load_examples"] == "False"
    assert s["core"]["execution_api_server_url"] == "http://127.0.0.1:8080/execution/"
    assert s["api"]["server_type"] == "gunicorn" and s["api"]["workers"] == "3"
    assert s["api"]["expose_config"] == "False"
    assert s["scheduler"]["enable_health_check"] == "True"
    assert s["fab"]["config_file"] == str(home.webserver_config)
    assert s["database"]["sql_alchemy_conn"].startswith("postgresql+psycopg://airflow:")
    # Celery results live in the broker (Valkey, append-only file), so workers need no database URL
    assert s["celery"]["result_backend"] == s["celery"]["broker_url"]
    assert s["api_auth"]["jwt_algorithm"] == "EdDSA"
    assert s["api_auth"]["jwt_private_key_path"].endswith("/services/api-server/jwt_private_key.pem")


def test_each_secret_is_shared_only_by_the_services_that_need_it(home: AirdeckHome) -> None:
    cfg = parse_config({"workers": {"replicas": 2}})
    store = SecretStore(home.secrets)
    rendered = {name: airflow_settings(cfg, home, store, name) for name in component_names(cfg)}
    workers = ("worker-1", "worker-2")
    others = [name for name in rendered if name not in workers]
    assert len({rendered[n]["core"]["fernet_key"] for n in others}) == 1
    assert len({rendered[n]["api"]["secret_key"] for n in ("api-server", "triggerer", *workers)}) == 1
    for name in workers:
        assert "fernet_key" not in rendered[name].get("core", {})
        assert "sql_alchemy_conn" not in rendered[name].get("database", {})
        assert "jwt_private_key_path" not in rendered[name]["api_auth"]
    assert all("jwt_secret" not in r.get("api_auth", {}) for r in rendered.values())
    issuers = {n for n, r in rendered.items() if "jwt_private_key_path" in r["api_auth"]}
    assert issuers == {"api-server", "scheduler"}


def test_each_worker_gets_its_own_log_port(home: AirdeckHome) -> None:
    cfg = parse_config({"workers": {"replicas": 2, "log_server_port": 9001}})
    store = SecretStore(home.secrets)
    ports = [airflow_settings(cfg, home, store, f"worker-{n}")["logging"]["worker_log_server_port"] for n in (1, 2)]
    assert ports == ["9001", "9002"]


def test_external_database_gets_explicit_driver(home: AirdeckHome) -> None:
    cfg = parse_config({"database": {"url": "postgresql://u:p%40ss@db.example:5432/af"}})
    s = airflow_settings(cfg, home, SecretStore(home.secrets), "scheduler")
    assert s["database"]["sql_alchemy_conn"] == "postgresql+psycopg://u:p%40ss@db.example:5432/af"


def test_extra_config_wins(home: AirdeckHome) -> None:
    cfg = parse_config({"airflow": {"extra_config": {"Scheduler": {"task_queued_timeout": 120}}}})
    s = airflow_settings(cfg, home, SecretStore(home.secrets), "scheduler")
    assert s["scheduler"]["task_queued_timeout"] == "120"


def test_unknown_service_is_refused(home: AirdeckHome) -> None:
    with pytest.raises(AirdeckError, match="worker-9") as raised:
        concerns.masked_config(parse_config({}), home, "worker-9")
    assert raised.value.exit_code == 2


def test_masking_hides_every_secret(home: AirdeckHome) -> None:
    cfg = parse_config({})
    store = SecretStore(home.secrets)
    store.ensure_all()
    text = concerns.masked_config(cfg, home, "worker-1")
    for name in ("fernet_key", "jwt_secret", "jwt_private_key", "api_secret_key", "log_fetch_key",
                 "database_password", "broker_password"):
        assert store.get(name) not in text, name
    assert "result_backend = redis://:***@127.0.0.1:16379/0" in text
    assert "secret_key = ***" in text
    scheduler = concerns.masked_config(cfg, home, "scheduler")
    assert "postgresql+psycopg://airflow:***@127.0.0.1:15432/airflow" in scheduler
    assert "fernet_key = ***" in scheduler


def test_external_urls_are_masked_but_keep_their_parts(home: AirdeckHome) -> None:
    cfg = parse_config({"database": {"url": "postgresql://u:p%40ss@db.example:5432/af"},
                        "broker": {"url": "rediss://:pw@broker.example:6380/1"}})
    text = concerns.masked_config(cfg, home, "scheduler")
    assert "p%40ss" not in text and "pw@" not in text
    assert "sql_alchemy_conn = postgresql+psycopg://u:***@db.example:5432/af" in text
    assert "broker_url = rediss://:***@broker.example:6380/1" in text


def test_mask_url() -> None:
    assert mask_url("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert mask_url("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert mask_url("postgresql://h/db") == "postgresql://h/db"


def test_rendered_file_is_private_and_airflow_reads_percent_signs(tmp_path: Path) -> None:
    from airdeck.plan.model import SecretRef, SecretSetting

    spec = airflow_cfg(str(tmp_path / "services" / "scheduler" / "airflow.cfg"), {"core": {"x": "50%"}},
                       [SecretSetting("database", "sql_alchemy_conn", SecretRef("database_url"))])
    assert "p%40ss" not in spec.content  # the plan holds a placeholder, never the value
    path = materialise(spec, {"database_url": "postgresql+psycopg://u:p%40ss@h/db"}.__getitem__)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    parser = configparser.ConfigParser()  # interpolating, as Airflow's parser is
    parser.read(path)
    assert parser["database"]["sql_alchemy_conn"] == "postgresql+psycopg://u:p%40ss@h/db"
    assert parser["core"]["x"] == "50%"


def test_render_cli_masks_secrets(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "AIRDECK_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "airdeck.cli.main", "config", "render", "--service", "scheduler"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    store = SecretStore(tmp_path / "home" / "secrets")
    assert store.get("fernet_key") not in result.stdout
    assert "fernet_key = ***" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "airdeck.cli.main", "config", "render", "--service", "nope"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "unknown service 'nope'" in bad.stderr


def test_the_signing_key_is_a_pem_or_a_long_random_string() -> None:
    from airdeck.plan.secrets import signing_pem
    from airdeck.state.secrets import GENERATED
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_pem_private_key

    pem = GENERATED["jwt_private_key"][0]()
    assert signing_pem(pem + "\n") == pem  # what airdeck and the chart generate, as it is
    seeded = signing_pem("x" * 48)  # a secret store's generated password: its SHA-256 is the seed
    assert seeded == signing_pem("x" * 48) != signing_pem("y" * 48)
    assert isinstance(load_pem_private_key(seeded.encode(), None), Ed25519PrivateKey)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    for bad, message in ((other, "holds a RSA key"), ("short", "at least 32 characters"),
                         ("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----", "not a readable")):
        with pytest.raises(AirdeckError, match=message) as raised:
            signing_pem(bad)
        assert "jwt_private_key" in str(raised.value) and "not base64" not in str(raised.value)


def test_local_workers_run_as_their_own_user_under_root_or_say_why_not(home: AirdeckHome,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from airdeck.plan import build
    from airdeck.plan.endpoints import Target
    from airdeck.stack.workers import isolation_warning

    monkeypatch.setattr(build.os, "geteuid", lambda: 0)
    monkeypatch.setattr(build, "worker_isolation_blocker", lambda home, dags: None)
    deployment = concerns.plan(parse_config({"workers": {"replicas": 2}}), home)
    workers = [c for c in deployment.components if c.kind == "worker"]
    assert {c.user for c in workers} == {"airdeck-worker"}
    for worker in workers:
        (config,) = worker.files
        assert config.owner == "airdeck-worker" and config.mode == 0o600
        assert worker.env["HOME"] == str(home.service_dir(worker.name))
        # its own bundle clones, never the dag-processor's
        assert worker.settings["dag_processor"]["dag_bundle_storage_path"] == str(
            home.service_dir(worker.name) / "dag-bundles")
    assert deployment.component("dag-processor").settings["dag_processor"]["dag_bundle_storage_path"] == str(
        home.root / "data" / "dag-bundles")
    assert all(c.user is None for c in deployment.components if c.kind in ("api-server", "scheduler"))
    assert concerns.plan(parse_config({}), home, Target.kubernetes("r")).component("worker").user is None

    monkeypatch.setattr(build, "worker_isolation_blocker", lambda home, dags: Path("/root"))
    monkeypatch.setattr("airdeck.stack.workers.os.geteuid", lambda: 0)
    monkeypatch.setattr("airdeck.stack.workers.worker_isolation_blocker", lambda home, dags: Path("/root"))
    fallback = concerns.plan(parse_config({}), home)
    assert fallback.component("worker-1").user is None
    warning = isolation_warning(fallback, home)
    assert warning is not None and "/root is not searchable" in warning and "chmod o+x /root" in warning
    assert isolation_warning(deployment, home) is None
