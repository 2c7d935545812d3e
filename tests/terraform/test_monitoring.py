"""kube-prometheus-stack as the airdeck module installs it: Grafana's admin password from a generated Secret,
the dashboards in the folder the chart's ConfigMaps name, Grafana beside the UI behind the same Ingress class
and annotations, and the outputs that say how to open it and read its password.

The module needs the helm and kubernetes providers (not downloadable here), so the values block
(``locals`` of terraform/modules/airdeck/monitoring.tf) and the Grafana outputs run on their own with
terraform apply, with the module's own variables.tf; what they produce is checked against the objects the
airdeck chart renders (labels and folder annotation of its dashboard ConfigMaps) and the Secret the module
creates. What this cannot prove: that kube-prometheus-stack's chart accepts these values (its chart is not
reachable here); the keys were checked against grafana/helm-charts' charts/grafana/values.yaml.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helm.chart import by_kind, render
from tests.terraform.readme import TERRAFORM, load
from tests.terraform.test_terraform import terraform

MODULE = TERRAFORM / "modules" / "airdeck"
SECRETS = {k: "x" for k in ("fernetKey", "jwtSecret", "jwtPrivateKey", "apiSecretKey", "logFetchKey",
                            "adminPassword", "databaseUrl", "brokerUrl")}
BASE = {"cloud": "aws", "prefix": "airdeck", "task_logs_url": "s3://b/logs", "database_cidrs": ["10.0.0.0/20"],
        "workload_identity": "arn:aws:iam::123456789012:role/w", "platform_secrets": SECRETS}
INGRESS = {"host": "airflow.example.com", "class_name": "alb",
           "annotations": {"alb.ingress.kubernetes.io/scheme": "internal",
                           "alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:eu-west-1:1:certificate/c"}}


def _block(text: str, header: str) -> str:
    start = text.index(header)
    depth, i = 0, text.index("{", start)
    while True:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0:
            return text[start:i] + "\n"


def evaluate(inputs: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """terraform apply of the module's monitoring locals and Grafana outputs with these inputs."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(MODULE / "variables.tf", root / "variables.tf")
    outputs = (MODULE / "outputs.tf").read_text()
    (root / "main.tf").write_text(
        _block((MODULE / "monitoring.tf").read_text(), "locals {").replace("${path.module}", str(MODULE))
        + _block(outputs, 'output "grafana_url"') + _block(outputs, 'output "grafana_admin_password_command"')
        + 'output "values" {\n  value = local.kube_prometheus_stack_values\n}\n')
    (root / "terraform.tfvars.json").write_text(json.dumps({**BASE, **inputs}))
    for args in (("init", "-backend=false", "-input=false"), ("apply", "-auto-approve", "-input=false")):
        done = terraform(*args, cwd=root)
        assert done.returncode == 0, done.stdout + done.stderr
    done = terraform("output", "-json", cwd=root)
    assert done.returncode == 0, done.stderr
    return {k: v["value"] for k, v in json.loads(done.stdout).items()}


def _admin_secret() -> dict[str, Any]:
    for block in load(MODULE / "monitoring.tf").get("resource", []):
        if "kubernetes_secret_v1" in block:
            return dict(block["kubernetes_secret_v1"]["grafana_admin"])
    raise AssertionError("monitoring.tf creates no kubernetes_secret_v1.grafana_admin")


def test_grafana_reads_its_admin_password_from_the_generated_secret(tmp_path: Path) -> None:
    out = evaluate({}, tmp_path)
    admin = out["values"]["grafana"]["admin"]
    secret = _admin_secret()
    assert secret["metadata"][0]["name"] == "${local.grafana_admin_secret}"
    assert set(secret["data"]) == {admin["userKey"], admin["passwordKey"]}
    assert "random_password.grafana_admin" in secret["data"][admin["passwordKey"]]
    assert admin["existingSecret"] == "grafana-admin"
    command = out["grafana_admin_password_command"]
    assert command == ("kubectl -n monitoring get secret grafana-admin -o jsonpath='{.data.admin-password}' "
                       "| base64 -d")
    assert "adminPassword" not in json.dumps(out["values"]), "a password in the release's values"


def test_the_sidecar_puts_the_charts_dashboards_in_their_folder(tmp_path: Path) -> None:
    sidecar = evaluate({}, tmp_path)["values"]["grafana"]["sidecar"]["dashboards"]
    maps = [o for o in by_kind(render(), "ConfigMap") if "-dashboard-" in o["metadata"]["name"]]
    assert len(maps) == len(list((TERRAFORM.parent / "grafana" / "dashboards").glob("*.json")))
    for cm in maps:
        assert cm["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
        assert cm["metadata"]["annotations"][sidecar["folderAnnotation"]] == "airdeck"
    assert sidecar["provider"]["foldersFromFilesStructure"] is True
    assert sidecar["searchNamespace"] == "ALL" and sidecar["enabled"] is True


def test_without_a_host_grafana_is_reached_by_port_forward(tmp_path: Path) -> None:
    out = evaluate({"ingress": INGRESS}, tmp_path)
    assert out["values"]["grafana"]["ingress"]["enabled"] is False
    assert out["grafana_url"] == ("kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80, "
                                  "then http://127.0.0.1:3000")


def test_grafana_is_served_beside_the_ui(tmp_path: Path) -> None:
    out = evaluate({"ingress": INGRESS, "grafana": {"host": "grafana.example.com"}}, tmp_path)
    ingress = out["values"]["grafana"]["ingress"]
    assert ingress["enabled"] is True and ingress["hosts"] == ["grafana.example.com"]
    assert ingress["ingressClassName"] == INGRESS["class_name"]
    assert ingress["annotations"] == INGRESS["annotations"]  # same scheme (internal), same certificate
    assert ingress["tls"] == [{"secretName": "grafana-tls", "hosts": ["grafana.example.com"]}]
    assert out["grafana_url"] == "https://grafana.example.com"
    assert out["values"]["grafana"]["grafana.ini"]["server"]["root_url"] == "https://grafana.example.com"


def test_a_grafana_host_without_the_ui_ingress_is_refused_by_the_release() -> None:
    text = (MODULE / "main.tf").read_text()
    release = _block(text, 'resource "helm_release" "kube_prometheus_stack"')
    assert re.search(r"condition\s*=\s*var\.grafana\.host == null \|\| var\.ingress != null", release)
    assert "local.kube_prometheus_stack_values" in release


@pytest.mark.parametrize("enabled", [False])
def test_no_grafana_outputs_without_kube_prometheus_stack(enabled: bool, tmp_path: Path) -> None:
    out = evaluate({"enable_kube_prometheus_stack": enabled}, tmp_path)
    assert out.get("grafana_url") is None and out.get("grafana_admin_password_command") is None


def test_alertmanager_merges_the_releases_alertmanager_config(tmp_path: Path) -> None:
    am = evaluate({"namespace": "data-platform"}, tmp_path)["values"]["alertmanager"]
    spec = am["alertmanagerSpec"]
    amc = by_kind(render({"airdeck": {"alerts": {"channels": {"ops": {"type": "slack", "connection": "s"}}}},
                          "monitoring": {"alertmanagerConfig": {"channels": {
                              "ops": {"apiURL": {"secret": "am", "key": "url"}}}}}}), "AlertmanagerConfig")[0]
    for key, value in spec["alertmanagerConfigSelector"]["matchLabels"].items():
        assert amc["metadata"]["labels"][key] == value
    assert spec["alertmanagerConfigNamespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "data-platform"}}
    assert spec["alertmanagerConfigMatcherStrategy"] == {"type": "OnNamespace"}
    assert am["templateFiles"]["airdeck.tmpl"] == (TERRAFORM.parent / "prometheus" / "templates" /
                                                   "airdeck.tmpl").read_text()
