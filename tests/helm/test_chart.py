"""The chart rendered by Helm's engine: lint, Kubernetes 1.30 schemas, checkov, security, probes,
selectors, PDBs, network flows, checksums, schema errors, upgrades and the generated monitoring objects."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import CHART, CI, NAMESPACE, ROOT, by_kind, ci_values, named, pod_references, pod_spec, render
from tests.helm.netpol import Endpoint, verdict

HELM_ERROR = 3
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.fixture(scope="module", params=[p.name for p in CI])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(ci_values(CHART / "ci" / request.param))


def test_every_ci_file_exists() -> None:
    names = {p.name for p in CI}
    for scenario in ("default", "dev", "aws", "gcp", "azure", "ldap-vault"):
        assert any(scenario in n for n in names), scenario


@pytest.mark.parametrize("values_file", [p.name for p in CI])
def test_lint_strict_has_no_errors(values_file: str) -> None:
    from helm_python import lint

    report = lint(str(CHART), ci_values(CHART / "ci" / values_file), strict=True, kube_version="v1.30.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + list(report.get("errors") or [])
    assert not problems, problems


def test_objects_are_valid_kubernetes_1_30(rendered: list[dict[str, Any]]) -> None:
    import kubernetes_validate

    core = [o for o in rendered if "." not in o["apiVersion"].split("/")[0] or o["apiVersion"].split("/")[0]
            in ("apps", "batch", "policy", "autoscaling", "networking.k8s.io")]
    assert core
    for obj in core:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    return [] if spec is None else [*spec.get("initContainers", []), *spec["containers"]]


def test_security_of_every_pod_and_container(rendered: list[dict[str, Any]]) -> None:
    for obj in rendered:
        spec = pod_spec(obj)
        if spec is None:
            continue
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for c in _containers(obj):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 999, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (where, c["name"])
            # Platform secrets only as files; the one reference in env is an Airflow connection from a
            # Secret (connections.*), in Airflow's own form.
            for e in c.get("env", []):
                if "valueFrom" in e:
                    assert e["name"].startswith("AIRFLOW_CONN_") and set(e["valueFrom"]) == {"secretKeyRef"}, \
                        f"{where}: {e}"


def test_probes_and_airflow_entrypoints(rendered: list[dict[str, Any]]) -> None:
    for obj in rendered:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for c in pod_spec(obj)["containers"]:  # type: ignore[index]
            if c["name"] == "log-retention":
                # A sweeper that sleeps between sweeps and serves nothing: the container restarts if it
                # exits, and it must not make the pod unready.
                assert "readinessProbe" not in c and c["command"] == ["python"]
                continue
            assert "livenessProbe" in c, obj["metadata"]["name"]
            # Readiness never starts an Airflow process (twice a minute per pod): a port the component
            # serves; the dag-processor serves none and has no Service, so no readiness probe.
            assert ("readinessProbe" in c) == (c["name"] != "dag-processor"), c["name"]
            if c["name"] in ("worker", "triggerer", "dag-processor") and "readinessProbe" in c:
                assert "exec" not in c["readinessProbe"], c["name"]
            if c.get("command") == ["airdeck"]:
                assert c["args"][:2] == ["run", c["name"]] and "--target" in c["args"]
                assert c["args"][c["args"].index("--release") + 1] == "airdeck"
    scheduler = named(rendered, "Deployment", "airdeck-scheduler")["spec"]["template"]["spec"]["containers"][0]
    live = scheduler["livenessProbe"]
    # A busy scheduler is not restarted: minutes of a stale heartbeat, not one slow answer (#20644).
    assert live["periodSeconds"] * live["failureThreshold"] >= 300 and live["timeoutSeconds"] >= 10


def test_selectors_match_labels_and_pdbs(rendered: list[dict[str, Any]]) -> None:
    pods = {}
    for obj in rendered:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            selector = obj["spec"]["selector"]["matchLabels"]
            labels = obj["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), obj["metadata"]["name"]
            assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance",
                                     "app.kubernetes.io/component"}
            pods[obj["metadata"]["name"]] = labels
    for svc in by_kind(rendered, "Service"):
        assert any(svc["spec"]["selector"].items() <= labels.items() for labels in pods.values()), svc
    for pdb in by_kind(rendered, "PodDisruptionBudget"):
        assert pdb["spec"]["maxUnavailable"] == 1
        assert any(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items() for labels in pods.values())


def test_checksums_roll_pods_when_config_changes() -> None:
    def checksum(values: dict[str, Any]) -> str:
        dep = named(render(values), "Deployment", "airdeck-scheduler")
        return str(dep["spec"]["template"]["metadata"]["annotations"]["checksum/airdeck-yaml"])

    assert checksum({}) == checksum({})
    assert checksum({}) != checksum({"airdeck": {"airflow": {"parallelism": 64}}})


def test_network_policies_allow_exactly_the_platform_flows() -> None:
    values = ci_values(CHART / "ci" / "06-ldap-vault-values.yaml")
    objects = render(values)
    policies = by_kind(objects, "NetworkPolicy")
    scoped = [(NAMESPACE, p) for p in policies]

    def pod(component: str) -> Endpoint:
        return Endpoint(component, "10.244.1.1", NAMESPACE, {
            "app.kubernetes.io/name": "airdeck", "app.kubernetes.io/instance": "airdeck",
            "app.kubernetes.io/component": component})

    allowed = [("worker", "api-server", 8080, "TCP"), ("scheduler", "api-server", 8080, "TCP"),
               ("triggerer", "api-server", 8080, "TCP"), ("alert-dispatcher", "api-server", 8080, "TCP"),
               ("canary", "api-server", 8080, "TCP"), ("api-server", "worker", 8793, "TCP"),
               ("worker", "statsd-exporter", 9125, "UDP"), ("scheduler", "statsd-exporter", 9125, "UDP"),
               ("worker", "alert-dispatcher", 9465, "TCP")]
    for src, dst, port, proto in allowed:
        assert verdict(scoped, pod(src), pod(dst), port, proto) == "allow", (src, dst, port)
    denied = [("statsd-exporter", "api-server", 8080, "TCP"), ("worker", "worker", 8793, "TCP"),
              ("scheduler", "worker", 8793, "TCP"), ("api-server", "statsd-exporter", 9102, "TCP"),
              ("worker", "api-server", 22, "TCP"), ("statsd-exporter", "worker", 8793, "TCP")]
    for src, dst, port, proto in denied:
        assert verdict(scoped, pod(src), pod(dst), port, proto) == "deny", (src, dst, port)
    # External flows: the database, broker, Vault (8200), LDAP (636) and Slack/SMTP by port only.
    egress_ports = {(p["metadata"]["name"], port["port"]) for p in policies for r in p["spec"].get("egress", [])
                    for port in r.get("ports", [])}
    for expected in [("airdeck-database", 5432), ("airdeck-airflow", 6379), ("airdeck-airflow", 8200),
                     ("airdeck-api-server", 636), ("airdeck-alert-dispatcher", 443),
                     ("airdeck-alert-dispatcher", 587)]:
        assert expected in egress_ports, expected
    vault_rule = next(r for p in policies for r in p["spec"].get("egress", [])
                      if any(x["port"] == 8200 for x in r.get("ports", [])))
    assert vault_rule["to"] == [{"ipBlock": {"cidr": "10.10.0.0/24"}}]
    deny = named(objects, "NetworkPolicy", "airdeck-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny["spec"]
    # Without Vault, LDAP or alerts, none of their flows exists.
    plain = {(p["metadata"]["name"], port["port"]) for p in by_kind(render({}), "NetworkPolicy")
             for r in p["spec"].get("egress", []) for port in r.get("ports", [])}
    assert not {8200, 636, 389, 443, 587} & {port for _, port in plain}


def test_workers_replicas_is_the_hpa_floor_unless_min_replicas_is_set() -> None:
    def hpa_min(values: dict[str, Any]) -> int:
        return int(by_kind(render(values), "HorizontalPodAutoscaler")[0]["spec"]["minReplicas"])

    assert hpa_min({}) == 2 and hpa_min({"workers": {"replicas": 4}}) == 4
    assert hpa_min({"workers": {"replicas": 4, "hpa": {"minReplicas": 1}}}) == 1
    fixed = named(render({"workers": {"replicas": 3, "hpa": {"enabled": False}}}), "StatefulSet", "airdeck-worker")
    assert fixed["spec"]["replicas"] == 3
    assert "replicas" not in named(render({}), "StatefulSet", "airdeck-worker")["spec"]  # the HPA owns it


def test_log_servers_have_stable_names_ports_and_services() -> None:
    """The api-server reads task logs from <pod>.<prefix>-worker:8793 and trigger logs from
    <pod>.<prefix>-triggerer:8792 (the hostnames Airflow records): each is a StatefulSet under a headless
    Service that keeps a draining pod's record, with the log port declared."""
    objects = render({})
    for component, port in (("worker", 8793), ("triggerer", 8792)):
        workload = named(objects, "StatefulSet", f"airdeck-{component}")
        service = named(objects, "Service", f"airdeck-{component}")
        assert workload["spec"]["serviceName"] == service["metadata"]["name"]
        assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
        container = workload["spec"]["template"]["spec"]["containers"][0]
        declared = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert port in declared.values(), (component, declared)
        assert [p["targetPort"] for p in service["spec"]["ports"]] == [k for k, v in declared.items() if v == port]
    moved = named(render({"airdeck": {"triggerer": {"log_server_port": 8800}}}), "StatefulSet", "airdeck-triggerer")
    assert moved["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 8800


def test_every_pod_schedules_where_the_global_or_its_own_scheduling_says() -> None:
    """Where every node pool is tainted, every pod (the migration Job and the test pod included)
    carries the tolerations; a component's own value wins over the global one."""
    taint = [{"key": "pool", "operator": "Exists", "effect": "NoSchedule"}]
    own = [{"key": "jobs", "operator": "Exists"}]
    dev = {"mode": "dev", "secrets": {"generate": True}, "postgresql": {"enabled": True}, "redis": {"enabled": True}}
    objects = render({**dev, "tolerations": taint, "nodeSelector": {"pool": "airflow"},
                      "migrations": {"tolerations": own}})
    pods = {o["metadata"]["name"]: pod_spec(o) for o in objects if pod_spec(o) is not None}
    assert len(pods) >= 10
    for name, spec in pods.items():
        assert spec is not None and spec["nodeSelector"] == {"pool": "airflow"}, name
        assert spec["tolerations"] == (own if "-migrate-" in name else taint), name
    init = pods["airdeck-scheduler"]["initContainers"][0]  # type: ignore[index]
    assert init["resources"] == yaml.safe_load((CHART / "values.yaml").read_text())["migrations"]["waitResources"]


def test_monitoring_objects_come_from_prometheus_and_grafana() -> None:
    objects = render({})
    rule = by_kind(objects, "PrometheusRule")[0]
    rendered_rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    source_rules = [r for f in sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
                    for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]]
    assert [(r.get("alert"), r.get("record"), r["expr"]) for r in rendered_rules] == \
           [(r.get("alert"), r.get("record"), r["expr"]) for r in source_rules]
    assert sum(1 for r in rendered_rules if "alert" in r) >= 5
    uids = set()
    for cm in by_kind(objects, "ConfigMap"):
        if cm["metadata"]["labels"].get("grafana_dashboard") == "1":
            for text in cm["data"].values():
                uids.add(json.loads(text)["uid"])
    assert uids == {json.loads(p.read_text())["uid"] for p in (ROOT / "grafana" / "dashboards").glob("*.json")}
    mapping = named(objects, "ConfigMap", "airdeck-statsd-mapping")["data"]["mapping.yml"]
    assert mapping.strip() == (ROOT / "prometheus" / "statsd-mapping.yml").read_text().strip()
    off = render({"monitoring": {"serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False},
                                 "grafanaDashboards": {"enabled": False}}})
    assert not by_kind(off, "PrometheusRule") and not by_kind(off, "ServiceMonitor")
    assert not [c for c in by_kind(off, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]]


def test_generated_files_have_not_drifted() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    done = subprocess.run([sys.executable, str(ROOT / "helm" / "generate.py"), "--check"], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_schema_airdeck_part_is_the_model() -> None:
    from airdeck.config.schema import json_schema

    schema = json.loads((CHART / "values.schema.json").read_text())
    model = json_schema()
    assert set(schema["properties"]["airdeck"]["properties"]) == set(model["properties"])
    assert {k.removeprefix("airdeck.") for k in schema["$defs"]} == set(model["$defs"])


@pytest.mark.parametrize(("values", "path"), [
    ({"schedular": {"replicas": 2}}, "additional properties 'schedular'"),
    ({"scheduler": {"replica": 2}}, "/scheduler"),
    ({"airdeck": {"api_server": {"prot": 1}}}, "/airdeck/api_server"),
    ({"workers": {"keda": {"enabled": "yes"}}}, "/workers/keda/enabled"),
    ({"mode": "staging"}, "/mode"),
])
def test_schema_rejects_typos_with_the_key_path(values: dict[str, Any], path: str) -> None:
    from helm_python import HelmError

    with pytest.raises(HelmError) as raised:
        render(values)
    assert path in str(raised.value)


@pytest.mark.parametrize(("values", "message"), [
    ({"postgresql": {"enabled": True}}, "postgresql.enabled: the bundled PostgreSQL is for mode dev only"),
    ({"redis": {"enabled": True}}, "redis.enabled"),
    ({"secrets": {"generate": True}}, "secrets.generate: generated secrets are for mode dev only"),
    ({"airdeck": {"database": {"url": "postgresql://u:pw@db/x"}}}, "secrets.databaseUrl"),
    ({"mode": "dev", "postgresql": {"enabled": True}}, "set secrets.generate: true"),
    ({"httpRoute": {"enabled": True}}, "httpRoute.parentRefs"),
    ({"airdeck": {"workers": {"replicas": 3}}}, "set the number of pods with workers.replicas"),
    ({"workers": {"replicas": 12}}, "workers.hpa.maxReplicas must be at least"),
    ({"httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}]}}, "networkPolicies.gatewayFrom"),
])
def test_values_that_make_no_sense_fail_the_render(values: dict[str, Any], message: str) -> None:
    from helm_python import HelmError

    with pytest.raises(HelmError) as raised:
        render(values)
    assert message in str(raised.value)
    assert "pw" not in str(raised.value).replace("password", "")


def test_upgrade_keeps_every_secret() -> None:
    dev = ci_values(CHART / "ci" / "02-dev-values.yaml")
    installed = render(dev)
    upgraded = render(dev, upgrade=True)
    generated = by_kind(installed, "Secret")
    assert len(generated) == 10 and all(s["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
                                       for s in generated)
    assert not by_kind(upgraded, "Secret"), "an upgrade must not render (and so replace) generated secrets"

    def refs(objects: list[dict[str, Any]]) -> list[Any]:
        return [[v for v in pod_spec(o)["volumes"] if v["name"] == "secrets"]  # type: ignore[index]
                for o in objects if pod_spec(o) is not None]

    assert refs(installed) == refs(upgraded)
    production = render({})
    assert not by_kind(production, "Secret") and refs(production) == refs(render({}, upgrade=True))
    again = render(dev)  # a second install renders new random values: only an install creates them
    assert by_kind(again, "Secret")[0]["data"] != generated[0]["data"]


def test_requests_and_limits_state_measured_figures() -> None:
    text = (CHART / "values.yaml").read_text()
    measured = json.loads((Path(__file__).with_name("measured-pss.json")).read_text())
    values = yaml.safe_load(text)
    keys = {"api-server": "apiServer", "scheduler": "scheduler", "dag-processor": "dagProcessor",
            "triggerer": "triggerer", "worker": "workers", "alert-dispatcher": "alertDispatcher"}
    for component, mib in measured.items():
        assert f"Measured: {mib} MiB PSS" in text.split(f"\n{keys[component]}:")[1].split("\n\n")[0], component
        request = values[keys[component]]["resources"]["requests"]["memory"]
        assert int(request.removesuffix("Mi").removesuffix("Gi")) * (1024 if request.endswith("Gi") else 1) >= mib


@pytest.mark.parametrize("values_file", [p.name for p in CI])
def test_checkov_finds_nothing(values_file: str, tmp_path: Path) -> None:
    if not CHECKOV.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHECKOV} missing: scripts/test installs checkov into .venv-checkov")
        pytest.skip(f"{CHECKOV} missing: run scripts/test to install checkov into .venv-checkov")
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(render(ci_values(CHART / "ci" / values_file))))
    done = subprocess.run([str(CHECKOV), "-f", str(manifest), "--framework", "kubernetes", "--output", "json",
                           "--quiet", "--skip-check", "CKV_K8S_21"], capture_output=True, text=True, timeout=600,
                          check=False)
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert not failed, failed
    for r in reports:
        for c in r.get("results", {}).get("skipped_checks", []):
            assert c.get("suppress_comment"), f"skip of {c['check_id']} without a reason"


def test_service_monitor_scrapes_the_dispatcher_under_the_job_its_rules_select() -> None:
    objects = render({"airdeck": {"alerts": {"channels": {"ops": {"type": "slack", "connection": "slack_ops"}}}}})
    monitor = by_kind(objects, "ServiceMonitor")[0]
    dispatcher = [e for e in monitor["spec"]["endpoints"] if e["port"] == "http"]
    assert dispatcher and dispatcher[0]["path"] == "/metrics"
    assert {"action": "replace", "targetLabel": "job", "replacement": "airdeck-alerts"} in dispatcher[0]["relabelings"]
    rule = by_kind(objects, "PrometheusRule")[0]
    pipeline = next(g for g in rule["spec"]["groups"] if g["name"] == "airdeck-alert-pipeline")
    assert {r["alert"] for r in pipeline["rules"]} >= {"AirdeckAlertOutboxBacklog", "AirdeckAlertsDeadLettered",
                                                        "AirdeckAlertDeliveriesFailing"}
    assert all('job="airdeck-alerts"' in r["expr"] for r in pipeline["rules"])


def _mounted_secret_files(spec: dict[str, Any]) -> dict[str, str]:
    """file name under /run/secrets/airdeck -> Secret it comes from, of one pod."""
    volume = next(v for v in spec["volumes"] if v["name"] == "secrets")
    return {item["path"]: (source.get("secret") or source["configMap"])["name"]
            for source in volume["projected"]["sources"]
            for item in (source.get("secret") or source["configMap"])["items"]}


def _rendered_airdeck_yaml(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """airdeck.yaml as the chart's ConfigMap holds it (the chart fills in the LDAP secret files' paths)."""
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config"))
    return dict(yaml.safe_load(config["data"]["airdeck.yaml"]) or {})


#: Files of the LDAP directory's Secret / ConfigMap in the api-server's secrets volume (auth.ldap.*).
LDAP_FILES = {"ldap_bind_password": "bind_password_file", "ldap_ca.pem": "ca_file"}


@pytest.mark.parametrize("values_file", [p.name for p in CI])
def test_worker_pods_reference_no_platform_key_secret(values_file: str) -> None:
    objects = render(ci_values(CHART / "ci" / values_file))
    worker = next(o for o in by_kind(objects, "StatefulSet")
                  if o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "worker")
    spec = pod_spec(worker)
    assert spec is not None
    files = _mounted_secret_files(spec)
    assert set(files) <= {"broker_url", "log_fetch_key"}, files
    platform = {n for n in files.values() if any(k in n for k in ("fernet", "jwt", "api-secret", "database",
                                                                    "admin"))}
    assert not platform, f"worker pods mount {platform}"
    text = json.dumps(spec)
    for key in ("fernet-key", "jwt-secret", "jwt-private-key", "api-secret-key", "admin-password", "-database"):
        assert key not in text, key
    assert not spec.get("initContainers"), "workers hold no database URL: no migration check in their pods"


@pytest.mark.parametrize("values_file", [p.name for p in CI])
def test_each_pod_mounts_exactly_the_secrets_its_component_resolves(values_file: str, tmp_path: Path) -> None:
    """The chart's secret table against the plan: a pod gets what `airdeck run` needs for it (its init
    container included), nothing more."""
    from airdeck import concerns
    from airdeck.config.loader import parse_config
    from airdeck.plan.endpoints import Target
    from airdeck.run.entrypoint import secrets_needed
    from airdeck.state.home import AirdeckHome

    values = ci_values(CHART / "ci" / values_file)
    cfg = parse_config(_rendered_airdeck_yaml(render(values)))  # as the pods read it
    deployment = concerns.plan(cfg, AirdeckHome(tmp_path), Target.kubernetes("airdeck"))
    objects = render(values)
    checked = set()
    for obj in objects:
        spec = pod_spec(obj)
        component = obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}).get(
            "app.kubernetes.io/component")
        if spec is None or component not in deployment.names():
            continue
        derived = {"jwt_signing_pem": "jwt_private_key"}  # the PEM file is derived from the mounted key
        jobs = [c["args"][1] for c in spec.get("initContainers", [])]  # `airdeck run wait-for-migrations`
        names = set().union(*(secrets_needed(deployment, AirdeckHome(tmp_path), n) for n in [component, *jobs]))
        needed = {derived.get(n, n) for n in names} - {"vault_backend_kwargs"}
        if cfg.secrets.vault is not None and cfg.secrets.vault.platform_secrets:
            needed -= {"fernet_key", "api_secret_key", "jwt_secret"}  # read from Vault, never mounted
        # The LDAP files are read by the api-server's security manager itself (auth.ldap.bind_password_file,
        # ca_file), not resolved by `airdeck run`: test_ldap_secret_files_reach_the_api_server_only.
        mounted = set(_mounted_secret_files(spec)) - {"admin_password", *LDAP_FILES}
        assert mounted == needed, (component, mounted, needed)
        checked.add(component)
    assert checked >= {"api-server", "scheduler", "dag-processor", "triggerer", "worker"}, checked


@pytest.mark.parametrize("values_file", [p.name for p in CI])
def test_every_secret_and_configmap_a_pod_references_exists_or_is_documented(values_file: str) -> None:
    """A pod that mounts a missing Secret or ConfigMap never starts. Each one a pod references is
    rendered by the chart (ConfigMaps, generated Secrets, ExternalSecrets' targets) or is one the user
    creates as docs/kubernetes.md says: a platform Secret of its table (or the existingSecret named for
    it) when neither generation nor External Secrets provides them, or a connections.* Secret."""
    values = ci_values(CHART / "ci" / values_file)
    objects = render(values)
    rendered = {(o["kind"], o["metadata"]["name"]) for o in objects}
    rendered |= {("Secret", o["spec"]["target"]["name"]) for o in by_kind(objects, "ExternalSecret")}
    secrets = values.get("secrets") or {}
    provided = bool(secrets.get("generate")) or bool((secrets.get("externalSecrets") or {}).get("enabled"))
    doc = (ROOT / "docs" / "kubernetes.md").read_text()
    documented = {f"airdeck-{suffix}" for suffix in re.findall(r"`<prefix>-([a-z-]+)` / `", doc)}
    documented |= {s["existingSecret"] for s in secrets.values() if isinstance(s, dict) and s.get("existingSecret")}
    connections = {c["secret"] for c in (values.get("connections") or {}).values()}
    # The LDAP directory's Secret and CA ConfigMap the user names in auth.ldap (docs/security.md).
    connections |= {ref["name"] for ref in ((values.get("auth") or {}).get("ldap") or {}).values() if ref.get("name")}
    missing = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for kind, name in pod_references(spec):
            if (kind, name) in rendered or name in connections:
                continue
            if kind == "ServiceAccount" and not (values.get("serviceAccount") or {}).get("create", True):
                continue
            if kind == "Secret" and not provided and name in documented:
                continue
            missing.append(f"{obj['kind']}/{obj['metadata']['name']} needs {kind}/{name}")
    assert not missing, sorted(set(missing))


@pytest.mark.parametrize("values_file", [p.name for p in CI])
def test_the_canary_mounts_only_the_admin_password(values_file: str, tmp_path: Path) -> None:
    """`helm test` is a REST client: it signs in as the admin account and holds no platform key."""
    from airdeck import concerns
    from airdeck.config.loader import parse_config
    from airdeck.plan.endpoints import Target
    from airdeck.run.entrypoint import secrets_needed
    from airdeck.state.home import AirdeckHome

    values = ci_values(CHART / "ci" / values_file)
    canary = next(o for o in render(values) if o["kind"] == "Pod")
    deployment = concerns.plan(parse_config(_rendered_airdeck_yaml(render(values))), AirdeckHome(tmp_path),
                               Target.kubernetes("airdeck"))
    spec = pod_spec(canary)
    assert spec is not None
    assert set(_mounted_secret_files(spec)) == secrets_needed(deployment, AirdeckHome(tmp_path), "canary") \
        == {"admin_password"}


def test_pgbouncer_sits_between_the_components_and_the_database() -> None:
    """pgbouncer.enabled: its pod mounts only the database URL and renders its files on a memory volume;
    the components holding the URL (their probes and init containers too) get --database-pooler, the
    migration Job, the workers and the canary do not; the ServiceMonitor scrapes its exporter."""
    objects = render({"pgbouncer": {"enabled": True, "port": 6432}})
    bouncer = named(objects, "Deployment", "airdeck-pgbouncer")
    spec = pod_spec(bouncer)
    assert spec is not None
    assert _mounted_secret_files(spec) == {"database_url": "airdeck-database"}
    config = next(v for v in spec["volumes"] if v["name"] == "config")
    assert config["emptyDir"]["medium"] == "Memory"
    assert spec["initContainers"][0]["args"][0] == "pgbouncer-config"
    exporter = next(c for c in spec["containers"] if c["name"] == "metrics-exporter")
    # The exporter holds no password: its user is admitted from the pod's loopback only (hba.conf).
    assert exporter["env"] == [{"name": "DATABASE_URL",
                                "value": "postgres://airdeck_stats@127.0.0.1:6432/pgbouncer?sslmode=disable"}]
    pooler = "airdeck-pgbouncer:6432"
    for obj in objects:
        pod = pod_spec(obj)
        if pod is None:
            continue
        component = (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/component")
        holds_url = "database_url" in _mounted_secret_files(pod) if any(
            v["name"] == "secrets" for v in pod["volumes"]) else False
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            if c.get("command") != ["airdeck"] or c["args"][0] != "run":
                continue
            probes = [p["exec"]["command"] for p in (c.get("livenessProbe"), c.get("readinessProbe"))
                      if p and "exec" in p]
            for argv in [c["args"], *[p[1:] for p in probes]]:
                expected = holds_url and component != "migrate"
                assert (pooler in argv) == expected, (obj["metadata"]["name"], c["name"], argv)
    monitor = by_kind(objects, "ServiceMonitor")[0]
    assert "pgbouncer" in monitor["spec"]["selector"]["matchExpressions"][1]["values"]
    service = named(objects, "Service", "airdeck-pgbouncer")
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"pgbouncer": 6432, "metrics": 9127}


LDAP_VALUES: dict[str, Any] = {
    "airdeck": {"auth": {"mode": "ldap", "ldap": {
        "url": "ldaps://ldap.corp.example:636", "bind_dn": "cn=svc,ou=apps,o=corp",
        "user_search_base": "ou=staff,o=corp", "roles_mapping": {"cn=ops,ou=teams,o=corp": ["Op"]}}}},
    "auth": {"ldap": {"bindPasswordSecret": {"name": "corp-ldap", "key": "bindpw"},
                      "caSecret": {"name": "corp-ldap-ca", "key": "root.pem"}}},
}


def test_ldap_secret_files_reach_the_api_server_only() -> None:
    """The service account's password and the directory's CA: files of the api-server's secrets volume
    (never an environment variable or an argument), and airdeck.yaml points at them."""
    objects = render(LDAP_VALUES)
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config"))
    ldap = yaml.safe_load(config["data"]["airdeck.yaml"])["auth"]["ldap"]
    assert ldap["bind_password_file"] == "ldap_bind_password"
    assert ldap["ca_file"] == "ldap_ca.pem"
    assert ldap["bind_dn"] == "cn=svc,ou=apps,o=corp"  # the user's keys are kept
    seen = {}
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None or not any(v["name"] == "secrets" for v in spec.get("volumes", [])):
            continue
        files = _mounted_secret_files(spec)
        component = obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        seen[component] = {f: files[f] for f in LDAP_FILES if f in files}
        text = json.dumps([c.get("env") for c in [*spec["containers"], *spec.get("initContainers", [])]])
        assert "corp-ldap" not in text and "bindpw" not in text, component
    assert seen.pop("api-server") == {"ldap_bind_password": "corp-ldap", "ldap_ca.pem": "corp-ldap-ca"}
    assert seen and not any(seen.values()), seen


@pytest.mark.parametrize(("values", "message"), [
    ({"auth": {"ldap": {"bindPasswordSecret": {"name": "x"}}}}, "airdeck.auth.mode is not ldap"),
    ({**LDAP_VALUES, "auth": {"ldap": {}}}, "name it in auth.ldap.bindPasswordSecret"),
    ({**LDAP_VALUES, "auth": {"ldap": {"bindPasswordSecret": {"name": "a"}, "caSecret": {"name": "b"},
                                       "caConfigMap": {"name": "c"}}}}, "keep one"),
    ({"airdeck": {"auth": {"mode": "ldap", "ldap": {**LDAP_VALUES["airdeck"]["auth"]["ldap"],
                                                    "bind_password_env": "PW"}}},
      "auth": LDAP_VALUES["auth"]}, "bind_password_file / bind_password_env"),
    ({"auth": {"roles": {"version": 1}}}, "roles"),
])
def test_ldap_and_roles_values_that_cannot_work_fail_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=re.escape(message)):
        render(values)


def test_the_migration_job_syncs_the_roles_file_of_the_values() -> None:
    roles = {"version": 1, "roles": {"Auditor": {"permissions": ["can_read on Audit Logs"]}}}
    objects = render({"auth": {"roles": roles}})
    job = by_kind(objects, "Job")[0]
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-3:] == ["--sync-roles", "--roles-file", "/etc/airdeck/roles.yaml"]
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config"))
    assert yaml.safe_load(config["data"]["roles.yaml"]) == roles
    # A changed roles file runs a new Job (its name carries the template's digest).
    other = by_kind(render({"auth": {"roles": {**roles, "roles": {"Auditor": {"permissions": [
        "can_read on Audit Logs", "can_read on Website"]}}}}}), "Job")[0]
    assert other["metadata"]["name"] != job["metadata"]["name"]
    # Without roles: the packaged file; syncRoles false: no sync.
    default = by_kind(render({}), "Job")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert default[-1] == "--sync-roles"
    off = by_kind(render({"auth": {"syncRoles": False}}), "Job")[0]["spec"]["template"]["spec"]["containers"][0]
    assert "--sync-roles" not in off["args"]
