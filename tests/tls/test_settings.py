"""What `tls:` renders into each service's Airflow settings, and the URLs that follow it."""

from __future__ import annotations

from pathlib import Path

from airdeck import concerns
from airdeck.config.loader import parse_config
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

from tests.plan_support import settings_of as airflow_settings


def test_https_settings_per_service(tmp_path: Path) -> None:
    cfg = parse_config({"tls": {"enabled": True}, "api_server": {"port": 9443}})
    home = AirdeckHome(tmp_path)
    store = SecretStore(home.secrets)
    api = airflow_settings(cfg, home, store, "api-server")
    assert api["api"]["ssl_cert"].endswith("tls/server.pem") and api["api"]["ssl_key"].endswith("tls/server.key")
    assert api["api"]["base_url"] == "https://127.0.0.1:9443"
    worker = airflow_settings(cfg, home, store, "worker-1")
    assert worker["core"]["execution_api_server_url"] == "https://127.0.0.1:9443/execution/"
    assert worker["api"]["ssl_ca_file"].endswith("tls/ca.pem") and "ssl_key" not in worker["api"]
    for service in ("api-server", "scheduler", "worker-1"):
        assert airflow_settings(cfg, home, store, service)["fab"]["cookie_secure"] == "True"
    assert concerns.plan(cfg, home).component("api-server").url == "https://127.0.0.1:9443"


def test_plain_http_when_tls_is_off(tmp_path: Path) -> None:
    cfg = parse_config({"api_server": {"port": 9080}})
    home = AirdeckHome(tmp_path)
    settings = airflow_settings(cfg, home, SecretStore(home.secrets), "api-server")
    assert "ssl_cert" not in settings["api"] and "cookie_secure" not in settings.get("fab", {})
    assert settings["core"]["execution_api_server_url"] == "http://127.0.0.1:9080/execution/"


def test_provided_certificate_is_used_as_given(tmp_path: Path) -> None:
    cfg = parse_config({"tls": {"enabled": True, "cert_file": "/etc/pki/a.pem", "key_file": "/etc/pki/a.key",
                                "ca_file": "/etc/pki/ca.pem"}})
    home = AirdeckHome(tmp_path)
    store = SecretStore(home.secrets)
    assert airflow_settings(cfg, home, store, "api-server")["api"]["ssl_cert"] == "/etc/pki/a.pem"
    assert airflow_settings(cfg, home, store, "worker-1")["api"]["ssl_ca_file"] == "/etc/pki/ca.pem"
