"""The docs' command sequences, run from the docs' own text against one real platform (see runner.py).

One stack for the module; the sequences run in the order a new user meets them: quickstart (it starts
the platform), Vault, alert channels, a configuration change, Fernet rotation, TLS. A doc that drifts
from what airdeck does fails here, naming the file and line of the block."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.alerts.servers import SlackReceiver, _Handler
from tests.docs.runner import DocRunner, sequence
from tests.fixtures.openbao import OpenBao, openbao_server
from tests.harness import AIRDECK, REPO, Stack, free_port, new_home, remove_home, write_config

pytestmark = [pytest.mark.stack, pytest.mark.timeout(2400)]

SMTP_PASSWORD = "relay-secret-1"  # noqa: S105 - the throwaway relay's own password


class AuthSmtp:
    """aiosmtpd with AUTH (the docs' connection has a login and password), no TLS."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()

        def check(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.login == b"alerts" and data.password == SMTP_PASSWORD.encode()
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, authenticator=check,
                                     auth_require_tls=False)
        self.controller.start()


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DocRunner, Stack, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("docs")
    # The alert channels of docs/alerting.md are in the first start already: adding the first channel
    # changes every Airflow service (the cluster policies); the test keeps to one boot.
    channels = next(yaml.safe_load(b.text) for b in sequence("alerts") if b.lang == "yaml")
    config = write_config(folder, {"alerts": channels["alerts"], "supervision": {"start_retries": 2}})
    stack = Stack(new_home(), config)
    slack, smtp = SlackReceiver(), AuthSmtp()
    with openbao_server(folder) as bao:
        env = {**stack.env(), "VAULT_ADDR": bao.url, "VAULT_TOKEN": bao.root_token,
               "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{slack.port}/services/T000/B000/XXX",
               "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_PASSWORD": SMTP_PASSWORD}
        runner = DocRunner(folder / "checkout", config, env)
        try:
            yield runner, stack, {"bao": bao, "slack": slack, "smtp": smtp}
        finally:
            subprocess.run([*AIRDECK, "down"], env=stack.env(), cwd=REPO, capture_output=True, timeout=300,
                           check=False)
            remove_home(stack.home)
            slack.stop()
            smtp.controller.stop()
            for step in runner.steps:
                print(f"{step.block.where}: {step.command[:70]}  ({step.seconds:.1f}s)")


def test_quickstart(docs: tuple[DocRunner, Stack, dict[str, Any]]) -> None:
    runner, stack, _ = docs
    steps = runner.run("quickstart")
    assert "admin" in steps[2].output  # credentials
    assert "example_etl_daily" in steps[3].output  # dags list
    assert all(s["health"] == "healthy" for s in stack.status()["services"])


def test_vault_bootstrap_and_put_connection(docs: tuple[DocRunner, Stack, dict[str, Any]]) -> None:
    runner, _, servers = docs
    runner.run("vault")
    bao: OpenBao = servers["bao"]
    read = bao.client().secrets.kv.v2.read_secret_version
    stored = read(path="connections/warehouse", mount_point="airflow", raise_on_deleted_version=True)
    assert stored["data"]["data"]["conn_uri"] == "postgres://reader:s3cret@db.example.com:5432/sales"
    slack = read(path="connections/slack_team_a", mount_point="airflow", raise_on_deleted_version=True)
    from airflow.models.connection import Connection

    conn = Connection(uri=slack["data"]["data"]["conn_uri"])
    assert conn.conn_type == "slackwebhook" and conn.password == runner.env["SLACK_WEBHOOK_URL"]


def test_alert_channels_and_alerts_test(docs: tuple[DocRunner, Stack, dict[str, Any]]) -> None:
    runner, _, servers = docs
    runner.run("alerts")
    assert servers["slack"].on("/services/T000/B000/XXX"), "the Slack test message arrived"
    assert any("team-a@example.com" in (m["To"] or "") for m in servers["smtp"].handler.messages)


def test_config_change_on_a_running_platform(docs: tuple[DocRunner, Stack, dict[str, Any]]) -> None:
    runner, stack, _ = docs
    before = {s["name"]: s["pid"] for s in stack.status()["services"]}
    steps = runner.run("config-change")
    assert "worker_concurrency" in steps[0].output  # the dry run names the change
    after = {s["name"]: s["pid"] for s in stack.status()["services"]}
    assert {n for n in after if after[n] != before.get(n)} == {"worker-1", "scheduler"}
    assert "worker_concurrency = 12" in (stack.home / "services" / "worker-1" / "airflow.cfg").read_text()


def test_fernet_rotation(docs: tuple[DocRunner, Stack, dict[str, Any]]) -> None:
    runner, stack, _ = docs
    runner.run("fernet")
    status = json.loads(stack.airdeck("fernet", "status", "--json").stdout)
    assert len(status["keys"]) == 1 and not status["undecryptable"]


def test_tls_on_a_running_platform(docs: tuple[DocRunner, Stack, dict[str, Any]]) -> None:
    """The issue's case: TLS enabled with the platform running restarts the api-server and what calls it,
    nothing else, and the platform ends healthy over HTTPS (it used to wait 240 s and stop everything)."""
    runner, stack, _ = docs
    before = {s["name"]: s["pid"] for s in stack.status()["services"]}
    steps = runner.run("tls")
    assert "ssl_cert" in steps[1].output  # the dry run names the change ([api] ssl_cert)
    after = {s["name"]: s["pid"] for s in stack.status()["services"]}
    moved = {n for n in after if after[n] != before.get(n)}
    assert {"api-server", "scheduler", "worker-1"} <= moved
    assert not {"postgres", "valkey", "metrics-bridge"} & moved
    port = stack.settings["api_server"]["port"]
    trust = ssl.create_default_context(cafile=str(stack.home / "tls" / "ca.pem"))
    assert httpx.get(f"https://127.0.0.1:{port}/api/v2/monitor/health", verify=trust, timeout=10).status_code == 200
