"""Generate the parts of the Helm chart that come from elsewhere; ``--check`` fails when they drift.

* ``helm/airdeck/files/``: copies of ``prometheus/statsd-mapping.yml``, ``prometheus/rules/*.yml`` and
  ``grafana/dashboards/*.json`` (Helm reads files inside the chart only), so the ConfigMap of the
  StatsD exporter, the PrometheusRule and the dashboard ConfigMaps have no second, hand-kept copy.
* ``helm/airdeck/values.schema.json``: the chart's own keys from ``values.yaml`` (its ``# --``
  comments are the descriptions, its values the defaults and types; every object rejects unknown
  keys) and the ``airdeck`` key from airdeck's model (``airdeck.config.schema.json_schema()``).
* the values reference in ``docs/kubernetes.md`` (between the ``values-reference`` markers);
* the official chart's mapping table in ``docs/kubernetes.md`` (between the ``official-mapping`` markers),
  from the table ``airdeck helm import-values`` runs on (``airdeck.ops.official_chart``).

Run: ``PYTHONPATH=platform python helm/generate.py [--check]``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "airdeck"
DOC = ROOT / "docs" / "kubernetes.md"
BEGIN, END = "<!-- values-reference:begin -->", "<!-- values-reference:end -->"
MAP_BEGIN, MAP_END = "<!-- official-mapping:begin -->", "<!-- official-mapping:end -->"

#: (source, destination under the chart) of every copied file.
def copies() -> list[tuple[Path, Path]]:
    out = [(ROOT / "prometheus" / "statsd-mapping.yml", CHART / "files" / "statsd-mapping.yml")]
    out += [(p, CHART / "files" / "rules" / p.name) for p in sorted((ROOT / "prometheus" / "rules").glob("*.yml"))]
    out += [(p, CHART / "files" / "dashboards" / p.name)
            for p in sorted((ROOT / "grafana" / "dashboards").glob("*.json"))]
    return out


#: Keys whose value is a Kubernetes object or a free map/list, validated by Kubernetes itself.
STRING_MAPS = {"commonLabels", "nodeSelector", "podAnnotations", "annotations", "labels", "podLabels"}
K8S_OBJECTS = {"affinity": "a Kubernetes Affinity", "requests": "resource quantities",
               "limits": "resource quantities", "config": "a PodDisruptionBudget spec"}
K8S_LISTS = {"tolerations", "parentRefs", "hostnames", "to", "apiServerFrom", "prometheusFrom", "pullSecrets",
             "ports", "gatewayFrom", "env", "volumes", "volumeMounts", "extraVolumes", "extraVolumeMounts",
             "extraContainers", "extraInitContainers", "topologySpreadConstraints", "hosts", "imagePullSecrets",
             "extraObjects", "extraManifests"}
#: The official chart's env keys: a YAML string (rendered with tpl) or a list of Kubernetes objects.
TEXT_OR_LISTS = {"extraEnv", "extraEnvFrom"}
#: Items of a list that are Kubernetes objects or their YAML text, or names.
LIST_ITEMS: dict[str, dict[str, Any]] = {
    "hostnames": {"type": "string"},
    "pullSecrets": {"type": "string"},
    "ports": {"type": "integer", "minimum": 1, "maximum": 65535},
    "imagePullSecrets": {"oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "object", "required": ["name"], "additionalProperties": False,
         "properties": {"name": {"type": "string", "minLength": 1}}}]},
    "extraObjects": {"type": ["object", "string"]},
    "extraManifests": {"type": ["object", "string"]},
    "env": {"type": "object", "required": ["name"]},
}
#: Lists of IP addresses or CIDR ranges (an address without a prefix length is one host).
CIDR_LISTS = {"sourceCIDRs", "clusterCIDRs", "cidrs", "except", "nodeLocalDNS", "resolverCIDRs",
              "loadBalancerSourceRanges"}
CIDR = {"type": "string", "pattern": r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)(/[0-9]{1,3})?$"}
ENUMS = {"mode": ["production", "dev"], "pullPolicy": ["Always", "IfNotPresent", "Never"],
         "type": ["ClusterIP", "NodePort", "LoadBalancer"], "kind": ["SecretStore", "ClusterSecretStore"],
         "pathType": ["Prefix", "Exact", "ImplementationSpecific"], "poolMode": ["transaction", "session"]}
NULLABLE_INTEGERS = {"ttlSecondsAfterFinished", "minReplicas", "batchSize"}
#: Booleans whose null means "decided elsewhere" (a component's serviceAccount.create: serviceAccount.perComponent).
NULLABLE_BOOLEANS = {"create"}
REMOTE_REF_OWNERS = {"fernetKey", "jwtSecret", "jwtPrivateKey", "apiSecretKey", "logFetchKey", "adminPassword",
                     "databaseUrl", "brokerUrl"}
REMOTE_REF_KEYS = {"key": "Key in the store (empty: this Secret is not created by External Secrets).",
                   "property": "Property of that key (optional)."}


#: Components an Airflow connection may be given to (``connections.<connId>.components``).
COMPONENTS = ["api-server", "scheduler", "dag-processor", "triggerer", "worker", "alert-dispatcher"]
#: One entry of ``connections`` (keyed by connection id; an empty map in values.yaml has no comments).
CONNECTION_ENTRY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["secret", "key"],
    "properties": {
        "secret": {"type": "string", "maxLength": 253,
                   "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                   "description": "Name of an existing Secret in the release's namespace."},
        "key": {"type": "string", "maxLength": 253, "pattern": r"^[-._a-zA-Z0-9]+$",
                "description": "Key in that Secret holding the connection as a URI or as JSON "
                               "(Airflow's AIRFLOW_CONN_ forms)."},
        "components": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"type": "string", "enum": COMPONENTS},
                       "description": "Components that get it (default: by use: a git bundle's connection "
                                      "dag-processor and worker; an alert channel's alert-dispatcher; any "
                                      "other worker, triggerer and api-server)."},
    },
}


_SECRET_REF: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["secret", "key"],
    "properties": {
        "secret": CONNECTION_ENTRY["properties"]["secret"],
        "key": {"type": "string", "maxLength": 253, "pattern": r"^[-._a-zA-Z0-9]+$",
                "description": "Key in that Secret."},
    },
}
#: One entry of ``monitoring.alertmanagerConfig.channels`` (keyed by channel name; which keys a channel needs
#: depends on its type in airdeck.alerts.channels, checked by templates/check-values.yaml).
ALERTMANAGER_CHANNEL: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "apiURL": {**_SECRET_REF, "description": "Slack: the Secret key holding the incoming-webhook URL."},
        "channel": {"type": "string", "description": "Slack: channel to post to (default: the webhook's own)."},
        "smarthost": {"type": "string", "pattern": r"^[^\s:]+:[0-9]{1,5}$",
                      "description": "Email: the SMTP server as host:port."},
        "authUsername": {"type": "string", "description": "Email: SMTP login (none: no authentication)."},
        "authPassword": {**_SECRET_REF, "description": "Email: the Secret key holding the SMTP password."},
        "from": {"type": "string", "description": "Email: sender address (default: the channel's from_email)."},
        "requireTLS": {"type": "boolean", "description": "Email: refuse an SMTP server without STARTTLS "
                                                         "(default true)."},
    },
}


def comments(text: str) -> dict[tuple[str, ...], str]:
    """``# --`` comments of values.yaml, by key path."""
    found: dict[tuple[str, ...], str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    collecting = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending, collecting = [stripped[4:].strip()], True
            continue
        if stripped.startswith("#") and collecting:
            pending.append(stripped[1:].strip())
            continue
        match = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9_]*):", line)
        if not match:
            collecting = False
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if pending:
            found[tuple(k for _, k in stack)] = " ".join(pending)
        pending, collecting = [], False
    return found


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def node(path: tuple[str, ...], value: Any, docs: dict[tuple[str, ...], str]) -> dict[str, Any]:
    key = path[-1]
    description = docs.get(path)
    if description is None and key in ("requests", "limits"):
        description = f"Resource {key} (cpu, memory, …)."
    if description is None and len(path) > 1 and path[-2] in REMOTE_REF_OWNERS and key in REMOTE_REF_KEYS:
        description = REMOTE_REF_KEYS[key]
    if description is None:
        raise SystemExit(f"values.yaml: {'.'.join(path)} has no '# --' comment")
    out: dict[str, Any] = {"description": description, "default": value}
    if path[-2:] == ("signIn", "allowed") or path[-2:] == ("signIn", "denied"):
        out.update(type="array", uniqueItems=True,
                   items={"type": "string", "pattern": r"^(can_read|can_create|can_edit|can_delete) on [A-Za-z ]+$"})
        return out
    if path == ("auth", "roles"):
        # The roles file as an object: its top level here, the rest checked by the migration Job.
        out.update(type="object", additionalProperties=False, properties={
            "version": {"type": "integer", "const": 1, "description": "The roles file's format version (1)."},
            "permission_sets": {"type": "object", "description": "Named lists of permissions, reused by roles."},
            "roles": {"type": "object", "minProperties": 1,
                      "description": "Role name -> description, include, permissions."},
        }, dependentRequired={"version": ["roles"], "roles": ["version"], "permission_sets": ["roles"]})
        return out
    if path == ("connections",):
        # Keyed by Airflow connection id (Airflow's own rule: letters, digits, _ . -; at most 250).
        out.update(type="object", patternProperties={r"^[A-Za-z0-9_.-]{1,250}$": CONNECTION_ENTRY},
                   additionalProperties=False)
    elif path == ("monitoring", "alertmanagerConfig", "channels"):
        out.update(type="object", patternProperties={r"^[A-Za-z0-9_.-]{1,64}$": ALERTMANAGER_CHANNEL},
                   additionalProperties=False)
    elif path == ("databaseCleanup", "tables"):
        # The tables Airflow's own `airflow db clean --tables` accepts.
        from airflow.utils.db_cleanup import config_dict

        out.update(type="array", uniqueItems=True, items={"type": "string", "enum": sorted(config_dict)})
    elif path == ("databaseCleanup", "retentionDays"):
        out.update(type="integer", minimum=1)
    elif key in STRING_MAPS:
        out.update(type="object", additionalProperties={"type": "string"})
    elif key in K8S_OBJECTS:
        out.update(type="object", additionalProperties={"type": ["string", "number", "object", "array"]})
    elif key in TEXT_OR_LISTS:
        out.update(type=["string", "array", "null"], items={"type": "object"})
    elif key in CIDR_LISTS:
        out.update(type="array", items=CIDR)
    elif key in K8S_LISTS:
        out.update(type="array", items=LIST_ITEMS.get(key, {"type": "object"}))
    elif key in NULLABLE_INTEGERS:
        out.update(type=["integer", "null"], minimum=0)
    elif key in NULLABLE_BOOLEANS and value is None:
        out.update(type=["boolean", "null"])
    elif isinstance(value, dict):
        out.update(type="object", additionalProperties=False,
                   properties={k: node((*path, k), v, docs) for k, v in value.items()})
    else:
        out["type"] = _type(value)
        if key in ENUMS and isinstance(value, str):
            out["enum"] = ENUMS[key]
        if out["type"] == "integer" and (key.endswith(("Replicas", "ReplicaCount", "Seconds")) or key == "replicas"
                                         or key in ("periodSeconds", "failureThreshold", "port", "dnsPort")):
            out["minimum"] = 0 if "min" in key.lower() or key == "replicas" else 1
    return out


def airdeck_schema() -> dict[str, Any]:
    """airdeck.yaml's schema with its definitions moved under the chart schema's root ``$defs``."""
    from airdeck.config.schema import json_schema

    schema = json_schema()
    defs = schema.pop("$defs", {})
    schema.pop("$schema", None)
    text = json.dumps({"root": schema, "defs": defs}).replace('"#/$defs/', '"#/$defs/airdeck.')
    moved = json.loads(text)
    return {"root": moved["root"], "defs": {f"airdeck.{k}": v for k, v in moved["defs"].items()}}


def values_schema() -> str:
    text = (CHART / "values.yaml").read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    docs = comments(text)
    properties: dict[str, Any] = {}
    for key, value in values.items():
        if key == "airdeck":
            continue
        properties[key] = node((key,), value, docs)
    air = airdeck_schema()
    properties["airdeck"] = {**air["root"], "description": docs[("airdeck",)], "default": {}}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Values of the airdeck Helm chart",
        "type": "object",
        "additionalProperties": False,
        "properties": {k: properties[k] for k in values},
        "$defs": air["defs"],
    }
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def reference() -> str:
    """The values reference of docs/kubernetes.md: one row per key, from the schema."""
    schema = json.loads(values_schema())
    rows = ["| key | type | default | description |", "|---|---|---|---|"]

    def walk(prefix: str, props: dict[str, Any]) -> None:
        for key, spec in props.items():
            path = f"{prefix}{key}"
            if path == "airdeck":
                rows.append(f"| `airdeck` | object | `{{}}` | {spec['description']} Keys: "
                            "[configuration reference](configuration.md). |")
                continue
            kind = spec.get("type")
            kind = "/".join(kind) if isinstance(kind, list) else kind
            if kind == "object" and "properties" in spec:
                walk(path + ".", spec["properties"])
                continue
            if kind == "object" and "patternProperties" in spec:
                rows.append(f"| `{path}` | object | `{{}}` | {spec['description'].replace('|', '/')} |")
                entry = next(iter(spec["patternProperties"].values()))
                for sub, sub_spec in entry["properties"].items():
                    needed = "required" if sub in entry.get("required", []) else "optional"
                    rows.append(f"| `{path}.<connId>.{sub}` | {sub_spec['type']} | {needed} | "
                                f"{sub_spec['description']} |")
                continue
            default = json.dumps(spec.get("default"), separators=(",", ":"))
            rows.append(f"| `{path}` | {kind} | `{default}` | {spec['description'].replace('|', '/')} |")

    walk("", schema["properties"])
    return "\n".join(rows) + "\n"


def _between(current: str, begin: str, end: str, body: str) -> str:
    if begin not in current or end not in current:
        raise SystemExit(f"{DOC} lacks the {begin} … {end} markers")
    head, rest = current.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}{end}{tail}"


def expected_doc(current: str) -> str:
    from airdeck.ops.official_chart import mapping_table

    return _between(_between(current, BEGIN, END, reference()), MAP_BEGIN, MAP_END, mapping_table())


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    stale: list[str] = []
    for source, target in copies():
        if not target.exists() or target.read_bytes() != source.read_bytes():
            stale.append(str(target.relative_to(ROOT)))
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    wanted = {t for _, t in copies()}
    for folder in ("rules", "dashboards"):
        for extra in sorted((CHART / "files" / folder).glob("*")):
            if extra not in wanted:
                stale.append(f"{extra.relative_to(ROOT)} (no source)")
                if not check:
                    extra.unlink()
    generated = {CHART / "values.schema.json": values_schema()}
    if DOC.exists():
        generated[DOC] = expected_doc(DOC.read_text(encoding="utf-8"))
    for path, text in generated.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path.relative_to(ROOT)))
            if not check:
                path.write_text(text, encoding="utf-8")
    if check and stale:
        print("out of date (run: PYTHONPATH=platform python helm/generate.py):\n  " + "\n  ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
