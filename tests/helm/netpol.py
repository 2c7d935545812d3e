"""A small evaluator of Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), for the chart's tests.

It answers "may this endpoint open a connection to that one on this port?" from a set of policies,
following the API reference and the concept page: a pod no policy selects (for a direction) is not
isolated in that direction; the policies selecting a pod are a union; a connection needs the
source's egress and the destination's ingress to allow it; ``policyTypes`` defaults to Ingress plus
Egress when the policy has an ``egress`` section; an empty or absent ``to``/``from`` means every peer,
empty or absent ``ports`` every port; a peer is a ``podSelector`` (pods of the policy's namespace), a
``namespaceSelector`` (every pod of the selected namespaces), both (those pods of those namespaces), or
an ``ipBlock`` (addresses in ``cidr`` outside ``except``); a port has a protocol (TCP by default), a
number or a named container port, and an optional ``endPort``.

Whether an ``ipBlock`` matches the address of a pod is left to each network plugin by Kubernetes;
``ipblock_matches_pods`` chooses, so a test can require an answer under both readings.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    """A pod (``namespace`` set) or an address outside the cluster's pod network (``namespace`` None)."""

    name: str
    ip: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)
    #: Named container ports of a pod, for policies that name ports.
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None

    def all_namespace_labels(self) -> dict[str, str]:
        """The namespace's labels, with the one Kubernetes sets on every namespace."""
        assert self.namespace is not None
        return {**self.namespace_labels, "kubernetes.io/metadata.name": self.namespace}


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist), ANDed;
    an empty selector selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {op!r}")
    return True


def _in_block(ip: str, block: dict[str, Any]) -> bool:
    address = ipaddress.ip_address(ip)
    cidr = ipaddress.ip_network(block["cidr"], strict=False)
    if address.version != cidr.version or address not in cidr:
        return False
    return not any(address in ipaddress.ip_network(e, strict=False) for e in block.get("except") or []
                   if ipaddress.ip_network(e, strict=False).version == address.version)


def peer_matches(peer: dict[str, Any], other: Endpoint, policy_namespace: str, *, ipblock_matches_pods: bool
                 ) -> bool:
    if "ipBlock" in peer:
        if other.is_pod and not ipblock_matches_pods:
            return False
        return _in_block(other.ip, peer["ipBlock"])
    if not other.is_pod:
        return False  # selectors select pods only
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], other.all_namespace_labels()):
            return False
    elif other.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], other.labels)


def port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str, destination: Endpoint) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        number = p.get("port")
        if number is None:
            return True
        if isinstance(number, str):
            number = destination.ports.get(number)
            if number is None:
                continue
        if number <= port <= int(p.get("endPort", number)):
            return True
    return False


def policy_types(policy: dict[str, Any]) -> list[str]:
    spec = policy["spec"]
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]


def _selecting(policies: list[tuple[str, dict[str, Any]]], pod: Endpoint, direction: str
               ) -> list[tuple[str, dict[str, Any]]]:
    return [(ns, p) for ns, p in policies if ns == pod.namespace and direction in policy_types(p)
            and selects(p["spec"].get("podSelector"), pod.labels)]


def allowed(policies: list[tuple[str, dict[str, Any]]], source: Endpoint, destination: Endpoint, port: int,
            protocol: str = "TCP", *, ipblock_matches_pods: bool = True) -> bool:
    """Whether ``source`` may connect to ``destination`` on ``port``/``protocol``. ``policies`` are
    (namespace, NetworkPolicy) pairs."""

    def admits(selected: list[tuple[str, dict[str, Any]]], section: str, peers_key: str, other: Endpoint) -> bool:
        return any((not rule.get(peers_key) or any(
                        peer_matches(peer, other, ns, ipblock_matches_pods=ipblock_matches_pods)
                        for peer in rule[peers_key]))
                   and port_matches(rule.get("ports"), port, protocol, destination)
                   for ns, p in selected for rule in p["spec"].get(section) or [])

    if source.is_pod:
        egress = _selecting(policies, source, "Egress")
        if egress and not admits(egress, "egress", "to", destination):
            return False
    if destination.is_pod:
        ingress = _selecting(policies, destination, "Ingress")
        if ingress and not admits(ingress, "ingress", "from", source):
            return False
    return True


def verdict(policies: list[tuple[str, dict[str, Any]]], source: Endpoint, destination: Endpoint, port: int,
            protocol: str = "TCP") -> str:
    """``allow`` or ``deny`` when both readings of ipBlock-against-pods agree, else ``depends on CNI``."""
    answers = {allowed(policies, source, destination, port, protocol, ipblock_matches_pods=m) for m in (True, False)}
    if len(answers) == 2:
        return "depends on CNI"
    return "allow" if answers.pop() else "deny"
