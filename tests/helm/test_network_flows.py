"""The chart's NetworkPolicies as a flow matrix: the rendered policies evaluated (tests/helm/netpol.py)
for the platform's pods and actors outside the release, per values file, against the expected table
that docs/kubernetes.md shows; and the evaluator itself against the documented semantics."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helm.chart import NAMESPACE, ROOT, by_kind, pod_spec, render
from tests.helm.netpol import Endpoint, allowed, selects, verdict

# ------------------------------------------------------------------ the evaluator, by hand

NS = "ns1"


def _pod(name: str, labels: dict[str, str], namespace: str = NS, ip: str = "10.1.0.1",
         ns_labels: dict[str, str] | None = None, ports: dict[str, int] | None = None) -> Endpoint:
    return Endpoint(name, ip, namespace, labels, ns_labels or {}, ports or {})


A = _pod("a", {"app": "a"}, ip="10.1.0.1")
B = _pod("b", {"app": "b"}, ip="10.1.0.2", ports={"http": 9090})
C = _pod("c", {"app": "c"}, namespace="ns2", ip="10.2.0.3", ns_labels={"team": "x"})
OUT = Endpoint("internet", "93.184.216.34")


def _np(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return NS, {"kind": "NetworkPolicy", "spec": spec}


def test_no_policy_allows_everything() -> None:
    assert allowed([], A, B, 80) and allowed([], C, A, 1, "UDP") and allowed([], A, OUT, 443)


def test_a_policy_selecting_a_pod_isolates_it_in_its_directions_only() -> None:
    deny_in = [_np({"podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Ingress"]})]
    assert not allowed(deny_in, A, B, 80)
    assert allowed(deny_in, B, A, 80), "b's egress is not isolated by an Ingress-only policy"
    assert allowed(deny_in, A, C, 80), "pods not selected stay open"
    # No policyTypes: Ingress, plus Egress because an egress section is present.
    implied = [_np({"podSelector": {"matchLabels": {"app": "a"}}, "egress": [{"ports": [{"port": 53}]}]})]
    assert not allowed(implied, A, B, 80) and allowed(implied, A, B, 53)
    assert not allowed(implied, B, A, 53), "Ingress is implied too, with no rule: nothing in"
    only_ingress = [_np({"podSelector": {}})]
    assert not allowed(only_ingress, A, B, 80) and allowed(only_ingress, A, OUT, 80)


def test_policies_are_a_union_and_both_ends_must_allow() -> None:
    web = [_np({"podSelector": {"matchLabels": {"app": "b"}}, "ingress": [{"ports": [{"port": 80}]}]}),
           _np({"podSelector": {"matchLabels": {"app": "b"}}, "ingress": [{"ports": [{"port": 443}]}]})]
    assert allowed(web, A, B, 80) and allowed(web, A, B, 443) and not allowed(web, A, B, 22)
    egress_closed = [*web, _np({"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"]})]
    assert not allowed(egress_closed, A, B, 80), "the destination admits it but the source may not send"


def test_peers_pod_namespace_and_both() -> None:
    def ingress_from(peers: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        return [_np({"podSelector": {"matchLabels": {"app": "b"}}, "ingress": [{"from": peers}]})]

    same_ns = ingress_from([{"podSelector": {"matchLabels": {"app": "c"}}}])
    assert not allowed(same_ns, C, B, 80), "a podSelector alone selects pods of the policy's namespace only"
    both = ingress_from([{"namespaceSelector": {"matchLabels": {"team": "x"}},
                          "podSelector": {"matchLabels": {"app": "c"}}}])
    assert allowed(both, C, B, 80) and not allowed(both, A, B, 80)
    either = ingress_from([{"namespaceSelector": {"matchLabels": {"team": "x"}}},
                           {"podSelector": {"matchLabels": {"app": "a"}}}])
    assert allowed(either, C, B, 80) and allowed(either, A, B, 80)
    by_name = ingress_from([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ns2"}}}])
    assert allowed(by_name, C, B, 80), "every namespace carries kubernetes.io/metadata.name"
    assert not allowed(ingress_from([{"podSelector": {}}]), OUT, B, 80), "selectors never match outside addresses"
    assert allowed(ingress_from([]), OUT, B, 80), "an empty from: every source"


def test_selector_operators() -> None:
    labels = {"tier": "web", "env": "prod"}
    assert selects({}, labels)
    assert selects({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, labels)
    assert not selects({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, labels)
    assert selects({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["web"]}]}, labels)
    assert selects({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, labels)
    assert not selects({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, labels)
    assert not selects({"matchLabels": {"tier": "web", "env": "dev"}}, labels)


def test_ip_blocks_ports_and_end_ports() -> None:
    egress = [_np({"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["93.184.0.0/16"]}}],
         "ports": [{"port": 8000, "endPort": 8100}, {"protocol": "UDP"}]},
        {"to": [{"ipBlock": {"cidr": "::/0", "except": ["fd00:ec2::254/128"]}}]},
        {"to": [{"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": "http"}]}]})]
    other = Endpoint("other", "198.51.100.7")
    assert allowed(egress, A, other, 8000) and allowed(egress, A, other, 8100)
    assert not allowed(egress, A, other, 8101)
    assert allowed(egress, A, other, 5353, "UDP"), "a port entry without a number: every port of its protocol"
    assert not allowed(egress, A, OUT, 8000), "except carves addresses out of the block"
    assert allowed(egress, A, Endpoint("v6", "2001:db8::1"), 22)
    assert not allowed(egress, A, Endpoint("imds6", "fd00:ec2::254"), 80)
    assert allowed(egress, A, B, 9090) and not allowed(egress, A, B, 9091), "a named port is the pod's port"
    # An ipBlock against a pod address is the network plugin's choice: both readings are evaluated.
    assert allowed(egress, A, _pod("d", {}, ip="10.9.0.9"), 8000, ipblock_matches_pods=True)
    assert not allowed(egress, A, _pod("d", {}, ip="10.9.0.9"), 8000, ipblock_matches_pods=False)
    assert verdict(egress, A, _pod("d", {}, ip="10.9.0.9"), 8000) == "depends on CNI"


# ------------------------------------------------------------------ the chart's flows

#: Actors outside the release.
ACTORS = {
    "ingress-nginx": Endpoint("ingress-nginx", "10.244.5.5", "ingress-nginx",
                              {"app.kubernetes.io/name": "ingress-nginx"}),
    "gateway proxy": Endpoint("gateway proxy", "10.244.6.6", "envoy-gateway-system",
                              {"app.kubernetes.io/name": "envoy", "gateway.envoyproxy.io/owning-gateway-name": "eg"}),
    "load balancer 35.191.3.4": Endpoint("load balancer", "35.191.3.4"),
    "team-b pod": Endpoint("team-b pod", "10.244.7.7", "team-b", {"app": "internal-api"}),
    "prometheus": Endpoint("prometheus", "10.244.8.8", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
    "internet": Endpoint("internet", "93.184.216.34"),
    "metadata 169.254.169.254": Endpoint("metadata", "169.254.169.254"),
    "metadata fd00:ec2::254": Endpoint("metadata6", "fd00:ec2::254"),
    "kube-dns": Endpoint("kube-dns", "10.244.0.10", "kube-system", {"k8s-app": "kube-dns"}),
    "NodeLocal DNS": Endpoint("nodelocaldns", "169.254.20.10"),
    "database 10.0.32.5": Endpoint("database", "10.0.32.5"),
    "broker 10.0.48.5": Endpoint("broker", "10.0.48.5"),
    # the kubernetes Service's endpoint (a managed control plane's address in the VPC) and its ClusterIP
    "kubernetes API 10.0.1.20": Endpoint("kubernetes API", "10.0.1.20"),
    "kubernetes Service 172.20.0.1": Endpoint("kubernetes Service", "172.20.0.1"),
    # a pod KubernetesPodOperator started in the tasks namespace (KPO's own labels, not the chart's)
    "KPO task pod": Endpoint("KPO task pod", "10.244.9.9", "tasks", {"kubernetes_pod_operator": "True"}),
    "host 203.0.113.9": Endpoint("elsewhere", "203.0.113.9"),
}

#: (source, destination, port, protocol): each a release component or an actor.
FLOWS = [
    ("ingress-nginx", "api-server", 8080, "TCP"),
    ("gateway proxy", "api-server", 8080, "TCP"),
    ("load balancer 35.191.3.4", "api-server", 8080, "TCP"),
    ("team-b pod", "api-server", 8080, "TCP"),
    ("worker", "api-server", 8080, "TCP"),
    ("api-server", "worker", 8793, "TCP"),
    ("api-server", "triggerer", 8792, "TCP"),
    ("worker", "triggerer", 8792, "TCP"),
    ("prometheus", "statsd-exporter", 9102, "TCP"),
    ("worker", "internet", 443, "TCP"),
    ("worker", "internet", 587, "TCP"),
    ("triggerer", "internet", 443, "TCP"),
    ("scheduler", "internet", 443, "TCP"),
    ("worker", "metadata 169.254.169.254", 80, "TCP"),
    ("worker", "metadata fd00:ec2::254", 80, "TCP"),
    ("worker", "team-b pod", 8080, "TCP"),
    ("worker", "team-b pod", 6379, "TCP"),
    ("worker", "kube-dns", 53, "UDP"),
    ("worker", "NodeLocal DNS", 53, "UDP"),
    ("scheduler", "NodeLocal DNS", 53, "UDP"),
    ("scheduler", "database 10.0.32.5", 5432, "TCP"),
    ("worker", "database 10.0.32.5", 5432, "TCP"),
    ("canary", "database 10.0.32.5", 5432, "TCP"),
    ("worker", "broker 10.0.48.5", 6379, "TCP"),
    ("worker", "kubernetes API 10.0.1.20", 443, "TCP"),
    ("worker", "kubernetes API 10.0.1.20", 6443, "TCP"),
    ("worker", "kubernetes Service 172.20.0.1", 443, "TCP"),
    ("triggerer", "kubernetes API 10.0.1.20", 443, "TCP"),
    ("scheduler", "kubernetes API 10.0.1.20", 443, "TCP"),
    ("worker", "KPO task pod", 8080, "TCP"),
    ("KPO task pod", "api-server", 8080, "TCP"),
    ("migrate", "database 10.0.32.5", 5432, "TCP"),
    ("scheduler", "pgbouncer", 6432, "TCP"),
    ("api-server", "pgbouncer", 6432, "TCP"),
    ("worker", "pgbouncer", 6432, "TCP"),
    ("team-b pod", "pgbouncer", 6432, "TCP"),
    ("pgbouncer", "database 10.0.32.5", 5432, "TCP"),
    ("pgbouncer", "internet", 443, "TCP"),
    ("prometheus", "pgbouncer", 9127, "TCP"),
    ("db-cleanup", "database 10.0.32.5", 5432, "TCP"),
    ("db-cleanup", "pgbouncer", 6432, "TCP"),
    ("db-cleanup", "internet", 443, "TCP"),
    ("scheduler", "host 203.0.113.9", 5432, "TCP"),
    ("scheduler", "host 203.0.113.9", 6379, "TCP"),
    ("worker", "host 203.0.113.9", 6379, "TCP"),
    ("scheduler", "broker 10.0.48.5", 6379, "TCP"),
]

SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "ingress on": {"ingress": {"enabled": True}},
    "httpRoute on": {"httpRoute": {"enabled": True,
                                   "parentRefs": [{"name": "eg", "namespace": "envoy-gateway-system"}]},
                     "networkPolicies": {
                         "gatewayFrom": [{"namespaceSelector": {"matchLabels": {
                             "kubernetes.io/metadata.name": "envoy-gateway-system"}},
                             "podSelector": {"matchLabels": {"gateway.envoyproxy.io/owning-gateway-name": "eg"}}}],
                         "sourceCIDRs": ["35.191.0.0/16", "130.211.0.0/22"]}},
    "egress narrowed": {"networkPolicies": {
        "taskEgress": {"ports": [443]}, "dns": {"nodeLocalDNS": []},
        "database": {"to": [{"ipBlock": {"cidr": "10.0.32.0/20"}}]},
        "broker": {"to": [{"ipBlock": {"cidr": "10.0.48.0/20"}}]}}},
    "egress widened": {"networkPolicies": {"taskEgress": {"to": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "team-b"}}}]}}},
    "KubernetesPodOperator": {"workers": {"kubernetesPodOperator": {"enabled": True, "namespace": "tasks"}},
                              "networkPolicies": {"kubernetesApi": {"cidrs": ["10.0.1.20/32", "172.20.0.1/32"]}}},
    "pgbouncer on": {"pgbouncer": {"enabled": True}, "databaseCleanup": {"enabled": True}},
    "database/broker cidrs": {"networkPolicies": {"database": {"cidrs": ["10.0.32.0/20"]},
                                                  "broker": {"cidrs": ["10.0.48.5"]}}},
}

#: Expected verdict per flow, one column per scenario (the table docs/kubernetes.md shows).
EXPECTED = {
    ("ingress-nginx", "api-server", 8080, "TCP"): ["deny", "allow", "deny", "deny", "deny", "deny", "deny", "deny"],
    ("gateway proxy", "api-server", 8080, "TCP"): ["deny", "deny", "allow", "deny", "deny", "deny", "deny", "deny"],
    ("load balancer 35.191.3.4", "api-server", 8080, "TCP"): "deny deny allow deny deny deny deny deny".split(),
    ("team-b pod", "api-server", 8080, "TCP"): ["deny"] * 8,
    ("worker", "api-server", 8080, "TCP"): ["allow"] * 8,
    ("api-server", "worker", 8793, "TCP"): ["allow"] * 8,
    ("api-server", "triggerer", 8792, "TCP"): ["allow"] * 8,
    ("worker", "triggerer", 8792, "TCP"): ["deny"] * 8,
    ("prometheus", "statsd-exporter", 9102, "TCP"): ["allow"] * 8,
    ("worker", "internet", 443, "TCP"): ["allow"] * 8,
    ("worker", "internet", 587, "TCP"): ["allow", "allow", "allow", "deny", "allow", "allow", "allow", "allow"],
    ("triggerer", "internet", 443, "TCP"): ["allow"] * 8,
    ("scheduler", "internet", 443, "TCP"): ["deny"] * 8,
    ("worker", "metadata 169.254.169.254", 80, "TCP"): ["deny"] * 8,
    ("worker", "metadata fd00:ec2::254", 80, "TCP"): ["deny"] * 8,
    ("worker", "team-b pod", 8080, "TCP"): ["deny", "deny", "deny", "deny", "allow", "deny", "deny", "deny"],
    ("worker", "team-b pod", 6379, "TCP"): ["allow", "allow", "allow", "deny", "allow", "allow", "allow", "deny"],
    ("worker", "kube-dns", 53, "UDP"): ["allow"] * 8,
    ("worker", "NodeLocal DNS", 53, "UDP"): ["allow", "allow", "allow", "deny", "allow", "allow", "allow", "allow"],
    ("scheduler", "NodeLocal DNS", 53, "UDP"): ["allow", "allow", "allow", "deny", "allow", "allow", "allow", "allow"],
    ("scheduler", "database 10.0.32.5", 5432, "TCP"): "allow allow allow allow allow allow deny allow".split(),
    ("worker", "database 10.0.32.5", 5432, "TCP"): ["deny"] * 8,
    ("canary", "database 10.0.32.5", 5432, "TCP"): ["deny"] * 8,
    ("worker", "broker 10.0.48.5", 6379, "TCP"): ["allow"] * 8,
    ("worker", "kubernetes API 10.0.1.20", 443, "TCP"): "deny deny deny deny deny allow deny deny".split(),
    ("worker", "kubernetes API 10.0.1.20", 6443, "TCP"): "deny deny deny deny deny allow deny deny".split(),
    ("worker", "kubernetes Service 172.20.0.1", 443, "TCP"): "deny deny deny deny deny allow deny deny".split(),
    ("triggerer", "kubernetes API 10.0.1.20", 443, "TCP"): ["deny"] * 8,
    ("scheduler", "kubernetes API 10.0.1.20", 443, "TCP"): ["deny"] * 8,
    ("worker", "KPO task pod", 8080, "TCP"): ["deny"] * 8,
    ("KPO task pod", "api-server", 8080, "TCP"): ["deny"] * 8,
    ("migrate", "database 10.0.32.5", 5432, "TCP"): ["allow"] * 8,
    ("scheduler", "pgbouncer", 6432, "TCP"): ["-", "-", "-", "-", "-", "-", "allow", "-"],
    ("api-server", "pgbouncer", 6432, "TCP"): ["-", "-", "-", "-", "-", "-", "allow", "-"],
    ("worker", "pgbouncer", 6432, "TCP"): ["-", "-", "-", "-", "-", "-", "deny", "-"],
    ("team-b pod", "pgbouncer", 6432, "TCP"): ["-", "-", "-", "-", "-", "-", "deny", "-"],
    ("pgbouncer", "database 10.0.32.5", 5432, "TCP"): ["-", "-", "-", "-", "-", "-", "allow", "-"],
    ("pgbouncer", "internet", 443, "TCP"): ["-", "-", "-", "-", "-", "-", "deny", "-"],
    ("prometheus", "pgbouncer", 9127, "TCP"): ["-", "-", "-", "-", "-", "-", "allow", "-"],
    ("db-cleanup", "database 10.0.32.5", 5432, "TCP"): ["-", "-", "-", "-", "-", "-", "allow", "-"],
    ("db-cleanup", "pgbouncer", 6432, "TCP"): ["-", "-", "-", "-", "-", "-", "deny", "-"],
    ("db-cleanup", "internet", 443, "TCP"): ["-", "-", "-", "-", "-", "-", "deny", "-"],
    ("scheduler", "host 203.0.113.9", 5432, "TCP"): "allow allow allow deny allow allow deny deny".split(),
    ("scheduler", "host 203.0.113.9", 6379, "TCP"): "allow allow allow deny allow allow allow deny".split(),
    ("worker", "host 203.0.113.9", 6379, "TCP"): "allow allow allow deny allow allow allow allow".split(),
    ("scheduler", "broker 10.0.48.5", 6379, "TCP"): ["allow"] * 8,
}


def release_pods(objects: list[dict[str, Any]]) -> dict[str, Endpoint]:
    """One Endpoint per component of the release, with its rendered pod labels and named ports."""
    pods: dict[str, Endpoint] = {}
    for n, obj in enumerate(objects):
        spec = pod_spec(obj)
        if spec is None:
            continue
        template = obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"].get(
            "template")
        labels = obj["metadata"]["labels"] if obj["kind"] == "Pod" else template["metadata"]["labels"]
        ports = {p["name"]: p["containerPort"] for c in spec["containers"] for p in c.get("ports", []) if "name" in p}
        component = labels["app.kubernetes.io/component"]
        pods[component] = Endpoint(component, f"10.244.1.{n + 10}", NAMESPACE, labels, {}, ports)
    return pods


def matrix(values: dict[str, Any]) -> dict[tuple[str, str, int, str], str]:
    objects = render(values)
    policies = [(NAMESPACE, p) for p in by_kind(objects, "NetworkPolicy")]
    ends = {**ACTORS, **release_pods(objects)}
    # "-": an end of the flow is a component these values do not render (e.g. PgBouncer when off).
    return {flow: verdict(policies, ends[flow[0]], ends[flow[1]], flow[2], flow[3])
            if flow[0] in ends and flow[1] in ends else "-" for flow in FLOWS}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_flow_matrix(scenario: str) -> None:
    column = list(SCENARIOS).index(scenario)
    got = matrix(SCENARIOS[scenario])
    wrong = {flow: (got[flow], EXPECTED[flow][column]) for flow in FLOWS if got[flow] != EXPECTED[flow][column]}
    assert not wrong, f"{scenario}: (got, expected) {wrong}"


def table() -> str:
    head = "| from | to | port | " + " | ".join(SCENARIOS) + " |"
    rows = [head, "|" + "---|" * (3 + len(SCENARIOS))]
    for flow in FLOWS:
        src, dst, port, proto = flow
        rows.append(f"| {src} | {dst} | {port}/{proto} | " + " | ".join(EXPECTED[flow]) + " |")
    return "\n".join(rows)


def test_docs_show_the_flow_matrix() -> None:
    doc = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- flow-matrix:begin -->\n(.*?)\n<!-- flow-matrix:end -->", doc, re.S)
    assert found, "docs/kubernetes.md has no flow-matrix markers"
    assert found.group(1).strip() == table(), "docs/kubernetes.md's flow matrix differs; paste:\n" + table()


def test_every_flow_has_an_expectation_per_scenario() -> None:
    assert set(EXPECTED) == set(FLOWS) and all(len(v) == len(SCENARIOS) for v in EXPECTED.values())


def test_notes_warn_while_database_and_broker_egress_is_any_address() -> None:
    from tests.helm.chart import render_files

    def notes(values: dict[str, Any]) -> str:
        return next(text for path, text in render_files(values).items() if path.endswith("NOTES.txt"))

    default = notes({})
    assert "networkPolicies.database has no cidrs" in default and "networkPolicies.broker has no cidrs" in default
    narrowed = notes({"networkPolicies": {"database": {"cidrs": ["10.0.32.0/20"]}, "broker": {"cidrs": ["10.0.48.5"]}}})
    assert "no cidrs" not in narrowed
    policies = by_kind(render({"networkPolicies": {"database": {"cidrs": ["10.0.32.5"]}}}), "NetworkPolicy")
    database = next(p for p in policies if p["metadata"]["name"].endswith("-database"))
    assert database["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.0.32.5/32"}}]
