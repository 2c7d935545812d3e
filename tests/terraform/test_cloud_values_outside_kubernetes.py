"""The AWS example's computed chart values, run: the airdeck module's own values composition (terraform
apply of its `module "values"` call with the AWS module's outputs) rendered by the chart, and the
rendered containers (migration Job, every component, the `helm test` canary) run as local processes with
the outside-Kubernetes harness (tests/helm/pods.py) against a real PostgreSQL and Valkey.

What stands in for the cloud, and why (nothing of AWS can be reached from here):
- RDS and ElastiCache: a local PostgreSQL and Valkey, whose URLs go into the Secrets the module creates
  (`airdeck-database`, `airdeck-broker`) without TLS: the local servers have no certificates, so the
  cloud's `sslmode=require` / `rediss://` URLs cannot be used.
- S3: moto in server mode (with IAM authentication), holding the bucket of `logging.remote`, reached by
  adding `logging.endpoint` to the composed values (the documented key for an S3-compatible store).
- IRSA: EKS's pod identity webhook adds the role's variables to every container of the annotated
  service account (`AWS_ROLE_ARN` from the annotation, `AWS_WEB_IDENTITY_TOKEN_FILE`, the region); the
  test makes the same mutation, with a token file standing in for the projected service account token
  and `AWS_ENDPOINT_URL_STS` pointing the web-identity exchange at moto, where the role exists with the
  permission to use the bucket (moto does not check signatures here: it cannot with web identity, see
  tests/tasklogs/emulators.start_moto; a process without the variables has no credentials at all).
- Service names: a private /etc/hosts per process (the harness), ports from values so nothing collides.
"""

from __future__ import annotations

import copy
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airdeck.state.secrets import GENERATED
from cryptography.fernet import Fernet

from tests.harness import free_port, free_ports, postgres_server
from tests.helm.chart import render
from tests.helm.pods import LocalPod, hosts_file, unshare_prefix
from tests.helm.test_outside_kubernetes import COMPONENTS, _unshare_works, _valkey, _wait_healthy
from tests.tasklogs.emulators import s3_client, start_moto
from tests.terraform.test_terraform import CLOUD_INPUTS, compose

pytestmark = [pytest.mark.integration, pytest.mark.stack, pytest.mark.timeout(1800)]

RELEASE = "airdeck"  # the module's prefix: the Secrets it creates are named after it


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _secret_values(pg_dsn: str, broker_url: str) -> dict[str, str]:
    """What the module generates (random_password, random_bytes), by the chart's secret key."""
    return {"fernetKey": Fernet.generate_key().decode(), "jwtSecret": secrets.token_urlsafe(32),
            "jwtPrivateKey": GENERATED["jwt_private_key"][0](), "apiSecretKey": secrets.token_urlsafe(32),
            "logFetchKey": secrets.token_urlsafe(32), "adminPassword": secrets.token_urlsafe(16),
            "databaseUrl": pg_dsn, "brokerUrl": broker_url}


TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount"  # where EKS's webhook mounts the token
TOKEN_SECRET = f"{RELEASE}-eks-token"  # stands in for the kubelet's projected service account token


def _with_ambient_identity(objects: list[dict[str, Any]], sts: str, region: str) -> None:
    """What EKS's pod identity webhook does to the pods of a service account annotated with a role: mount
    a web-identity token and add the role's variables to every container."""
    annotation = "eks.amazonaws.com/role-arn"
    roles = {o["metadata"]["name"]: o["metadata"]["annotations"][annotation] for o in objects
             if o["kind"] == "ServiceAccount" and annotation in (o["metadata"].get("annotations") or {})}
    assert roles, "no ServiceAccount of the values carries the task log bucket's role"
    for obj in objects:
        spec = obj.get("spec", {})
        pod = spec.get("template", {}).get("spec") if obj["kind"] != "Pod" else spec
        if not pod or pod.get("serviceAccountName") not in roles:
            continue  # each component runs as its own account; only those with the role get the token
        role = roles[pod["serviceAccountName"]]
        pod.setdefault("volumes", []).append({"name": "aws-iam-token", "projected": {"defaultMode": 0o600, "sources": [
            {"secret": {"name": TOKEN_SECRET, "items": [{"key": "token", "path": "token"}]}}]}})
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            container.setdefault("volumeMounts", []).append(
                {"name": "aws-iam-token", "mountPath": TOKEN_DIR, "readOnly": True})
            container.setdefault("env", []).extend([
                {"name": "AWS_ROLE_ARN", "value": role},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": f"{TOKEN_DIR}/token"},
                {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
                {"name": "AWS_REGION", "value": region}, {"name": "AWS_DEFAULT_REGION", "value": region},
                {"name": "AWS_ENDPOINT_URL_STS", "value": sts}])


@pytest.fixture(scope="module")
def aws_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="airdeck-aws-values-", dir="/tmp"))
    why = _unshare_works(folder)
    if why:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"cannot give the local pods their own /etc/hosts ({why})")
    composed = compose("aws", tmp_path_factory.mktemp("compose"))
    api, health, dispatcher, valkey_port, trigger_logs = free_ports(5)
    logs = free_port(span=2)
    broker_password = secrets.token_urlsafe(12)
    pods: list[LocalPod] = []
    valkey = None
    role = CLOUD_INPUTS["aws"]["workload_identity"]  # the role the example's service account is annotated with
    moto = start_moto(workload_role=role.rsplit("/", 1)[1])
    try:
        bucket = CLOUD_INPUTS["aws"]["task_logs_url"].split("/")[2]
        s3 = s3_client(moto)
        s3.create_bucket(Bucket=bucket)
        with postgres_server("airflow", secrets.token_urlsafe(12)) as pg:
            try:
                valkey = _valkey(folder, valkey_port, broker_password)
                local = {
                    "airdeck": {
                        "api_server": {"port": api, "workers": 1},
                        "scheduler": {"health_check_port": health},
                        "triggerer": {"log_server_port": trigger_logs},
                        "workers": {"log_server_port": logs, "concurrency": 2},
                        "dag_processor": {"parsing_processes": 1},
                        "alerts": {"dispatcher": {"port": dispatcher}},
                        "logging": {"endpoint": moto.url},
                    },
                    "apiServer": {"replicas": 1}, "scheduler": {"replicas": 1}, "triggerer": {"replicas": 1},
                }
                values = merge(composed["values"], local)
                objects = render(values, name=RELEASE)
                _with_ambient_identity(objects, moto.url, "us-east-1")
                by_key = _secret_values(pg.dsn(), f"redis://:{broker_password}@127.0.0.1:{valkey_port}/0")
                held: dict[str, dict[str, str]] = {TOKEN_SECRET: {"token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06"
                                                                           "c2VydmljZWFjY291bnQ6YWlyZmxvdzphaXJkZWNrIn0.c2ln"}}
                for key, secret in composed["secrets"].items():  # the Secrets the airdeck module creates
                    held.setdefault(secret["name"], {})[secret["key"]] = by_key[key]
                configmaps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
                services = [o["metadata"]["name"] for o in objects if o["kind"] == "Service"]
                prefix = unshare_prefix(hosts_file(folder, services))

                def pod(manifest: dict[str, Any]) -> LocalPod:
                    p = LocalPod(manifest, folder / "pods" / manifest["metadata"]["name"], configmaps, held, prefix)
                    p.lay_out()
                    pods.append(p)
                    return p

                migrate = pod(next(o for o in objects if o["kind"] == "Job"))
                migrate.start(folder / "migrate.log")
                assert migrate.procs[0].wait(600) == 0, (folder / "migrate.log").read_text()[-4000:]
                workloads = {o["metadata"]["name"].removeprefix(f"{RELEASE}-"): o for o in objects
                             if o["kind"] in ("Deployment", "StatefulSet")
                             and o["spec"]["template"]["spec"]["containers"][0].get("command") == ["airdeck"]}
                # No alert channel in the example's airdeck object: no alert dispatcher.
                assert set(workloads) == set(COMPONENTS) - {"alert-dispatcher"}, sorted(workloads)
                started: dict[str, LocalPod] = {}
                for name in sorted(workloads):
                    p = pod(workloads[name])
                    p.run_init(folder / f"{name}.log")
                    p.start(folder / f"{name}.log")
                    started[name] = p
                canary = pod(next(o for o in objects if o["kind"] == "Pod"))
                yield {"folder": folder, "pods": started, "canary": canary, "s3": s3, "bucket": bucket,
                       "values": values, "objects": objects, "secrets": by_key}
            finally:
                for p in reversed(pods):
                    p.stop()
                if valkey is not None:
                    valkey.terminate()
                    valkey.wait(10)
    finally:
        moto.stop()
        moto.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_the_migration_job_ran_with_the_task_log_bucket_of_the_values(aws_platform: dict[str, Any]) -> None:
    log = (aws_platform["folder"] / "migrate.log").read_text()
    assert "admin account admin: created" in log
    remote = aws_platform["values"]["airdeck"]["logging"]["remote"]
    assert remote == CLOUD_INPUTS["aws"]["task_logs_url"]
    # the Job's probe wrote, read and deleted an object there with the identity the pods were given
    assert f"task log destination {remote} (logging.remote) writable and readable" in log, log[-3000:]
    for secret in aws_platform["secrets"].values():
        assert secret not in log


def test_every_component_of_the_aws_values_becomes_healthy(aws_platform: dict[str, Any]) -> None:
    for p in aws_platform["pods"].values():
        _wait_healthy(p, 300)


def test_a_dag_run_uploads_its_task_logs_to_the_bucket(aws_platform: dict[str, Any]) -> None:
    for p in aws_platform["pods"].values():
        _wait_healthy(p, 300)
    canary: LocalPod = aws_platform["canary"]
    log = aws_platform["folder"] / "canary.log"
    canary.start(log)
    code = canary.procs[0].wait(900)
    text = log.read_text()
    assert code == 0, text[-4000:]
    assert ": success" in text
    listed = aws_platform["s3"].list_objects_v2(Bucket=aws_platform["bucket"], Prefix="airflow/logs/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert any(k.endswith(".log") and "dag_id=" in k for k in keys), keys
