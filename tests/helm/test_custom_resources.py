"""Every custom resource the chart renders (ScaledObject, TriggerAuthentication, ServiceMonitor,
PrometheusRule, AlertmanagerConfig, ExternalSecret, HTTPRoute) is valid against its CRD's schema: the validators of the
@kubernetes-models packages, pinned by tests/helm/crd-models/package-lock.json and run with node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helm.chart import CHART, CI, ROOT, ci_values, render

MODELS = Path(os.environ.get("AIRDECK_CRD_MODELS", ROOT / ".tools" / "crd-models"))
VALIDATE = ROOT / "tests" / "helm" / "crd-models" / "validate.mjs"
CORE_GROUPS = {"v1", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}

#: Values that render the custom resources the ci files do not.
EXTRA: dict[str, dict[str, Any]] = {
    "keda": {"workers": {"keda": {"enabled": True}}},
    "vault secret store": {"secrets": {"externalSecrets": {
        "enabled": True, "secretStoreRef": {"name": "vault", "kind": "SecretStore"},
        "remoteRefs": {k: {"key": f"airdeck/{k}", "property": "value"} for k in (
            "fernetKey", "jwtPrivateKey", "apiSecretKey", "logFetchKey", "adminPassword", "databaseUrl",
            "brokerUrl")}}}},
    "dispatcher monitored": {"airdeck": {"alerts": {"channels": {"ops": {"type": "slack", "connection": "slack"}}}},
                             "monitoring": {"alertmanagerConfig": {"channels": {
                                 "ops": {"apiURL": {"secret": "am", "key": "url"}}}}}},
}


def _models() -> Path:
    if not (MODELS / "node_modules" / "@kubernetes-models" / "keda").is_dir() or shutil.which("node") is None:
        reason = f"{MODELS} (npm ci of tests/helm/crd-models) or node missing: run scripts/test"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return MODELS


def invalid(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    done = subprocess.run(["node", str(VALIDATE), str(_models())], input=json.dumps(objects), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def custom(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["apiVersion"].split("/")[0] not in CORE_GROUPS]


def test_the_validator_rejects_what_the_crd_rejects() -> None:
    bad = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "w"},
           "spec": {"scaleTargetRef": {"name": "w"}, "minReplicaCount": "zero", "triggers": []}}
    typo = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "m"},
            "spec": {"selector": {}, "endpoints": [{"port": "http", "interval": "30 seconds"}]}}
    unknown = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}}
    found = invalid([bad, typo, unknown])
    assert [p["name"] for p in found] == ["w", "m", "t"], found
    assert "minReplicaCount" in found[0]["error"] and "interval" in found[1]["error"]


@pytest.mark.parametrize("values", [p.name for p in CI] + list(EXTRA))
def test_every_custom_resource_is_valid(values: str) -> None:
    objects = custom(render(EXTRA[values] if values in EXTRA else ci_values(CHART / "ci" / values)))
    assert objects or values.startswith("02-"), "no custom resource rendered"
    assert not invalid(objects)


def test_every_custom_resource_kind_is_checked() -> None:
    kinds = set()
    for values in [ci_values(p) for p in CI] + list(EXTRA.values()):
        kinds |= {o["kind"] for o in custom(render(values))}
    assert kinds >= {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule", "ExternalSecret",
                     "HTTPRoute", "AlertmanagerConfig"}, kinds
