"""logging: in airdeck.yaml, the Airflow settings and environment it gives each component, and the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airdeck import concerns
from airdeck.config import loader
from airdeck.config.errors import ConfigError
from airdeck.config.model import AirdeckConfig
from airdeck.config.tasklogs import parse_remote
from airdeck.plan.endpoints import Target
from airdeck.state.home import AirdeckHome
from airdeck.tasklogs import settings as task_settings


def cfg(**logging: object) -> AirdeckConfig:
    return AirdeckConfig.model_validate({"logging": logging})


def problems(logging: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        loader.parse_config({"logging": logging}, "airdeck.yaml")
    return str(info.value)


@pytest.mark.parametrize(("url", "scheme", "bucket", "prefix", "account"), [
    ("s3://my-bucket/airflow/logs", "s3", "my-bucket", "airflow/logs", None),
    ("s3://my-bucket", "s3", "my-bucket", "", None),
    ("gs://bucket.example/prefix/", "gs", "bucket.example", "prefix", None),
    ("wasb://airflow-logs@myaccount/p", "wasb", "airflow-logs", "p", "myaccount"),
])
def test_destinations_are_parsed(url: str, scheme: str, bucket: str, prefix: str, account: str | None) -> None:
    location = parse_remote(url)
    assert (location.scheme, location.bucket, location.prefix, location.account) == (scheme, bucket, prefix, account)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://bucket/x", "is not a supported task log destination"),
    ("s3://My Bucket/x", "is not a bucket name"),
    ("s3://bkt/../x", "the prefix"),
    ("wasb://container/x", "names its container and storage account"),
    ("wasb://Bad_Container@account/x", "is not an Azure container name"),
    ("wasb://logs@Bad-Account/x", "is not an Azure storage account name"),
    ("gs://bucket/x?versioned=1", "no credentials, port, query"),
])
def test_bad_destinations_name_the_key_and_the_forms(url: str, expected: str) -> None:
    text = problems({"remote": url})
    assert "logging.remote" in text and expected in text


def test_a_password_in_the_url_is_refused_and_never_repeated() -> None:
    text = problems({"remote": "s3://AKIA:hunter2secret@bucket/x"})
    assert "logging.remote" in text and "hunter2secret" not in text


def test_a_scheme_whose_provider_is_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from airdeck.config import tasklogs

    monkeypatch.setattr(tasklogs, "provider_installed", lambda name: name != "apache-airflow-providers-google")
    text = problems({"remote": "gs://bucket/x"})
    assert "apache-airflow-providers-google" in text and "airdeck[gcp]" in text
    cfg(remote="s3://bucket/x")  # the others still load


def test_connection_and_durations_are_checked() -> None:
    assert "connection id" in problems({"remote": "s3://bucket/x", "connection": "bad id!"})
    assert "at least 1h" in problems({"retention": "10m"})
    assert "logging.retention" in problems({"retention": "soon"})
    assert cfg(retention=None).logging.retention is None


def test_airflow_settings_per_scheme() -> None:
    s3 = task_settings.airflow_settings(cfg(remote="s3://bkt/p", connection="aws_logs",
                                            delete_local_after_upload=True))
    assert s3 == {"logging": {"remote_logging": "True", "remote_base_log_folder": "s3://bkt/p",
                              "remote_log_conn_id": "aws_logs", "delete_local_logs": "True"}}
    wasb = task_settings.airflow_settings(cfg(remote="wasb://logs@acct1/a/b", connection="az"))
    assert wasb["logging"]["remote_base_log_folder"] == "wasb://a/b"
    assert wasb["azure_remote_logging"] == {"remote_wasb_log_container": "logs"}
    assert task_settings.airflow_settings(cfg()) == {"logging": {"remote_logging": "False"}}


def test_ambient_identity() -> None:
    """No connection: s3/gs use the provider's default chain; wasb gets a credential-free connection with
    the account URL (the Azure provider needs one), so DefaultAzureCredential is used."""
    assert task_settings.conn_id(cfg(remote="s3://bkt/p")) == ""
    env = task_settings.environment(cfg(remote="wasb://logs@acct1/p"))
    conn = json.loads(env["AIRFLOW_CONN_AIRDECK_TASK_LOGS"])
    assert conn == {"conn_type": "wasb", "host": "https://acct1.blob.core.windows.net"}
    assert task_settings.conn_id(cfg(remote="wasb://logs@acct1/p")) == "airdeck_task_logs"
    assert task_settings.environment(cfg(remote="wasb://logs@acct1/p", connection="az")) == {}


def test_endpoints_become_the_sdks_own_variables() -> None:
    assert task_settings.environment(cfg(remote="s3://bkt", endpoint="http://127.0.0.1:9000")) == {
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}
    assert task_settings.environment(cfg(remote="gs://bkt", endpoint="http://127.0.0.1:4443")) == {
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:4443"}


def test_the_plan_gives_every_airflow_component_the_same_remote_settings(tmp_path: Path) -> None:
    config = cfg(remote="gs://bucket/logs", connection="gcp_logs", endpoint="http://127.0.0.1:4443")
    deployment = concerns.plan(config, AirdeckHome(tmp_path))
    airflow = [c for c in deployment.components if c.airflow]
    assert airflow and deployment.cli is not None
    for component in [*airflow, deployment.cli]:
        assert component.settings["logging"]["remote_base_log_folder"] == "gs://bucket/logs"
        assert component.env["STORAGE_EMULATOR_HOST"] == "http://127.0.0.1:4443"
    retention = deployment.component("log-retention")
    assert "--max-age" in retention.argv and str(30 * 86400) in retention.argv
    assert str(AirdeckHome(tmp_path).task_logs) in retention.argv
    assert retention.depends_on == ("api-server",)  # started last; nothing waits for it


def test_retention_component_is_optional_and_local_only(tmp_path: Path) -> None:
    """On Kubernetes every pod has its own log volume: no Deployment of its own (a sidecar's business)."""
    assert "log-retention" not in concerns.plan(cfg(retention=None), AirdeckHome(tmp_path)).names()
    kube = concerns.plan(cfg(retention="7d"), AirdeckHome(tmp_path), Target.kubernetes("airdeck"))
    assert "log-retention" not in kube.names()


# ------------------------------------------------------------------ issue 22, finding 13: hostile URLs
@pytest.mark.parametrize("url", [
    "s3://bucket:hunter2secret/x", "gs://bucket:hunter2secret", "s3://bucket:99999999/x",
    "wasb://logs@account:hunter2secret/x", "s3://bucket:/x", "gs://[bucket:hunter2secret]/x",
])
def test_a_port_in_the_destination_is_refused_without_echoing_it(url: str) -> None:
    text = problems({"remote": url})
    assert "logging.remote" in text and "s3://bucket/prefix" in text  # the key and the forms to write
    assert "hunter2secret" not in text and "99999999" not in text


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("http://AKIA:hunter2secret@minio:9000", "user name or password"),
    ("http://hunter2secret@minio:9000", "user name or password"),
    ("https://minio:9000/?access_token=hunter2secret", "query or fragment"),
    ("https://minio:9000/#hunter2secret", "query or fragment"),
    ("http://minio:hunter2secret/", "port after the host"),
    ("http://minio:9999999/", "port after the host"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://169.254.1.2:9000", "link-local"),
    ("http://2852039166/", "link-local"),  # 169.254.169.254 as one number
    ("http://0xa9.0xfe.0xa9.0xfe/", "link-local"),
    ("http://0251.0376.0251.0376/", "link-local"),
    ("http://[fe80::1]:9000", "link-local"),
    ("http://[FE80::abcd%25eth0]:9000", "link-local"),
    ("http://[febf::1]/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://[hunter2secret]/", "bracketed IPv6"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1", "metadata"),
    ("http://Metadata.Google.Internal./", "metadata"),
])
def test_endpoints_with_credentials_or_at_the_metadata_service_are_refused(endpoint: str, expected: str) -> None:
    text = problems({"remote": "s3://bkt", "endpoint": endpoint})
    assert "logging.endpoint" in text and expected in text
    assert "hunter2secret" not in text
    assert any(what_to_do in text for what_to_do in ("logging.connection", "give the address", "http(s)://host:port"))


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://minio.example.com", "http://[::1]:4443",
                                      "http://10.0.0.5:9000", "http://[fec0::1]:9000", "http://169.253.0.1"])
def test_ordinary_endpoints_are_accepted(endpoint: str) -> None:
    assert cfg(remote="s3://bkt", endpoint=endpoint).logging.endpoint == endpoint
