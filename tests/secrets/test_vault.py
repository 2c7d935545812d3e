"""Vault against a real OpenBao server: bootstrap, least privilege, the shapes Airflow reads, bad input."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
from airdeck.config.loader import parse_config
from airdeck.secrets import vault
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

from tests.fixtures.openbao import OpenBao
from tests.harness import free_port
from tests.plan_support import settings_of as airflow_settings
from tests.secrets.conftest import run_airdeck, write_yaml

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def booted(bao: OpenBao, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`airdeck vault bootstrap --platform-secrets` once for the module: (home, airdeck.yaml)."""
    folder = tmp_path_factory.mktemp("vault")
    home = folder / "home"
    config = write_yaml(folder / "airdeck.yaml",
                        {"secrets": {"backend": "vault", "vault": {"url": bao.url, "platform_secrets": True}}})
    result = run_airdeck(home, config, "vault", "bootstrap", "--platform-secrets", token=bao.root_token)
    assert result.returncode == 0, result.stderr
    return home, config


def test_bootstrap_creates_mount_policy_and_private_approle_files(bao: OpenBao, booted: tuple[Path, Path]) -> None:
    home, config = booted
    client = bao.client()
    mount = client.sys.list_mounted_secrets_engines()["data"]["airflow/"]
    assert mount["type"] == "kv" and mount["options"]["version"] == "2"
    policy = client.sys.read_policy(vault.POLICY_NAME)["data"]["rules"]
    assert '"airflow/data/connections/*"' in policy and "write" not in policy.replace("no write", "")
    role_id, secret_id = vault.approle_files(AirdeckHome(home))
    for path in (role_id, secret_id):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the platform keys went to Vault unchanged from nowhere: fresh home, so generated there, not printed
    for option in ("fernet_key", "jwt_secret", "secret_key"):
        value = client.secrets.kv.v2.read_secret_version(path=f"config/{option}", mount_point="airflow",
                                                         raise_on_deleted_version=True)["data"]["data"]["value"]
        assert len(value) > 30
    # idempotent: a second bootstrap succeeds and keeps the stored keys
    before = client.secrets.kv.v2.read_secret_version(path="config/fernet_key", mount_point="airflow",
                                                      raise_on_deleted_version=True)["data"]["data"]["value"]
    again = run_airdeck(home, config, "vault", "bootstrap", "--platform-secrets", token=bao.root_token)
    assert again.returncode == 0, again.stderr
    assert before not in again.stdout + again.stderr
    after = client.secrets.kv.v2.read_secret_version(path="config/fernet_key", mount_point="airflow",
                                                     raise_on_deleted_version=True)["data"]["data"]["value"]
    assert after == before


def _approle_client(bao: OpenBao, home: Path) -> hvac.Client:
    role_file, secret_file = vault.approle_files(AirdeckHome(home))
    client = hvac.Client(url=bao.url)
    client.auth.approle.login(role_file.read_text().strip(), secret_file.read_text().strip())
    return client


def test_least_privilege_policy_reads_but_never_writes(bao: OpenBao, booted: tuple[Path, Path]) -> None:
    home, config = booted
    result = run_airdeck(home, config, "vault", "put-connection", "lp_conn", "postgres://u:pw@db.internal:5432/x",
                         token=bao.root_token)
    assert result.returncode == 0, result.stderr
    platform = _approle_client(bao, home)
    read = platform.secrets.kv.v2.read_secret_version(path="connections/lp_conn", mount_point="airflow",
                                                      raise_on_deleted_version=True)
    assert read["data"]["data"]["conn_uri"].startswith("postgres://")
    with pytest.raises(hvac.exceptions.Forbidden):
        platform.secrets.kv.v2.create_or_update_secret(path="connections/lp_conn", secret={"conn_uri": "x://y"},
                                                       mount_point="airflow")
    with pytest.raises(hvac.exceptions.Forbidden):
        platform.secrets.kv.v2.create_or_update_secret(path="variables/new", secret={"value": "x"},
                                                       mount_point="airflow")
    with pytest.raises(hvac.exceptions.Forbidden):
        platform.secrets.kv.v2.list_secrets(path="connections", mount_point="airflow")
    with pytest.raises(hvac.exceptions.Forbidden):  # nothing outside the three folders
        platform.sys.list_mounted_secrets_engines()


def test_airflow_vault_backend_reads_what_airdeck_writes(bao: OpenBao, booted: tuple[Path, Path]) -> None:
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    home, config = booted
    uri = "postgres://reader:s3cr%40t@warehouse.internal:6543/sales?sslmode=require"
    assert run_airdeck(home, config, "vault", "put-connection", "warehouse", "-", stdin=uri + "\n",
                       token=bao.root_token).returncode == 0
    assert run_airdeck(home, config, "vault", "put-variable", "report_day", "-", stdin="monday\n",
                       token=bao.root_token).returncode == 0
    cfg = parse_config({"secrets": {"backend": "vault", "vault": {"url": bao.url}}})
    kwargs = vault.backend_kwargs(cfg, AirdeckHome(home))
    backend = VaultBackend(**kwargs)
    conn_uri = backend.get_conn_value("warehouse")
    assert conn_uri == uri
    assert backend.get_variable("report_day") == "monday"
    assert backend.get_config("fernet_key")  # what `[core] fernet_key_secret` would read
    assert backend.get_conn_value("missing") is None


def test_rendered_settings_use_vault_everywhere_with_secrets_only_in_private_files(
        bao: OpenBao, booted: tuple[Path, Path]) -> None:
    home, config = booted
    cfg = parse_config({"secrets": {"backend": "vault", "vault": {"url": bao.url, "platform_secrets": True}}})
    ah = AirdeckHome(home)
    store = vault.secret_store(cfg, ah)
    assert isinstance(store, vault.VaultSecretStore)
    fernet_in_vault = bao.client().secrets.kv.v2.read_secret_version(
        path="config/fernet_key", mount_point="airflow", raise_on_deleted_version=True)["data"]["data"]["value"]
    for service in ("api-server", "scheduler", "dag-processor", "triggerer"):
        settings = airflow_settings(cfg, ah, store, service)
        assert settings["secrets"]["backend"] == vault.VAULT_BACKEND
        kwargs = json.loads(settings["secrets"]["backend_kwargs"])
        assert kwargs["auth_type"] == "approle" and kwargs["kv_engine_version"] == 2
        assert settings["core"]["fernet_key"] == fernet_in_vault
    worker = airflow_settings(cfg, ah, store, "worker-1")
    assert worker["workers"]["secrets_backend"] == vault.VAULT_BACKEND
    assert not SecretStore(ah.secrets).exists("fernet_key")  # the key never landed in the state folder
    # read-only lookups (status, the record of what runs) get the Vault-held keys too, without generating
    assert store.read("fernet_key") == fernet_in_vault
    assert not SecretStore(ah.secrets).exists("fernet_key")
    shown = run_airdeck(home, config, "config", "render", "--service", "worker-1")
    assert shown.returncode == 0, shown.stderr
    secret_id = vault.approle_files(ah)[1].read_text().strip()
    assert secret_id not in shown.stdout and "secrets_backend_kwargs = ***" in shown.stdout


@pytest.mark.parametrize("uri, expected", [
    ("warehouse.internal:5432", "no scheme"),
    ("postgres://u:p@host:99999/db", "cannot be parsed"),
    ("9sql://host", "not a valid connection type"),
])
def test_malformed_connection_uri_is_refused_and_nothing_written(
        bao: OpenBao, booted: tuple[Path, Path], uri: str, expected: str) -> None:
    home, config = booted
    result = run_airdeck(home, config, "vault", "put-connection", "broken", uri, token=bao.root_token)
    assert result.returncode != 0
    assert expected in result.stderr and "connection broken" in result.stderr
    with pytest.raises(hvac.exceptions.InvalidPath):
        bao.client().secrets.kv.v2.read_secret_version(path="connections/broken", mount_point="airflow",
                                                       raise_on_deleted_version=True)


def test_bad_ids_missing_token_and_unreachable_vault(bao: OpenBao, booted: tuple[Path, Path], tmp_path: Path) -> None:
    home, config = booted
    bad_id = run_airdeck(home, config, "vault", "put-variable", "no spaces", "x", token=bao.root_token)
    assert bad_id.returncode != 0 and "variable 'no spaces' is not valid" in bad_id.stderr
    no_token = run_airdeck(home, config, "vault", "put-variable", "k", "v")
    assert no_token.returncode != 0 and "--token-file" in no_token.stderr and "VAULT_TOKEN" in no_token.stderr
    missing = run_airdeck(home, config, "vault", "put-variable", "k", "v", "--token-file", str(tmp_path / "nope"))
    assert missing.returncode != 0 and str(tmp_path / "nope") in missing.stderr
    dead = f"http://127.0.0.1:{free_port()}"
    unreachable = run_airdeck(home, config, "vault", "bootstrap", "--url", dead, token=bao.root_token)
    assert unreachable.returncode != 0
    assert f"Vault at {dead} is unreachable" in unreachable.stderr
    assert bao.root_token not in unreachable.stderr + unreachable.stdout


def test_inline_credentials_in_yaml_are_refused(tmp_path: Path) -> None:
    for auth, key in (({"method": "token", "token": "hvs.abc"}, "token"),
                      ({"method": "approle", "secret_id": "s-123"}, "secret_id")):
        config = write_yaml(tmp_path / f"{key}.yaml",
                            {"secrets": {"backend": "vault", "vault": {"url": "http://127.0.0.1:8200", "auth": auth}}})
        result = run_airdeck(tmp_path / "home", config, "config", "validate")
        assert result.returncode == 2
        assert "secrets.vault.auth" in result.stderr and f"'{key}' is a credential" in result.stderr
        assert "hvs.abc" not in result.stderr and "s-123" not in result.stderr


def test_missing_approle_file_names_the_key(tmp_path: Path) -> None:
    cfg = parse_config({"secrets": {"backend": "vault", "vault": {
        "url": "http://127.0.0.1:8200", "auth": {"role_id": "r", "secret_id_file": str(tmp_path / "absent")}}}})
    with pytest.raises(vault.VaultError, match=r"secrets.vault.auth.secret_id_file: .*absent does not exist"):
        airflow_settings(cfg, AirdeckHome(tmp_path / "home"), SecretStore(tmp_path / "home" / "secrets"), "scheduler")


def test_up_with_unreachable_vault_names_the_url_and_starts_nothing(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    from tests.harness import write_config

    config = write_config(tmp_path, {"secrets": {"backend": "vault", "vault": {"url": dead}}})
    home = tmp_path / "home"
    result = run_airdeck(home, config, "up", "--detach", timeout=120)
    assert result.returncode != 0
    assert f"Vault at {dead} is unreachable" in result.stderr
    assert not (home / "run" / "supervisord.sock").exists()
    assert not (home / "data" / "postgres").exists()  # not even the database was initialised


def test_put_connection_after_bootstrap_needs_no_url_in_airdeck_yaml(bao: OpenBao, tmp_path: Path) -> None:
    """The documented order: bootstrap --url, then put-connection, before airdeck.yaml names Vault."""
    home = tmp_path / "home"
    config = write_yaml(tmp_path / "airdeck.yaml", {"workers": {"replicas": 1}})
    boot = run_airdeck(home, config, "vault", "bootstrap", "--url", bao.url, token=bao.root_token)
    assert boot.returncode == 0, boot.stderr
    assert "put-connection" in " ".join((boot.stdout + boot.stderr).split())  # the hint names the next documented step
    conn = run_airdeck(home, config, "vault", "put-connection", "warehouse", "-", token=bao.root_token,
                       stdin="postgres://reader:s3cret@db.example.com:5432/sales\n")
    assert conn.returncode == 0, conn.stderr
    stored = bao.client().secrets.kv.v2.read_secret_version(path="connections/warehouse", mount_point="airflow",
                                                            raise_on_deleted_version=True)["data"]["data"]
    assert stored["conn_uri"] == "postgres://reader:s3cret@db.example.com:5432/sales"
    fresh = run_airdeck(tmp_path / "other-home", config, "vault", "put-variable", "k", "v", token=bao.root_token)
    assert fresh.returncode != 0
    assert "no Vault URL" in fresh.stderr and "airdeck vault bootstrap --url URL" in fresh.stderr


def test_fernet_rotate_without_a_token_names_its_own_flag(bao: OpenBao, booted: tuple[Path, Path]) -> None:
    home, config = booted
    result = run_airdeck(home, config, "fernet", "rotate")
    assert result.returncode != 0
    assert "pass --vault-token-file PATH" in result.stderr
    assert "--token-file PATH" not in result.stderr.replace("--vault-token-file PATH", "")
