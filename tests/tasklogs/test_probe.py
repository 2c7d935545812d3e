"""The destination check against the real emulators, without a stack: the probe runs as `airdeck up`
runs it (a subprocess with an Airflow configuration rendered from airdeck.yaml), so every failure
mode is exercised here in seconds; tests/tasklogs/test_stack_tasklogs.py proves the wiring into
`airdeck up` once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from airdeck.config.model import AirdeckConfig
from airdeck.plan.render import to_ini
from airdeck.tasklogs import settings as task_settings

from tests.tasklogs import emulators
from tests.tasklogs.emulators import Emulator

pytestmark = pytest.mark.integration


def probe(tmp_path: Path, logging: dict[str, Any], conns: dict[str, str]) -> dict[str, Any]:
    cfg = AirdeckConfig.model_validate({"logging": logging})
    settings = task_settings.airflow_settings(cfg)
    settings["logging"]["base_log_folder"] = str(tmp_path / "logs")
    settings["core"] = {"load_examples": "False"}
    settings["database"] = {"sql_alchemy_conn": f"sqlite:///{tmp_path / 'no.db'}"}
    (tmp_path / "airflow.cfg").write_text(to_ini(settings), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "STORAGE_EMULATOR"))}
    env.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW_CONFIG": str(tmp_path / "airflow.cfg")})
    env.update(task_settings.environment(cfg))
    env.update({f"AIRFLOW_CONN_{name.upper()}": value for name, value in conns.items()})
    argv = [sys.executable, "-m", "airdeck.tasklogs.probe", "--conn-id", task_settings.conn_id(cfg)]
    location = cfg.logging.location
    if location is not None and location.account:
        argv += ["--account", location.account]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("AIRDECK-PROBE ")), None)
    assert line is not None, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(line.removeprefix("AIRDECK-PROBE "))
    assert (done.returncode == 0) == result["ok"]
    result["_output"] = done.stdout + done.stderr
    return result


def no_secret(result: dict[str, Any], emulator: Emulator) -> None:
    for secret in emulator.secrets:
        assert secret not in result["_output"]
        assert secret not in json.dumps({k: v for k, v in result.items() if k != "_output"})


def bucket(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------------------------ S3
def test_s3_probe_writes_reads_and_deletes(tmp_path: Path, moto: Emulator) -> None:
    name = bucket("logs")
    emulators.s3_client(moto).create_bucket(Bucket=name)
    result = probe(tmp_path, {"remote": f"s3://{name}/airflow", "connection": "aws_logs"},
                   {"aws_logs": emulators.s3_connection(moto)})
    assert result["ok"], result
    assert result["source"] == "connection 'aws_logs' from environment variable AIRFLOW_CONN_AWS_LOGS"
    assert emulators.s3_client(moto).list_objects_v2(Bucket=name).get("KeyCount") == 0  # the probe cleaned up
    no_secret(result, moto)


def test_s3_missing_bucket_is_named(tmp_path: Path, moto: Emulator) -> None:
    result = probe(tmp_path, {"remote": "s3://no-such-bucket-here/airflow", "connection": "aws_logs"},
                   {"aws_logs": emulators.s3_connection(moto)})
    assert not result["ok"]
    assert result["error"].startswith("NoSuchBucket"), result
    no_secret(result, moto)


def test_s3_bad_credentials_are_named_without_the_secret(tmp_path: Path, moto: Emulator) -> None:
    name = bucket("logs")
    emulators.s3_client(moto).create_bucket(Bucket=name)
    wrong = "wrong" + moto.extra["secret_key"][5:]
    result = probe(tmp_path, {"remote": f"s3://{name}", "connection": "aws_logs"},
                   {"aws_logs": emulators.s3_connection(moto, secret_key=wrong)})
    assert not result["ok"]
    assert "SignatureDoesNotMatch" in result["error"], result
    assert wrong not in result["_output"]
    no_secret(result, moto)


def test_s3_endpoint_key_reaches_the_store(tmp_path: Path, moto: Emulator) -> None:
    """logging.endpoint instead of the connection's endpoint_url (an S3-compatible store)."""
    name = bucket("logs")
    emulators.s3_client(moto).create_bucket(Bucket=name)
    result = probe(tmp_path, {"remote": f"s3://{name}/x", "connection": "aws_logs", "endpoint": moto.url},
                   {"aws_logs": emulators.s3_connection(moto, with_endpoint=False)})
    assert result["ok"], result


def test_missing_connection_is_named(tmp_path: Path, moto: Emulator) -> None:
    result = probe(tmp_path, {"remote": "s3://some-bucket/x", "connection": "nowhere"}, {})
    assert not result["ok"]
    assert "connection 'nowhere' was not found" in result["error"]


def test_unreachable_store_is_named(tmp_path: Path) -> None:
    from tests.harness import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    conn = json.dumps({"conn_type": "aws", "login": "AKIAFAKE", "password": "not-a-real-secret-value",
                       "extra": {"endpoint_url": dead, "region_name": "us-east-1"}})
    result = probe(tmp_path, {"remote": "s3://some-bucket/x", "connection": "aws_logs"}, {"aws_logs": conn})
    assert not result["ok"]
    assert "EndpointConnectionError" in result["error"] and dead in result["error"], result
    assert "not-a-real-secret-value" not in result["_output"]


# ----------------------------------------------------------------------------------------------- GCS
def test_gcs_probe_writes_reads_and_deletes(tmp_path: Path, fake_gcs: Emulator) -> None:
    name = bucket("logs")
    emulators.gcs_client(fake_gcs).create_bucket(name)
    result = probe(tmp_path, {"remote": f"gs://{name}/airflow", "connection": "gcp_logs", "endpoint": fake_gcs.url},
                   {"gcp_logs": emulators.gcs_connection()})
    assert result["ok"], result
    assert list(emulators.gcs_client(fake_gcs).list_blobs(name)) == []


def test_gcs_missing_bucket_is_named(tmp_path: Path, fake_gcs: Emulator) -> None:
    result = probe(tmp_path, {"remote": "gs://no-such-bucket-here/a", "connection": "gcp_logs",
                              "endpoint": fake_gcs.url}, {"gcp_logs": emulators.gcs_connection()})
    assert not result["ok"]
    assert result["error"].startswith("404"), result


def test_gcs_malformed_key_is_named_without_the_key(tmp_path: Path, fake_gcs: Emulator) -> None:
    bogus = json.dumps({"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nsecretmaterial42\n",
                        "client_email": "x@y.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:9/token"})
    result = probe(tmp_path, {"remote": "gs://any-bucket/a", "connection": "gcp_logs", "endpoint": fake_gcs.url},
                   {"gcp_logs": emulators.gcs_connection(keyfile_dict=bogus)})
    assert not result["ok"]
    assert "secretmaterial42" not in result["_output"]


def test_gcs_emulator_down_is_named(tmp_path: Path) -> None:
    from tests.harness import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    result = probe(tmp_path, {"remote": "gs://any-bucket/a", "connection": "gcp_logs", "endpoint": dead},
                   {"gcp_logs": emulators.gcs_connection()})
    assert not result["ok"]
    assert "ConnectionError" in result["error"] or "Connection refused" in result["error"], result


# ----------------------------------------------------------------------------------------------- Azure
def test_azure_probe_writes_reads_and_deletes(tmp_path: Path, azurite: Emulator) -> None:
    container = bucket("logs")
    emulators.azure_client(azurite).create_container(container)
    result = probe(tmp_path, {"remote": f"wasb://{container}@{emulators.AZURE_ACCOUNT}/airflow",
                              "connection": "azure_logs"}, {"azure_logs": emulators.azure_connection(azurite)})
    assert result["ok"], result
    assert list(emulators.azure_client(azurite).get_container_client(container).list_blobs()) == []
    no_secret(result, azurite)


def test_azure_missing_container_is_named(tmp_path: Path, azurite: Emulator) -> None:
    result = probe(tmp_path, {"remote": f"wasb://no-such-container@{emulators.AZURE_ACCOUNT}/a",
                              "connection": "azure_logs"}, {"azure_logs": emulators.azure_connection(azurite)})
    assert not result["ok"]
    assert result["error"].startswith("ContainerNotFound"), result
    no_secret(result, azurite)


def test_azure_bad_key_is_named_without_the_key(tmp_path: Path, azurite: Emulator) -> None:
    import base64
    import secrets

    container = bucket("logs")
    emulators.azure_client(azurite).create_container(container)
    wrong = base64.b64encode(secrets.token_bytes(64)).decode()
    result = probe(tmp_path, {"remote": f"wasb://{container}@{emulators.AZURE_ACCOUNT}/a", "connection": "azure_logs"},
                   {"azure_logs": emulators.azure_connection(azurite, key=wrong)})
    assert not result["ok"]
    assert result["error"].startswith("AuthorizationFailure: Server failed to authenticate"), result
    assert wrong not in result["_output"]
    no_secret(result, azurite)


def test_azure_account_mismatch_is_named(tmp_path: Path, azurite: Emulator) -> None:
    result = probe(tmp_path, {"remote": "wasb://logs@otheraccount/a", "connection": "azure_logs"},
                   {"azure_logs": emulators.azure_connection(azurite)})
    assert not result["ok"]
    assert "storage account 'airdecklogs'" in result["error"] and "'otheraccount'" in result["error"], result


# ------------------------------------------------------------------------------ the ambient identity
def test_the_destination_check_reaches_the_store_with_the_pods_workload_identity(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """On EKS the webhook gives each container its IRSA role through AWS_ROLE_ARN and
    AWS_WEB_IDENTITY_TOKEN_FILE; the check of `airdeck run` must hand them to the probe as the container's
    Airflow has them (no logging.connection), or the migration Job fails on every IRSA cluster."""
    import types

    from airdeck.tasklogs.concern import check_destination

    role = "airdeck-workload"
    moto = emulators.start_moto(workload_role=role)
    request.addfinalizer(moto.close)
    request.addfinalizer(moto.stop)
    name = bucket("logs")
    emulators.s3_client(moto).create_bucket(Bucket=name)
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    for key in [k for k in os.environ if k.startswith(("AWS_", "AIRFLOW"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    for key, value in {"AWS_ROLE_ARN": f"arn:aws:iam::123456789012:role/{role}", "AWS_REGION": "us-east-1",
                       "AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ENDPOINT_URL_STS": moto.url}.items():
        monkeypatch.setenv(key, value)
    cfg = AirdeckConfig.model_validate({"logging": {"remote": f"s3://{name}/airflow", "endpoint": moto.url}})
    settings = task_settings.airflow_settings(cfg)
    settings["logging"]["base_log_folder"] = str(tmp_path / "logs")
    settings["core"] = {"load_examples": "False"}
    settings["database"] = {"sql_alchemy_conn": f"sqlite:///{tmp_path / 'no.db'}"}
    (tmp_path / "airflow.cfg").write_text(to_ini(settings), encoding="utf-8")
    cli = types.SimpleNamespace(env={"AIRFLOW_HOME": str(tmp_path), "AIRFLOW_CONFIG": str(tmp_path / "airflow.cfg"),
                                     **task_settings.environment(cfg)})
    said: list[str] = []
    runtime = types.SimpleNamespace(cfg=cfg, deployment=types.SimpleNamespace(cli=cli), say=said.append)
    check_destination(runtime)  # type: ignore[arg-type]
    assert said and "writable and readable with the ambient identity" in said[0], said
