"""`airdeck helm import-values`: official-chart values files (tests/helm/official/) carried over and
rendered by our chart without a schema error, the objects reached; what is not carried is listed with
its reason; hostile or malformed input exits 1 naming the file and key, writing nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from airdeck.ops.official_chart import all_rules, convert, mapping_table

from tests.cli.helpers import run
from tests.helm.chart import by_kind, named, render

OFFICIAL = Path(__file__).parent / "official"
FILES = sorted(p.name for p in OFFICIAL.glob("*.yaml"))


def imported(capsys: pytest.CaptureFixture[str], name: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    out = tmp_path / "airdeck-values.yaml"
    ran = run(capsys, "helm", "import-values", str(OFFICIAL / name), "-o", str(out))
    assert ran.code == 0, ran.err
    assert os.stat(out).st_mode & 0o777 == 0o600
    return yaml.safe_load(out.read_text()), ran.err


def skipped_keys(err: str) -> dict[str, str]:
    lines = err.split("not carried", 1)[1].splitlines()[1:]
    return dict(line.strip().split(": ", 1) for line in lines if line.startswith("  "))


@pytest.mark.parametrize("name", FILES)
def test_each_official_file_converts_and_renders_without_a_schema_error(
        capsys: pytest.CaptureFixture[str], name: str, tmp_path: Path) -> None:
    import kubernetes_validate

    values, _ = imported(capsys, name, tmp_path)
    for obj in render(values):
        if obj["apiVersion"].split("/")[0] in ("v1", "apps", "batch", "policy", "networking.k8s.io"):
            kubernetes_validate.validate(obj, "1.30.0", strict=True)


def test_aws_celery_keda_reaches_the_objects(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    values, err = imported(capsys, "aws-celery-keda.yaml", tmp_path)
    objects = render(values)
    config = yaml.safe_load(named(objects, "ConfigMap", "airdeck-config")["data"]["airdeck.yaml"])
    assert config["airflow"]["extra_config"] == {
        "core": {"parallelism": 64, "max_active_tasks_per_dag": 32},
        "logging": {"remote_logging": "True", "remote_base_log_folder": "s3://acme-airflow-logs/logs"},
        "celery": {"worker_concurrency": 12}, "scheduler": {"dag_dir_list_interval": "60"}}
    scaled = by_kind(objects, "ScaledObject")[0]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"], scaled["pollingInterval"]) == (1, 20, 10)
    worker = named(objects, "StatefulSet", "airdeck-worker")["spec"]["template"]["spec"]
    assert worker["serviceAccountName"] == "airdeck-worker"
    assert named(objects, "ServiceAccount", "airdeck-worker")["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/airflow-task-logs"}
    env = {e["name"]: e for e in worker["containers"][0]["env"]}
    assert env["AIRFLOW_CONN_AWS_DEFAULT"]["valueFrom"] == {"secretKeyRef": {"name": "airflow-aws-conn",
                                                                             "key": "uri"}}
    assert env["AWS_DEFAULT_REGION"]["value"] == "eu-west-1"
    assert worker["imagePullSecrets"] == [{"name": "ecr-pull"}]
    assert worker["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "airflow"}
    assert named(objects, "PodDisruptionBudget", "airdeck-worker")["spec"]["maxUnavailable"] == 2
    scheduler = named(objects, "Deployment", "airdeck-scheduler")["spec"]["template"]["spec"]
    files = {i["path"]: s["secret"]["name"] for v in scheduler["volumes"] if v["name"] == "secrets"
             for s in v["projected"]["sources"] for i in s["secret"]["items"]}
    assert files["database_url"] == "airflow-metadata" and files["fernet_key"] == "airflow-fernet-key"
    keys = skipped_keys(err)
    assert keys["config.database.sql_alchemy_conn"].startswith("a secret airdeck manages")
    assert "dags.gitSync" in keys and "workers.keda.usePgbouncer" in keys
    assert values["pgbouncer"] == {"enabled": True, "maxClientConn": 200}  # carried: the chart has PgBouncer
    assert "defaultAirflowRepository" in keys
    rendered = yaml.safe_dump(values)
    assert "hunter2" not in rendered and "hunter2" not in err


def test_ingress_and_sidecars_reach_the_objects(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    values, err = imported(capsys, "ingress-sidecars.yaml", tmp_path)
    objects = render(values)
    ingress = named(objects, "Ingress", "airdeck-api-server")
    assert ingress["spec"]["tls"] == [{"hosts": ["airflow.acme.example"], "secretName": "airflow-acme-tls"},
                                      {"hosts": ["airflow-old.acme.example"], "secretName": "wildcard-acme-tls"}]
    api = named(objects, "Deployment", "airdeck-api-server")["spec"]["template"]["spec"]
    assert [c["name"] for c in api["containers"]] == ["api-server", "oauth2-proxy"]
    assert api["containers"][0]["envFrom"] == [{"configMapRef": {"name": "airflow-variables"}}]
    service = named(objects, "Service", "airdeck-api-server")["spec"]
    assert service["type"] == "LoadBalancer" and service["loadBalancerSourceRanges"] == ["10.0.0.0/8"]
    scheduler = named(objects, "Deployment", "airdeck-scheduler")["spec"]["template"]["spec"]
    assert [c["name"] for c in scheduler["initContainers"]] == ["cloud-sql-proxy", "wait-for-migrations"]
    assert scheduler["priorityClassName"] == "high"
    assert scheduler["containers"][0]["livenessProbe"]["failureThreshold"] == 12
    dag = named(objects, "Deployment", "airdeck-dag-processor")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "DAG_TEAM", "value": "data"} in dag["env"]
    job = by_kind(objects, "Job")[0]
    assert job["spec"]["ttlSecondsAfterFinished"] == 300
    assert {"name": "corp-ca", "mountPath": "/etc/ssl/corp"} in job["spec"]["template"]["spec"]["containers"][0][
        "volumeMounts"]
    assert all(o["metadata"]["labels"]["team"] == "data" for o in objects if o["kind"] != "ConfigMap"
               or o["metadata"]["name"] != "airdeck-corp-ca")
    assert named(objects, "ConfigMap", "airdeck-corp-ca")["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE")
    assert "extraSecrets" in skipped_keys(err) and "not-in-the-output" not in yaml.safe_dump(values)
    keys = skipped_keys(err)
    assert keys["apiServer.apiServerConfig"] == "webserver_config.py is generated from airdeck.auth"
    assert keys["flower.enabled"] == "not a key airdeck knows from the official chart"
    assert keys["scheduler.livenessProbe.initialDelaySeconds"] == "no airdeck equivalent"
    assert "webserver.defaultUser.password" in keys and ": admin" not in err  # key names, never values


def test_standard_output_without_o(capsys: pytest.CaptureFixture[str]) -> None:
    ran = run(capsys, "helm", "import-values", str(OFFICIAL / "aws-celery-keda.yaml"))
    assert ran.code == 0
    assert yaml.safe_load(ran.out)["workers"]["keda"]["enabled"] is True
    assert "not carried" in ran.err and "not carried" not in ran.out


@pytest.mark.parametrize(("content", "message"), [
    ("scheduler: [unclosed\n", r"official.yaml: line \d+, column \d+: not valid YAML"),
    ("- a\n- b\n", "the top level must be a mapping of values, found a list"),
    ("", "the top level must be a mapping of values, found empty"),
    ("scheduler: fast\n", "scheduler: must be a mapping, found str"),
    ("config: [a]\n", "config: must be a mapping of Airflow sections"),
    ("env: {name: A}\n", "env: must be a list"),
    ("secret: [{envName: X}]\n", r"secret\[0\]: needs envName, secretName and secretKey"),
    ("a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" + "".join(
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10) + "]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
     + "scheduler: {extraContainers: *i}\n",
     "more than 200000 values"),
])
def test_malformed_or_hostile_input_exits_1_naming_the_file_and_key(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str) -> None:
    source = tmp_path / "official.yaml"
    source.write_text(content)
    out = tmp_path / "out.yaml"
    ran = run(capsys, "helm", "import-values", str(source), "-o", str(out))
    assert ran.code == 1
    assert "Traceback" not in ran.err
    assert pytest.importorskip("re").search(message, ran.err), ran.err
    assert not out.exists()


def test_a_50_mb_file_is_refused_before_it_is_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "huge.yaml"
    with source.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    ran = run(capsys, "helm", "import-values", str(source))
    assert ran.code == 1 and str(source) in ran.err and "at most 5 MiB" in ran.err


def test_unreadable_input_names_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ran = run(capsys, "helm", "import-values", str(tmp_path / "missing.yaml"))
    assert ran.code == 1 and "missing.yaml: cannot read it" in ran.err
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00scheduler")
    ran = run(capsys, "helm", "import-values", str(binary))
    assert ran.code == 1 and "not UTF-8 text" in ran.err


def test_unknown_keys_are_listed_and_the_rest_carried() -> None:
    result = convert({"scheduler": {"replicas": 3, "turbo": True}, "madeUp": {"x": 1}, "elasticsearch": {}})
    assert result.values == {"scheduler": {"replicas": 3}}
    assert result.skipped == [("scheduler.turbo", "no airdeck equivalent"),
                              ("madeUp.x", "not a key airdeck knows from the official chart")]


def test_every_carried_target_is_a_key_of_the_chart() -> None:
    """The table cannot point at a key our chart's schema would refuse."""
    import json

    schema = json.loads((Path(__file__).parents[2] / "helm" / "airdeck" / "values.schema.json").read_text())
    for rule in all_rules():
        if rule.airdeck is None or " " in rule.airdeck:
            continue
        node = schema
        for key in rule.airdeck.split("."):
            if "$ref" in node:
                node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
            assert key in node.get("properties", {}), (rule.official, rule.airdeck)
            node = node["properties"][key]


def test_the_docs_table_is_the_code_table() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "kubernetes.md").read_text()
    assert mapping_table() in doc


def test_log_persistence_pgbouncer_and_cleanup_are_carried_and_render() -> None:
    """The official chart's worker/triggerer log persistence, PgBouncer and database cleanup keys become
    ours; what ours lacks (fixPermissions) is reported, and the result renders."""
    result = convert({"workers": {"persistence": {"enabled": True, "size": "100Gi", "fixPermissions": True}},
                      "triggerer": {"persistence": {"enabled": True, "storageClassName": "gp3"}},
                      "pgbouncer": {"enabled": True, "maxClientConn": 300, "auth": {"type": "md5"}},
                      "databaseCleanup": {"enabled": True, "retentionDays": 60}})
    assert result.values["workers"]["persistence"] == {"enabled": True, "size": "100Gi"}
    assert result.values["triggerer"]["persistence"] == {"enabled": True, "storageClassName": "gp3"}
    assert result.values["pgbouncer"] == {"enabled": True, "maxClientConn": 300}
    assert result.values["databaseCleanup"] == {"enabled": True, "retentionDays": 60}
    skipped = dict(result.skipped)
    assert "workers.persistence.fixPermissions" in skipped and "pgbouncer.auth.type" in skipped
    objects = render(result.values)
    claims = {o["metadata"]["name"].rsplit("-", 1)[0]: o["spec"]["volumeClaimTemplates"][0]["spec"]
              for o in by_kind(objects, "StatefulSet")}
    assert claims["airdeck-worker"]["resources"]["requests"]["storage"] == "100Gi"
    assert claims["airdeck-triggerer"]["storageClassName"] == "gp3"
    assert named(objects, "Deployment", "airdeck-pgbouncer") and by_kind(objects, "CronJob")
