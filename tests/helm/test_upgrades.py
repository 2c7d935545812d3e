"""Upgrades that apply: the chart rendered as an install, then as an upgrade with changed values, must
not change a field Kubernetes refuses to change under the same name (the API server's update
validation), and Helm hooks may reference only objects that exist when they run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helm.chart import pod_references, pod_spec, render

#: Fields the API server refuses to update, by kind (apps/v1, batch/v1 and core/v1 update validation).
IMMUTABLE: dict[str, tuple[tuple[str, ...], ...]] = {
    "Job": (("spec", "template"), ("spec", "selector"), ("spec", "completions"), ("spec", "completionMode")),
    "StatefulSet": (("spec", "selector"), ("spec", "serviceName"), ("spec", "volumeClaimTemplates"),
                    ("spec", "podManagementPolicy")),
    "Deployment": (("spec", "selector"),),
    "DaemonSet": (("spec", "selector"),),
    "PersistentVolumeClaim": (("spec", "accessModes"), ("spec", "storageClassName"), ("spec", "volumeName"),
                              ("spec", "volumeMode"), ("spec", "selector")),
    "Service": (("spec", "clusterIP"),),  # a headless Service (None) cannot get an address, nor lose it
    "ServiceAccount": (),
}

#: Value changes an operator makes on a running release.
CHANGES: dict[str, dict[str, Any]] = {
    "image tag": {"images": {"airdeck": {"tag": "9.9.9"}}},
    "image digest": {"images": {"airdeck": {"digest": "sha256:" + "a" * 64}}},
    "pull secrets": {"images": {"pullSecrets": ["registry"]}},
    "existing secret names": {"secrets": {"databaseUrl": {"existingSecret": "db"},
                                          "fernetKey": {"existingSecret": "f"}}},
    "common labels": {"commonLabels": {"team": "data"}},
    "worker log persistence": {"workers": {"persistence": {"enabled": True}}},
    "triggerer log persistence": {"triggerer": {"persistence": {"enabled": True, "storageClassName": "gp3"}}},
    "pod annotations": {"scheduler": {"podAnnotations": {"a": "b"}}, "workers": {"podAnnotations": {"a": "b"}}},
    "resources": {"migrations": {"resources": {"requests": {"cpu": "300m", "memory": "600Mi"},
                                               "limits": {"cpu": "1", "memory": "1Gi"}}},
                  "workers": {"resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                                            "limits": {"cpu": "4", "memory": "4Gi"}}}},
    "replicas": {"scheduler": {"replicas": 3}, "triggerer": {"replicas": 3}, "workers": {"hpa": {"enabled": False},
                                                                                      "replicas": 5}},
    "airdeck config": {"airdeck": {"airflow": {"parallelism": 64}, "workers": {"concurrency": 4}}},
    "ingress on": {"ingress": {"enabled": True}},
    "tolerations": {"tolerations": [{"key": "pool", "operator": "Exists", "effect": "NoSchedule"}]},
    "keda on": {"workers": {"keda": {"enabled": True}, "hpa": {"enabled": False}}},
    "log ports": {"airdeck": {"triggerer": {"log_server_port": 8800}, "workers": {"log_server_port": 8801}}},
    "official labels and env": {"labels": {"team": "data"}, "env": [{"name": "HTTPS_PROXY", "value": "http://p:3128"}],
                                "workers": {"labels": {"tier": "tasks"}}, "migrations": {"labels": {"a": "b"}}},
    "sidecars and volumes": {"volumes": [{"name": "ca", "configMap": {"name": "ca"}}],
                             "volumeMounts": [{"name": "ca", "mountPath": "/etc/ssl/corp"}],
                             "workers": {"extraContainers": [{"name": "agent", "image": "busybox:1.37"}]},
                             "migrations": {"extraInitContainers": [{"name": "proxy", "image": "busybox:1.37",
                                                                     "restartPolicy": "Always"}]}},
    "own service accounts": {"workers": {"serviceAccount": {"create": True}},
                             "migrations": {"serviceAccount": {"create": True}},
                             "scheduler": {"serviceAccount": {"create": True, "automountServiceAccountToken": True}}},
    "pdb config": {"scheduler": {"podDisruptionBudget": {"config": {"minAvailable": 1}}}},
    # the former default (one account for every pod, its cloud identity on it) and back: per-component
    # accounts are the upgrade of a release installed with the single one
    "single service account": {"serviceAccount": {"perComponent": False, "annotations": {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/airdeck-workload"}}},
    "task log identity per component": {key: {"serviceAccount": {"annotations": {
        "iam.gke.io/gcp-service-account": "airdeck-workload@p.iam.gserviceaccount.com"}}}
        for key in ("apiServer", "triggerer", "workers", "migrations")},
    "kubernetes pod operator": {"workers": {"kubernetesPodOperator": {"enabled": True}},
                                "networkPolicies": {"kubernetesApi": {"cidrs": ["172.20.0.1/32"]}}},
}

BASES = {"production": {}, "dev": {"mode": "dev", "secrets": {"generate": True}, "postgresql": {"enabled": True},
                                   "redis": {"enabled": True}}}


def _get(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in change.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def refused_updates(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """The (kind/name: field) updates the API server would refuse between two renders."""
    old = {(o["kind"], o["metadata"]["name"]): o for o in before}
    problems = []
    for obj in after:
        key = (obj["kind"], obj["metadata"]["name"])
        if key not in old:
            continue
        for path in IMMUTABLE.get(obj["kind"], ()):
            if _get(old[key], path) != _get(obj, path):
                problems.append(f"{key[0]}/{key[1]}: {'.'.join(path)}")
    return problems


def test_the_check_sees_a_refused_update() -> None:
    job = {"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}
    changed = {**job, "spec": {"template": {"spec": {"containers": [{"image": "b"}]}}}}
    assert refused_updates([job], [changed]) == ["Job/j: spec.template"]
    assert refused_updates([job], [{**changed, "metadata": {"name": "k"}}]) == []
    headless = {"kind": "Service", "metadata": {"name": "s"}, "spec": {"clusterIP": "None"}}
    assert refused_updates([headless], [{**headless, "spec": {}}]) == ["Service/s: spec.clusterIP"]


@pytest.mark.parametrize("base", list(BASES))
@pytest.mark.parametrize("change", list(CHANGES))
def test_upgrade_changes_no_immutable_field(base: str, change: str) -> None:
    installed = render(BASES[base])
    upgraded = render(_merge(BASES[base], CHANGES[change]), upgrade=True)
    assert not refused_updates(installed, upgraded), change
    assert not refused_updates(upgraded, render(BASES[base], upgrade=True)), f"rolling back {change}"


def test_a_new_log_claim_size_is_a_new_statefulset() -> None:
    """volumeClaimTemplates cannot change in place: a persistent worker's bigger claims come with a new
    StatefulSet (its name carries the digest of workers.persistence), whose scaler follows it."""
    before = {"workers": {"persistence": {"enabled": True, "size": "50Gi"}}}
    after = {"workers": {"persistence": {"enabled": True, "size": "80Gi"}}}
    installed, upgraded = render(before), render(after, upgrade=True)
    assert not refused_updates(installed, upgraded)
    names = [{o["metadata"]["name"] for o in objs if o["kind"] == "StatefulSet"} for objs in (installed, upgraded)]
    assert names[0] != names[1] and "airdeck-triggerer" in names[0] & names[1]
    target = next(o for o in upgraded if o["kind"] == "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"]
    assert target in names[1] and target.startswith("airdeck-worker-")


def test_an_unchanged_upgrade_keeps_the_finished_migration_job() -> None:
    def jobs(objects: list[dict[str, Any]]) -> list[str]:
        return [o["metadata"]["name"] for o in objects if o["kind"] == "Job"]

    assert jobs(render({})) == jobs(render({}, upgrade=True))
    assert jobs(render({})) != jobs(render(CHANGES["pull secrets"], upgrade=True))


# ------------------------------------------------------------------ hooks

def _hook(obj: dict[str, Any]) -> tuple[set[str], int] | None:
    annotations = obj["metadata"].get("annotations") or {}
    if "helm.sh/hook" not in annotations:
        return None
    return set(annotations["helm.sh/hook"].split(",")), int(annotations.get("helm.sh/hook-weight", "0"))


def hook_problems(objects: list[dict[str, Any]], phase: str) -> list[str]:
    """Objects a ``phase`` hook needs that Helm has not created when it runs: pre-* hooks run before
    the release's objects exist, so what they need must be an earlier pre-* hook of lower weight;
    post-* hooks run after every object of the release."""
    rendered = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    problems = []
    for obj in objects:
        hook = _hook(obj)
        spec = pod_spec(obj)
        if hook is None or spec is None or phase not in hook[0]:
            continue
        for ref in pod_references(spec):
            needed = rendered.get(ref)
            if needed is None:
                continue  # not the chart's: created by the user before installing (docs/kubernetes.md)
            needed_hook = _hook(needed)
            if phase.startswith("pre-") and (needed_hook is None or phase not in needed_hook[0]
                                             or needed_hook[1] >= hook[1]):
                problems.append(f"{obj['kind']}/{obj['metadata']['name']} ({phase}) needs {ref[0]}/{ref[1]}")
    return problems


def test_the_hook_check_sees_a_pre_install_hook_needing_a_release_object() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p", "annotations": {"helm.sh/hook": "pre-install"}},
           "spec": {"serviceAccountName": "sa", "containers": []}}
    sa = {"kind": "ServiceAccount", "metadata": {"name": "sa"}}
    assert hook_problems([pod, sa], "pre-install") == ["Pod/p (pre-install) needs ServiceAccount/sa"]
    early = {**sa, "metadata": {"name": "sa", "annotations": {"helm.sh/hook": "pre-install",
                                                              "helm.sh/hook-weight": "-1"}}}
    assert hook_problems([pod, early], "pre-install") == []


@pytest.mark.parametrize("base", list(BASES))
@pytest.mark.parametrize("hooks", [False, True])
def test_hooks_reference_only_objects_that_exist_when_they_run(base: str, hooks: bool) -> None:
    values = _merge(BASES[base], {"migrations": {"useHelmHooks": hooks}})
    for upgrade, phases in ((False, ("pre-install", "post-install")), (True, ("pre-upgrade", "post-upgrade"))):
        objects = render(values, upgrade=upgrade)
        for phase in phases:
            assert not hook_problems(objects, phase), (phase, hook_problems(objects, phase))
    if hooks:
        job = next(o for o in render(values) if o["kind"] == "Job")
        assert _hook(job) == ({"post-install", "post-upgrade"}, 1)
