"""Rendering the chart with Helm's own Go engine (helm-python-sdk: no helm binary)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "airdeck"
CI = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "airdeck"
NAMESPACE = "airflow"


def ci_values(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def render_files(values: dict[str, Any] | None = None, *, name: str = RELEASE, upgrade: bool = False
                 ) -> dict[str, str]:
    from helm_python import Chart

    with Chart.load(str(CHART)) as chart:
        return chart.render(values=copy.deepcopy(values or {}), name=name, namespace=NAMESPACE,
                            is_install=not upgrade, is_upgrade=upgrade, revision=2 if upgrade else 1)


def render(values: dict[str, Any] | None = None, *, name: str = RELEASE, upgrade: bool = False
           ) -> list[dict[str, Any]]:
    """Every object the chart renders (NOTES.txt excluded), in template order."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(render_files(values, name=name, upgrade=upgrade).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for o in objects:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    raise KeyError(f"{kind}/{name} not rendered; rendered: {[(o['kind'], o['metadata']['name']) for o in objects]}")


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] == "Pod":
        return dict(obj["spec"])
    if obj["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
        return dict(obj["spec"]["template"]["spec"])
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return None


def pod_references(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """The ServiceAccount, ConfigMaps and Secrets a pod spec needs to start (volumes, projected
    sources, env and envFrom references)."""
    refs = {("ServiceAccount", spec.get("serviceAccountName", "default"))}
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            refs.add(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            refs.add(("Secret", volume["secret"]["secretName"]))
        for source in (volume.get("projected") or {}).get("sources", []):
            if "secret" in source:
                refs.add(("Secret", source["secret"]["name"]))
            if "configMap" in source:
                refs.add(("ConfigMap", source["configMap"]["name"]))
    for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {})
            if "secretKeyRef" in ref:
                refs.add(("Secret", ref["secretKeyRef"]["name"]))
            if "configMapKeyRef" in ref:
                refs.add(("ConfigMap", ref["configMapKeyRef"]["name"]))
        for e in c.get("envFrom", []):
            if "secretRef" in e:
                refs.add(("Secret", e["secretRef"]["name"]))
            if "configMapRef" in e:
                refs.add(("ConfigMap", e["configMapRef"]["name"]))
    return refs
