"""The official chart's extension keys in our chart: global and per-component env, volumes, sidecars,
init containers, service accounts, PDBs, labels, annotations, pull Secrets, extra objects, the official
Ingress and Service keys, KubernetesPodOperator's Role; rendered by Helm's engine, each reaching every pod
it should (the migration Job and the helm test pod included) and valid Kubernetes 1.30."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import by_kind, named, pod_spec, render

VALUES = Path(__file__).parent / "values"
#: Workloads whose containers run airdeck (the alert dispatcher only with a channel configured).
CHANNEL = {"airdeck": {"alerts": {"channels": {"ops": {"type": "email", "connection": "smtp_ops",
                                                         "to": ["ops@example.com"]}}}}}
AIRDECK_PODS = {("Deployment", "airdeck-api-server"), ("Deployment", "airdeck-scheduler"),
                ("Deployment", "airdeck-dag-processor"), ("StatefulSet", "airdeck-triggerer"),
                ("StatefulSet", "airdeck-worker"), ("Deployment", "airdeck-alert-dispatcher"),
                ("Pod", "airdeck-canary")}
#: values key of each workload's component.
KEYS = {"airdeck-api-server": "apiServer", "airdeck-scheduler": "scheduler", "airdeck-dag-processor": "dagProcessor",
        "airdeck-triggerer": "triggerer", "airdeck-worker": "workers", "airdeck-alert-dispatcher": "alertDispatcher",
        "airdeck-statsd-exporter": "statsdExporter", "airdeck-canary": "tests"}


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in change.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load(name: str) -> dict[str, Any]:
    return _merge(CHANNEL, yaml.safe_load((VALUES / name).read_text(encoding="utf-8")))


def valid(objects: list[dict[str, Any]]) -> None:
    import kubernetes_validate

    for obj in objects:
        group = obj["apiVersion"].split("/")[0]
        if "." not in group or group in ("apps", "batch", "policy", "autoscaling", "networking.k8s.io",
                                         "rbac.authorization.k8s.io"):
            kubernetes_validate.validate(obj, "1.30.0", strict=True)


def airdeck_pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Pod specs of every workload running airdeck, by workload name (the migration Job as 'migrate')."""
    out = {}
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        name = obj["metadata"]["name"]
        if obj["kind"] == "Job" and name.startswith("airdeck-migrate-"):
            out["migrate"] = spec
        elif (obj["kind"], name) in AIRDECK_PODS:
            out[name] = spec
    assert len(out) == len(AIRDECK_PODS) + 1, sorted(out)
    return out


def airdeck_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in [*spec.get("initContainers", []), *spec["containers"]] if c.get("command") == ["airdeck"]]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_every_example_values_file_renders_valid_objects() -> None:
    files = sorted(VALUES.glob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        valid(render(load(path.name)))


@pytest.mark.parametrize("name", sorted(p.name for p in VALUES.glob("*.yaml")))
def test_example_values_files_pass_helm_lint_strict(name: str) -> None:
    from helm_python import lint

    from tests.helm.chart import CHART

    report = lint(str(CHART), load(name), strict=True, kube_version="v1.30.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + list(report.get("errors") or [])
    assert not problems, problems


def test_a_proxy_reaches_every_airdeck_container_and_no_other() -> None:
    objects = render(load("proxy.yaml"))
    for where, spec in airdeck_pods(objects).items():
        containers = airdeck_containers(spec)
        assert containers, where
        for c in containers:
            env = env_of(c)
            assert env["HTTPS_PROXY"] == "http://proxy.corp.example:3128", (where, c["name"])
            # extraEnv as the official chart takes it: a YAML string, rendered with tpl
            assert env["NO_PROXY"].endswith(",airdeck-api-server"), (where, c["name"])
            assert env["AIRDECK_CONFIG"] == "/etc/airdeck/airdeck.yaml"
    statsd = named(objects, "Deployment", "airdeck-statsd-exporter")
    assert "HTTPS_PROXY" not in env_of(statsd["spec"]["template"]["spec"]["containers"][0])


def test_a_ca_bundle_is_mounted_in_every_airdeck_container_and_its_configmap_rendered() -> None:
    objects = render(load("ca-bundle.yaml"))
    cm = named(objects, "ConfigMap", "corp-ca-bundle")
    assert cm["metadata"]["labels"]["app.kubernetes.io/instance"] == "airdeck"  # tpl ran
    for where, spec in airdeck_pods(objects).items():
        assert {"name": "corp-ca", "configMap": {"name": "corp-ca-bundle"}} in spec["volumes"], where
        for c in airdeck_containers(spec):
            assert {"name": "corp-ca", "mountPath": "/etc/ssl/corp", "readOnly": True} in c["volumeMounts"], where
            assert env_of(c)["REQUESTS_CA_BUNDLE"] == "/etc/ssl/corp/ca-bundle.crt"


def test_a_database_proxy_sidecar_starts_before_the_migration_wait() -> None:
    objects = render(load("cloud-sql-proxy.yaml"))
    pods = airdeck_pods(objects)
    for where in ("airdeck-api-server", "airdeck-scheduler", "airdeck-dag-processor", "airdeck-triggerer", "migrate"):
        init = [c["name"] for c in pods[where].get("initContainers", [])]
        assert init[0] == "cloud-sql-proxy", (where, init)
        assert pods[where]["initContainers"][0]["restartPolicy"] == "Always"
        if where != "migrate":
            assert init[1] == "wait-for-migrations", (where, init)
    assert "initContainers" not in pods["airdeck-worker"]  # workers never reach the database
    # the scheduler's own ServiceAccount carries the database identity; the others' own accounts do not
    sa = named(objects, "ServiceAccount", "airdeck-scheduler")
    assert sa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account":
                                             "airflow-db@my-project.iam.gserviceaccount.com"}
    assert sa["automountServiceAccountToken"] is False
    assert pods["airdeck-scheduler"]["serviceAccountName"] == "airdeck-scheduler"
    assert pods["airdeck-api-server"]["serviceAccountName"] == "airdeck-api-server"
    assert "annotations" not in named(objects, "ServiceAccount", "airdeck-api-server")["metadata"]


def test_a_vault_agent_shares_a_volume_with_the_worker_only() -> None:
    objects = render(load("vault-agent.yaml"))
    pods = airdeck_pods(objects)
    worker = pods["airdeck-worker"]
    assert [c["name"] for c in worker["initContainers"]] == ["vault-agent-init"]
    # the user's sidecars follow the airdeck container; the chart's own log-retention sidecar comes last
    assert [c["name"] for c in worker["containers"]] == ["worker", "vault-agent", "log-retention"]
    assert {"name": "vault-token", "emptyDir": {"medium": "Memory"}} in worker["volumes"]
    main = worker["containers"][0]
    assert {"name": "vault-token", "mountPath": "/vault", "readOnly": True} in main["volumeMounts"]
    assert env_of(main)["VAULT_TOKEN_FILE"] == "/vault/token"
    assert worker["serviceAccountName"] == "airdeck-worker" and worker["automountServiceAccountToken"] is True
    for where, spec in pods.items():
        if where != "airdeck-worker":
            assert all(v["name"] != "vault-token" for v in spec["volumes"]), where
            assert spec["automountServiceAccountToken"] is False, where


def test_airflow_variables_reach_the_tasks_from_values_secrets_and_configmaps() -> None:
    objects = render(load("airflow-variables.yaml"))
    for where, spec in airdeck_pods(objects).items():
        for c in airdeck_containers(spec):
            assert env_of(c)["AIRFLOW_VAR_ENVIRONMENT"] == "production", where
            assert c["envFrom"] == [{"configMapRef": {"name": "airflow-variables"}}], where
    worker = airdeck_pods(objects)["airdeck-worker"]["containers"][0]
    assert env_of(worker)["AIRFLOW_VAR_PARTNER_API_KEY"] == {"secretKeyRef": {"name": "partner-api", "key": "api-key"}}


@pytest.mark.parametrize("values", [
    {"env": [{"name": "AIRFLOW__CORE__PARALLELISM", "value": "64"}]},
    {"extraEnv": "- name: AIRFLOW__CORE__PARALLELISM\n  value: '64'\n"},
    {"workers": {"env": [{"name": "AIRFLOW__CELERY__WORKER_CONCURRENCY", "value": "4"}]}},
])
def test_airflow_settings_in_env_are_refused_with_where_they_belong(values: dict[str, Any]) -> None:
    with pytest.raises(Exception, match=r"airdeck\.airflow\.extra_config"):
        render(values)


def test_extra_env_that_is_not_a_list_of_objects_names_the_key() -> None:
    with pytest.raises(Exception, match="extraEnv: must be a YAML list of objects"):
        render({"extraEnv": "just text"})
    with pytest.raises(Exception, match="extraEnvFrom"):
        render({"extraEnvFrom": "[1, 2]"})


def test_extra_env_as_a_list_equals_extra_env_as_a_string() -> None:
    as_list = render({"extraEnv": [{"name": "A", "value": "1"}], "extraEnvFrom": [{"secretRef": {"name": "s"}}]})
    as_text = render({"extraEnv": "- name: A\n  value: '1'\n", "extraEnvFrom": "- secretRef:\n    name: s\n"})
    assert as_list == as_text


def test_component_keys_reach_their_pods_and_workloads_only() -> None:
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
               "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "worker"}}}]
    values = _merge(CHANNEL, {
        "labels": {"team": "data"},
        "workers": {"priorityClassName": "batch", "topologySpreadConstraints": spread, "labels": {"tier": "tasks"},
                    "annotations": {"owner": "data-platform"},
                    "podDisruptionBudget": {"config": {"minAvailable": 1}}},
        "migrations": {"labels": {"job": "migrate"}, "annotations": {"argocd.argoproj.io/sync-wave": "-1"},
                       "priorityClassName": "critical"},
        "tests": {"labels": {"canary": "yes"}},
        "statsdExporter": {"priorityClassName": "monitoring", "env": [{"name": "GOMAXPROCS", "value": "1"}]},
    })
    objects = render(values)
    valid(objects)
    worker = named(objects, "StatefulSet", "airdeck-worker")
    spec = worker["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "batch" and spec["topologySpreadConstraints"] == spread
    assert worker["spec"]["template"]["metadata"]["labels"]["tier"] == "tasks"
    assert worker["metadata"]["labels"]["tier"] == "tasks" and worker["metadata"]["annotations"]["owner"] == \
        "data-platform"
    assert "tier" not in worker["spec"]["selector"]["matchLabels"]
    assert named(objects, "PodDisruptionBudget", "airdeck-worker")["spec"] == {
        "minAvailable": 1, "selector": worker["spec"]["selector"]}
    scheduler = named(objects, "Deployment", "airdeck-scheduler")
    assert "priorityClassName" not in scheduler["spec"]["template"]["spec"]
    assert "tier" not in scheduler["spec"]["template"]["metadata"]["labels"]
    job = next(o for o in by_kind(objects, "Job"))
    assert job["spec"]["template"]["metadata"]["labels"]["job"] == "migrate"
    assert job["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
    assert job["spec"]["template"]["spec"]["priorityClassName"] == "critical"
    canary = named(objects, "Pod", "airdeck-canary")
    assert canary["metadata"]["labels"]["canary"] == "yes"
    statsd = named(objects, "Deployment", "airdeck-statsd-exporter")["spec"]["template"]["spec"]
    assert statsd["priorityClassName"] == "monitoring"
    assert statsd["containers"][0]["env"] == [{"name": "GOMAXPROCS", "value": "1"}]
    # the global labels (the official name) reach every object, like commonLabels
    for obj in objects:
        assert obj["metadata"].get("labels", {}).get("team") == "data", (obj["kind"], obj["metadata"]["name"])


def test_global_topology_spread_and_pull_secrets_in_both_forms_reach_every_pod() -> None:
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
               "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "airdeck"}}}]
    objects = render(_merge(CHANNEL, {"topologySpreadConstraints": spread, "images": {"pullSecrets": ["mirror"]},
                                      "imagePullSecrets": ["registry", {"name": "other"}, "mirror"]}))
    pods = [pod_spec(o) for o in objects if pod_spec(o) is not None]
    assert len(pods) >= 9
    for spec in pods:
        assert spec is not None
        assert spec["imagePullSecrets"] == [{"name": "mirror"}, {"name": "registry"}, {"name": "other"}]
        assert spec["topologySpreadConstraints"] == spread


def test_extra_objects_and_manifests_are_rendered_with_tpl() -> None:
    objects = render({
        "extraObjects": [{"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "{{ include \"airdeck.fullname\" . }}-extra"}, "data": {"a": "b"}}],
        "extraManifests": ["apiVersion: v1\nkind: Secret\nmetadata:\n  name: '{{ .Release.Name }}-token'\n"
                           "type: Opaque\n"],
    })
    assert named(objects, "ConfigMap", "airdeck-extra")["data"] == {"a": "b"}
    named(objects, "Secret", "airdeck-token")


def test_official_service_and_ingress_keys() -> None:
    objects = render({
        "apiServer": {"service": {"type": "LoadBalancer", "annotations": {"service.beta.kubernetes.io/x": "y"},
                                  "loadBalancerSourceRanges": ["203.0.113.0/24"]}},
        "ingress": {"apiServer": {"enabled": True, "ingressClassName": "nginx", "annotations": {"a": "b"},
                                  "hosts": [{"name": "airflow.corp.example",
                                             "tls": {"enabled": True, "secretName": "corp-tls"}}]}},
    })
    valid(objects)
    svc = named(objects, "Service", "airdeck-api-server")
    assert svc["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert svc["metadata"]["annotations"] == {"service.beta.kubernetes.io/x": "y"}
    ing = named(objects, "Ingress", "airdeck-api-server")
    assert ing["spec"]["ingressClassName"] == "nginx" and ing["metadata"]["annotations"] == {"a": "b"}
    assert ing["spec"]["tls"] == [{"hosts": ["airflow.corp.example"], "secretName": "corp-tls"}]
    assert [r["host"] for r in ing["spec"]["rules"]] == ["airflow.corp.example"]
    # the ingress controller is admitted to the api-server, as with ingress.enabled
    policy = named(objects, "NetworkPolicy", "airdeck-api-server")
    assert "ingress-nginx" in yaml.safe_dump(policy)
    both = render({"ingress": {"enabled": True, "apiServer": {"hosts": [{"name": "second.example"}]}}})
    ing = named(both, "Ingress", "airdeck-api-server")
    assert ing["spec"]["tls"] == [{"hosts": ["airflow.example.com"], "secretName": "airflow-tls"},
                                  {"hosts": ["second.example"], "secretName": "airflow-tls"}]
    with pytest.raises(Exception, match=r"ingress\.apiServer\.enabled: name its hosts"):
        render({"ingress": {"apiServer": {"enabled": True}}})


def test_keda_takes_the_official_names() -> None:
    objects = render({"workers": {"keda": {"enabled": True, "minReplicaCount": 1, "maxReplicaCount": 7},
                                  "hpa": {"enabled": False}}})
    scaled = by_kind(objects, "ScaledObject")[0]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (1, 7)
    with pytest.raises(Exception, match="minReplicas"):
        render({"workers": {"keda": {"minReplicas": 1}}})


def test_every_component_can_have_its_own_service_account() -> None:
    own = {key: {"serviceAccount": {"create": True, "annotations": {"role": key}}}
           for key in set(KEYS.values()) | {"migrations"}}
    objects = render(_merge(CHANNEL, own))
    valid(objects)
    accounts = {sa["metadata"]["name"]: sa for sa in by_kind(objects, "ServiceAccount")}
    assert set(accounts) == {"airdeck-api-server", "airdeck-scheduler", "airdeck-dag-processor",
                             "airdeck-triggerer", "airdeck-worker", "airdeck-alert-dispatcher",
                             "airdeck-statsd-exporter", "airdeck-migrate", "airdeck-canary"}
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        name = obj["metadata"]["name"]
        key = "migrations" if obj["kind"] == "Job" else KEYS[name]
        account = accounts[spec["serviceAccountName"]]
        assert account["metadata"]["annotations"] == {"role": key}, name
        assert spec["automountServiceAccountToken"] is False


#: The ServiceAccount each workload runs as by default (the migration Job as 'migrate').
OWN_ACCOUNTS = {"airdeck-api-server": "airdeck-api-server", "airdeck-scheduler": "airdeck-scheduler",
                "airdeck-dag-processor": "airdeck-dag-processor", "airdeck-triggerer": "airdeck-triggerer",
                "airdeck-worker": "airdeck-worker", "airdeck-alert-dispatcher": "airdeck-alert-dispatcher",
                "airdeck-canary": "airdeck-canary", "migrate": "airdeck-migrate"}


def test_each_component_runs_as_its_own_account_by_default() -> None:
    objects = render(CHANNEL)
    valid(objects)
    pods = airdeck_pods(objects)
    assert {name: spec["serviceAccountName"] for name, spec in pods.items()} == OWN_ACCOUNTS
    assert named(objects, "Deployment", "airdeck-statsd-exporter")["spec"]["template"]["spec"][
        "serviceAccountName"] == "airdeck-statsd-exporter"
    accounts = {sa["metadata"]["name"]: sa for sa in by_kind(objects, "ServiceAccount")}
    # no shared account nobody runs as; no account carries an identity or mounts a token by default
    assert set(accounts) == set(OWN_ACCOUNTS.values()) | {"airdeck-statsd-exporter"}
    for sa in accounts.values():
        assert "annotations" not in sa["metadata"] and sa["automountServiceAccountToken"] is False
    # dev mode: the bundled PostgreSQL and Redis run as the shared account, which is then rendered
    dev = render({"mode": "dev", "secrets": {"generate": True}, "postgresql": {"enabled": True},
                  "redis": {"enabled": True}})
    assert "airdeck" in {sa["metadata"]["name"] for sa in by_kind(dev, "ServiceAccount")}
    assert named(dev, "Deployment", "airdeck-postgresql")["spec"]["template"]["spec"][
        "serviceAccountName"] == "airdeck"


def test_per_component_off_keeps_the_single_account_and_its_identity() -> None:
    """The upgrade path of a release whose cloud identity trusts the one account <prefix>."""
    irsa = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/airdeck-workload"}
    objects = render(_merge(CHANNEL, {"serviceAccount": {"perComponent": False, "annotations": irsa}}))
    pods = airdeck_pods(objects)
    assert {spec["serviceAccountName"] for spec in pods.values()} == {"airdeck"}
    assert [sa["metadata"]["name"] for sa in by_kind(objects, "ServiceAccount")] == ["airdeck"]
    assert named(objects, "ServiceAccount", "airdeck")["metadata"]["annotations"] == irsa
    # a component may still have its own account in that mode
    own = render(_merge(CHANNEL, {"serviceAccount": {"perComponent": False},
                                  "workers": {"serviceAccount": {"create": True}}}))
    assert airdeck_pods(own)["airdeck-worker"]["serviceAccountName"] == "airdeck-worker"
    assert airdeck_pods(own)["airdeck-scheduler"]["serviceAccountName"] == "airdeck"


def test_a_cloud_identity_on_the_unused_shared_account_is_refused() -> None:
    """Per-component accounts by default: a values file that still annotates the shared account (made
    for the single account) would leave the task log writers without the bucket's identity."""
    for key in ("eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account", "azure.workload.identity/client-id"):
        with pytest.raises(Exception, match=r"serviceAccount\.annotations\..*serviceAccount\.perComponent: false"):
            render({"serviceAccount": {"annotations": {key: "x"}}})
    # other annotations, or the workers on the shared account, are fine
    render({"serviceAccount": {"annotations": {"team": "data"}}})
    render({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "x"}},
            "workers": {"serviceAccount": {"create": False}}})


def test_azure_workload_identity_labels_only_the_pods_whose_account_carries_it() -> None:
    azure = {"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000000"}
    identity = {key: {"serviceAccount": {"annotations": azure}}
                for key in ("apiServer", "triggerer", "workers", "migrations")}
    values = _merge(CHANNEL, {"azureWorkloadIdentity": True, **identity})
    objects = render(values)
    labelled = set()
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        labels = obj["metadata"]["labels"] if obj["kind"] == "Pod" else obj["spec"]["template"]["metadata"]["labels"]
        if labels.get("azure.workload.identity/use") == "true":
            labelled.add(spec["serviceAccountName"])
    assert labelled == {"airdeck-api-server", "airdeck-triggerer", "airdeck-worker", "airdeck-migrate"}
    # the single account: every pod, as before
    single = render({"azureWorkloadIdentity": True, "serviceAccount": {"perComponent": False, "annotations": azure}})
    assert all(obj["spec"]["template"]["metadata"]["labels"].get("azure.workload.identity/use") == "true"
               for obj in single if obj["kind"] in ("Deployment", "StatefulSet"))


def test_an_existing_service_account_is_used_by_name_and_not_created() -> None:
    objects = render({"workers": {"serviceAccount": {"name": "task-identity"}}})
    assert named(objects, "StatefulSet", "airdeck-worker")["spec"]["template"]["spec"]["serviceAccountName"] == \
        "task-identity"
    accounts = [sa["metadata"]["name"] for sa in by_kind(objects, "ServiceAccount")]
    assert "task-identity" not in accounts and "airdeck-worker" not in accounts and "airdeck" not in accounts
    assert "airdeck-scheduler" in accounts


#: The Kubernetes API's endpoint and ClusterIP (networkPolicies.kubernetesApi.cidrs).
KUBE_API = ["10.0.1.20", "172.20.0.1/32"]


def test_kubernetes_pod_operator_gets_a_least_privilege_role_for_the_workers_only() -> None:
    objects = render({"workers": {"serviceAccount": {"create": True},
                                  "kubernetesPodOperator": {"enabled": True, "namespace": "tasks"}},
                      "networkPolicies": {"kubernetesApi": {"cidrs": KUBE_API}}})
    valid(objects)
    role = named(objects, "Role", "airdeck-pod-operator")
    assert role["metadata"]["namespace"] == "tasks"
    verbs = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert verbs == {("pods", v) for v in ("create", "get", "list", "watch", "delete", "patch")} | {
        ("pods/log", "get"), ("pods/exec", "create"), ("pods/exec", "get"), ("events", "list"),
        ("events", "watch")}
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    binding = named(objects, "RoleBinding", "airdeck-pod-operator")
    assert binding["metadata"]["namespace"] == "tasks"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "airdeck-worker", "namespace": "airflow"}]
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None:
            assert spec["automountServiceAccountToken"] is (obj["metadata"]["name"] == "airdeck-worker"), \
                obj["metadata"]["name"]
    kpo = {"workers": {"kubernetesPodOperator": {"enabled": True}},
           "networkPolicies": {"kubernetesApi": {"cidrs": KUBE_API}}}
    assert named(render(kpo), "RoleBinding",
                 "airdeck-pod-operator")["subjects"][0]["name"] == "airdeck-worker"  # its own account by default
    for shared in ({"serviceAccount": {"perComponent": False}}, {"workers": {"serviceAccount": {"create": False}}}):
        with pytest.raises(Exception, match=r"workers\.serviceAccount\.create"):
            render(_merge(shared, kpo))
    # the workers' egress to the Kubernetes API: by address, required (a policy cannot name the API server)
    policy = named(render(kpo), "NetworkPolicy", "airdeck-kubernetes-api")["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert policy["egress"] == [{"to": [{"ipBlock": {"cidr": "10.0.1.20/32"}}, {"ipBlock": {"cidr": "172.20.0.1/32"}}],
                                 "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]
    with pytest.raises(Exception, match=r"networkPolicies\.kubernetesApi\.cidrs"):
        render({"workers": {"kubernetesPodOperator": {"enabled": True}}})
    render({"workers": {"kubernetesPodOperator": {"enabled": True}}, "networkPolicies": {"enabled": False}})
    assert not by_kind(render({}), "Role")


def test_vault_kubernetes_auth_with_an_automounted_token_mounts_it_once() -> None:
    vault = {"airdeck": {"secrets": {"backend": "vault", "vault": {"url": "https://vault.example:8200",
                                                                   "auth": {"method": "kubernetes",
                                                                            "kubernetes_role": "airdeck"}}}},
             "scheduler": {"serviceAccount": {"create": True, "automountServiceAccountToken": True}}}
    objects = render(vault)
    valid(objects)
    spec = named(objects, "Deployment", "airdeck-scheduler")["spec"]["template"]["spec"]
    assert all(v["name"] != "sa-token" for v in spec["volumes"])
    other = named(objects, "Deployment", "airdeck-api-server")["spec"]["template"]["spec"]
    assert any(v["name"] == "sa-token" for v in other["volumes"])


def test_the_values_reference_has_a_row_for_every_key_of_the_schema() -> None:
    """Every chart key is documented (images.airdeck.* once went missing: a nested key named like the
    top-level airdeck key was taken for it)."""
    import json

    root = Path(__file__).parents[2]
    schema = json.loads((root / "helm" / "airdeck" / "values.schema.json").read_text())
    doc = (root / "docs" / "kubernetes.md").read_text()
    rows = {line.split("`")[1] for line in doc.splitlines() if line.startswith("| `")}
    missing = []

    def walk(prefix: str, props: dict[str, Any]) -> None:
        for key, spec in props.items():
            path = prefix + key
            if path in ("airdeck", "connections"):
                continue
            if spec.get("type") == "object" and "properties" in spec:
                walk(path + ".", spec["properties"])
            elif path not in rows:
                missing.append(path)

    walk("", schema["properties"])
    assert not missing, missing
    assert {"images.airdeck.repository", "images.airdeck.tag", "images.airdeck.digest",
            "images.airdeck.pullPolicy"} <= rows
