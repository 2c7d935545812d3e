"""Carry a values file written for the official Apache Airflow chart over to airdeck's chart.

One table, :data:`RULES`, says where each official key goes (or why it does not); it drives both
:func:`convert` (``airdeck helm import-values``) and the mapping table of docs/kubernetes.md
(``helm/generate.py``). Whatever the table does not carry is reported with its reason: nothing is
dropped silently. Input is read with ``yaml.safe_load`` under a size and a node limit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airdeck.config.airflow_options import MANAGED_OPTIONS
from airdeck.config.model import CONFIG_NAME
from airdeck.errors import AirdeckError

#: Larger files are refused before they are read (real values files are kilobytes).
MAX_BYTES = 5 * 1024 * 1024
#: Mappings, lists and scalars walked at most (a YAML file of aliases can expand to billions).
MAX_NODES = 200_000


class ValuesImportError(AirdeckError):
    """The official values file cannot be read or is not a values file."""


#: Official component → airdeck component.
COMPONENTS = {"apiServer": "apiServer", "webserver": "apiServer", "scheduler": "scheduler",
              "dagProcessor": "dagProcessor", "triggerer": "triggerer", "workers": "workers",
              "statsd": "statsdExporter", "migrateDatabaseJob": "migrations"}
#: Keys every airdeck component has (the official chart's names, carried as they are).
POD_KEYS = ("resources", "nodeSelector", "affinity", "tolerations", "topologySpreadConstraints",
            "priorityClassName", "env", "extraVolumes", "extraVolumeMounts", "extraContainers",
            "extraInitContainers", "labels", "annotations", "podAnnotations", "serviceAccount.create",
            "serviceAccount.name", "serviceAccount.annotations", "serviceAccount.automountServiceAccountToken")
#: Keys only long-running components have.
SERVICE_KEYS = ("replicas", "terminationGracePeriodSeconds")
PDB_KEYS = ("podDisruptionBudget.enabled", "podDisruptionBudget.config")
PROBE_KEYS = ("livenessProbe.periodSeconds", "livenessProbe.timeoutSeconds", "livenessProbe.failureThreshold")
#: Keys carried, by airdeck component.
CARRIED = {
    "apiServer": POD_KEYS + SERVICE_KEYS + PDB_KEYS + ("service.type", "service.annotations",
                                                       "service.loadBalancerSourceRanges"),
    "scheduler": POD_KEYS + SERVICE_KEYS + PDB_KEYS + PROBE_KEYS,
    "dagProcessor": POD_KEYS + SERVICE_KEYS + PDB_KEYS + PROBE_KEYS,
    "triggerer": POD_KEYS + SERVICE_KEYS + PDB_KEYS + PROBE_KEYS,
    "workers": POD_KEYS + SERVICE_KEYS + PDB_KEYS + PROBE_KEYS + (
        "keda.enabled", "keda.minReplicaCount", "keda.maxReplicaCount", "keda.pollingInterval",
        "keda.cooldownPeriod"),
    "statsdExporter": POD_KEYS + SERVICE_KEYS,
    "migrations": POD_KEYS,
}


@dataclass(frozen=True)
class Rule:
    """Where an official key goes: ``airdeck`` (a values path), or nowhere (None) with the reason."""

    official: str
    airdeck: str | None
    note: str = ""
    #: Builds the airdeck values from the official value (default: the value, at ``airdeck``).
    carry: Callable[[Any, Result, str], None] | None = field(default=None, compare=False)


@dataclass
class Result:
    values: dict[str, Any] = field(default_factory=dict)
    #: (official key, why it was not carried) in file order.
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def put(self, path: str, value: Any) -> None:
        node = self.values
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = copy.deepcopy(value)

    def append(self, path: str, items: list[Any]) -> None:
        node = self.values
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node.setdefault(last, []).extend(copy.deepcopy(items))


def _extra_config(section: str, key: str, value: Any, result: Result, where: str) -> None:
    if not (CONFIG_NAME.match(section) and CONFIG_NAME.match(key)):
        result.skipped.append((where, "not an Airflow section/option name"))
    elif (section.lower(), key.lower()) in MANAGED_OPTIONS:
        result.skipped.append((where, f"a secret airdeck manages ({MANAGED_OPTIONS[(section.lower(), key.lower())]})"))
    elif not isinstance(value, str | int | float | bool):
        result.skipped.append((where, "an Airflow option takes a string, number or boolean"))
    else:
        result.put(f"airdeck.airflow.extra_config.{section}.{key}", value)


def _config(value: Any, result: Result, where: str) -> None:
    if not isinstance(value, dict):
        raise ValuesImportError(f"{where}: must be a mapping of Airflow sections, found {type(value).__name__}")
    for section, options in value.items():
        if not isinstance(options, dict):
            result.skipped.append((f"{where}.{section}", "an Airflow section must be a mapping of options"))
            continue
        for key, option in options.items():
            _extra_config(str(section), str(key), option, result, f"{where}.{section}.{key}")


def _env(target: str) -> Callable[[Any, Result, str], None]:
    """An env list: AIRFLOW__SECTION__KEY entries become extra_config (airdeck drops them from the
    environment), the others stay env at ``target``."""

    def carry(value: Any, result: Result, where: str) -> None:
        if not isinstance(value, list):
            raise ValuesImportError(f"{where}: must be a list of {{name, value}}, found {type(value).__name__}")
        kept = []
        for i, entry in enumerate(value):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ValuesImportError(f"{where}[{i}]: an env entry needs a name")
            name = entry["name"]
            parts = name.split("__")
            if name.startswith("AIRFLOW__") and len(parts) == 3 and "value" in entry:
                _extra_config(parts[1].lower(), parts[2].lower(), entry["value"], result, f"{where}[{i}] ({name})")
            elif name.startswith("AIRFLOW__"):
                result.skipped.append((f"{where}[{i}] ({name})", "an Airflow setting from a Secret or ConfigMap: "
                                       "give it through airdeck.secrets (Vault) or airdeck.airflow.extra_config"))
            else:
                kept.append(entry)
        if kept:
            result.append(target, kept)
    return carry


def _secret_list(value: Any, result: Result, where: str) -> None:
    """``secret: [{envName, secretName, secretKey}]``: AIRFLOW_CONN_* become ``connections``, the rest env."""
    if not isinstance(value, list):
        raise ValuesImportError(f"{where}: must be a list of {{envName, secretName, secretKey}}")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str)
                                                  for k in ("envName", "secretName", "secretKey")):
            raise ValuesImportError(f"{where}[{i}]: needs envName, secretName and secretKey")
        name = entry["envName"]
        if name.startswith("AIRFLOW_CONN_"):
            result.put(f"connections.{name.removeprefix('AIRFLOW_CONN_').lower()}",
                       {"secret": entry["secretName"], "key": entry["secretKey"]})
        elif name.startswith("AIRFLOW__"):
            result.skipped.append((f"{where}[{i}] ({name})", "an Airflow setting from a Secret: airdeck reads "
                                   "secret settings from airdeck.secrets (Vault) or its mounted secrets"))
        else:
            result.append("env", [{"name": name, "valueFrom": {"secretKeyRef": {
                "name": entry["secretName"], "key": entry["secretKey"]}}}])


def _existing_secret(target: str, key: str) -> Callable[[Any, Result, str], None]:
    def carry(value: Any, result: Result, where: str) -> None:
        if value in (None, ""):
            return
        if not isinstance(value, str):
            raise ValuesImportError(f"{where}: must be a Secret's name")
        result.put(f"secrets.{target}.existingSecret", value)
        result.put(f"secrets.{target}.key", key)
    return carry


def _pull_secret(value: Any, result: Result, where: str) -> None:
    if value:
        if not isinstance(value, str):
            raise ValuesImportError(f"{where}: must be a Secret's name")
        result.append("imagePullSecrets", [value])


def _ingress_hosts(value: Any, result: Result, where: str) -> None:
    if not isinstance(value, list):
        raise ValuesImportError(f"{where}: must be a list of hosts")
    hosts = []
    for i, host in enumerate(value):
        if isinstance(host, str):
            hosts.append({"name": host})
        elif isinstance(host, dict) and isinstance(host.get("name"), str):
            entry: dict[str, Any] = {"name": host["name"]}
            tls = host.get("tls") or {}
            if isinstance(tls, dict) and tls.get("secretName"):
                entry["tls"] = {"enabled": True, "secretName": tls["secretName"]}
            hosts.append(entry)
        else:
            raise ValuesImportError(f"{where}[{i}]: a host is a name or {{name, tls}}")
    result.append("ingress.apiServer.hosts", hosts)


def _config_maps(value: Any, result: Result, where: str) -> None:
    """``extraConfigMaps: {name: {data: "k: v", labels, annotations}}`` → ``extraObjects`` (YAML text, so
    the names and data keep their ``{{ }}`` for tpl, as in the official chart)."""
    if not isinstance(value, dict):
        raise ValuesImportError(f"{where}: must be a mapping of ConfigMap names")
    for name, spec in value.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("data", ""), str):
            raise ValuesImportError(f"{where}.{name}: needs data as a YAML string (the official chart's form)")
        meta: dict[str, Any] = {"name": str(name)}
        for key in ("labels", "annotations"):
            if isinstance(spec.get(key), dict) and spec[key]:
                meta[key] = spec[key]
        head = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}, sort_keys=False)
        data = spec.get("data") or ""
        body = "data:\n" + "".join(f"  {line}\n" for line in data.splitlines()) if data.strip() else ""
        result.append("extraObjects", [head + body])


def _executor(value: Any, result: Result, where: str) -> None:
    if value not in ("CeleryExecutor", None):
        result.skipped.append((where, f"airdeck runs CeleryExecutor on Kubernetes, not {value}"))


def _legacy_tls_secret(value: Any, result: Result, where: str) -> None:
    if isinstance(value, dict) and value.get("secretName"):
        result.put("ingress.tlsSecretName", value["secretName"])


def _fixed(reason: str) -> Callable[[Any, Result, str], None]:
    """A key with no airdeck equivalent: reported with ``reason`` unless it is empty or off."""
    def carry(value: Any, result: Result, where: str) -> None:
        if value not in (None, "", False, [], {}):
            result.skipped.append((where, reason))
    return carry


NO_IMAGE = ("airdeck's pods run the airdeck image (platform/Dockerfile, `airdeck run`), not a plain Airflow "
            "image: build yours FROM it and set images.airdeck")

#: The official chart's keys and where they go. Component keys (``<component>.*``) follow :data:`CARRIED`.
RULES: tuple[Rule, ...] = (
    Rule("executor", None, "airdeck runs CeleryExecutor", _executor),
    Rule("config", "airdeck.airflow.extra_config", "section by section; airdeck's managed secrets refused",
         _config),
    Rule("env", "env", "AIRFLOW__SECTION__KEY entries go to airdeck.airflow.extra_config", _env("env")),
    Rule("extraEnv", "extraEnv"), Rule("extraEnvFrom", "extraEnvFrom"),
    Rule("volumes", "volumes"), Rule("volumeMounts", "volumeMounts"),
    Rule("labels", "labels"), Rule("nodeSelector", "nodeSelector"), Rule("affinity", "affinity"),
    Rule("tolerations", "tolerations"), Rule("topologySpreadConstraints", "topologySpreadConstraints"),
    Rule("extraObjects", "extraObjects"), Rule("extraManifests", "extraManifests"),
    Rule("fullnameOverride", "fullnameOverride"),
    Rule("secret", "connections / env", "AIRFLOW_CONN_* become connections.<connId>, other names env",
         _secret_list),
    Rule("extraConfigMaps", "extraObjects", "each a ConfigMap of the same name and data", _config_maps),
    Rule("extraSecrets", None, "secret data in values", _fixed(
        "secret data in values: create these Secrets outside the chart (External Secrets, kubectl) and "
        "reference them (volumes, extraEnvFrom, connections)")),
    Rule("registry.secretName", "imagePullSecrets", "", _pull_secret),
    Rule("fernetKeySecretName", "secrets.fernetKey.existingSecret", "key fernet-key",
         _existing_secret("fernetKey", "fernet-key")),
    Rule("data.metadataSecretName", "secrets.databaseUrl.existingSecret", "key connection",
         _existing_secret("databaseUrl", "connection")),
    Rule("data.brokerUrlSecretName", "secrets.brokerUrl.existingSecret", "key connection",
         _existing_secret("brokerUrl", "connection")),
    Rule("apiSecretKeySecretName", "secrets.apiSecretKey.existingSecret", "key api-secret-key",
         _existing_secret("apiSecretKey", "api-secret-key")),
    Rule("webserverSecretKeySecretName", "secrets.apiSecretKey.existingSecret", "key webserver-secret-key",
         _existing_secret("apiSecretKey", "webserver-secret-key")),
    Rule("jwtSecretName", "secrets.jwtSecret.existingSecret",
         "key jwt-secret; airdeck signs tokens with secrets.jwtPrivateKey (create it)",
         _existing_secret("jwtSecret", "jwt-secret")),
    Rule("networkPolicies.enabled", "networkPolicies.enabled"),
    Rule("ingress.apiServer.enabled", "ingress.apiServer.enabled"),
    Rule("ingress.apiServer.hosts", "ingress.apiServer.hosts", "names become {name}; TLS per host",
         _ingress_hosts),
    Rule("ingress.apiServer.ingressClassName", "ingress.apiServer.ingressClassName"),
    Rule("ingress.apiServer.annotations", "ingress.apiServer.annotations"),
    Rule("ingress.apiServer.path", "ingress.apiServer.path"),
    Rule("ingress.apiServer.pathType", "ingress.apiServer.pathType"),
    Rule("ingress.apiServer.tls", "ingress.tlsSecretName", "the certificate of hosts without their own",
         _legacy_tls_secret),
    Rule("ingress.web.enabled", "ingress.apiServer.enabled", "Airflow 2's UI is the api-server"),
    Rule("ingress.web.hosts", "ingress.apiServer.hosts", "Airflow 2's UI is the api-server", _ingress_hosts),
    Rule("ingress.web.ingressClassName", "ingress.apiServer.ingressClassName"),
    Rule("ingress.web.annotations", "ingress.apiServer.annotations"),
    Rule("ingress.web.tls", "ingress.tlsSecretName", "the certificate of hosts without their own",
         _legacy_tls_secret),
    Rule("images.airflow", None, NO_IMAGE, _fixed(NO_IMAGE)),
    Rule("defaultAirflowRepository", None, NO_IMAGE, _fixed(NO_IMAGE)),
    Rule("defaultAirflowTag", None, NO_IMAGE, _fixed(NO_IMAGE)),
    Rule("airflowVersion", None, "airdeck pins Airflow 3.3", _fixed("airdeck pins its Airflow version")),
    Rule("images.statsd.repository", "images.statsdExporter.repository"),
    Rule("images.statsd.tag", "images.statsdExporter.tag"),
    Rule("images.statsd.pullPolicy", "images.statsdExporter.pullPolicy"),
    Rule("fernetKey", None, "a secret in values", _fixed(
        "a secret in values: put it in a Secret and name it in secrets.fernetKey.existingSecret")),
    Rule("data.metadataConnection", None, "a password in values", _fixed(
        "a password in values: put the URL in a Secret and name it in secrets.databaseUrl.existingSecret")),
    Rule("data.brokerUrl", None, "a password in values", _fixed(
        "a password in values: put the URL in a Secret and name it in secrets.brokerUrl.existingSecret")),
    Rule("webserverSecretKey", None, "a secret in values", _fixed(
        "a secret in values: put it in a Secret and name it in secrets.apiSecretKey.existingSecret")),
    Rule("apiSecretKey", None, "a secret in values", _fixed(
        "a secret in values: put it in a Secret and name it in secrets.apiSecretKey.existingSecret")),
    Rule("postgresql.enabled", None, "the bundled PostgreSQL is for mode dev only", _fixed(
        "the bundled PostgreSQL is for mode dev only: give an external database in secrets.databaseUrl")),
    Rule("redis.enabled", None, "the bundled Redis is for mode dev only", _fixed(
        "the bundled Redis is for mode dev only: give an external broker in secrets.brokerUrl")),
    *(Rule(f"pgbouncer.{key}", f"pgbouncer.{key}", "its configuration comes from the database Secret at start"
           if key == "enabled" else "") for key in (
        "enabled", "replicas", "maxClientConn", "metadataPoolSize", "resources", "nodeSelector", "affinity",
        "tolerations", "podAnnotations", "metricsExporterSidecar.resources")),
    *(Rule(f"databaseCleanup.{key}", f"databaseCleanup.{key}", "the database URL is its only secret"
           if key == "enabled" else "") for key in (
        "enabled", "schedule", "retentionDays", "skipArchive", "resources", "nodeSelector", "affinity",
        "tolerations", "podAnnotations")),
    *(Rule(f"{component}.persistence.{key}", f"{component}.persistence.{key}",
           "a claim per pod for its task logs" if key == "enabled" else "")
      for component in ("workers", "triggerer") for key in ("enabled", "size", "storageClassName")),
    Rule("logs.emptyDirConfig.sizeLimit", "workers.logs.sizeLimit",
         "each worker pod its own; the triggerer's: triggerer.logs.sizeLimit"),
    Rule("dags.gitSync", None, "airdeck.dags.bundles (git DAG bundles, versioned runs)", _fixed(
        "no git-sync sidecar: declare the repository in airdeck.dags.bundles (git DAG bundles)")),
    Rule("createUserJob", None, "the migration Job creates the admin account", _fixed(
        "the migration Job creates the admin account (airdeck.admin, secrets.adminPassword)")),
    Rule("apiServer.apiServerConfig", None, "webserver_config.py is generated from airdeck.auth", _fixed(
        "webserver_config.py is generated from airdeck.auth")),
    Rule("webserver.webserverConfig", None, "webserver_config.py is generated from airdeck.auth", _fixed(
        "webserver_config.py is generated from airdeck.auth")),
    Rule("statsd.enabled", None, "the StatsD exporter is always on", lambda _v, _r, _w: None),
    Rule("migrateDatabaseJob.enabled", "migrations.enabled"),
    Rule("migrateDatabaseJob.useHelmHooks", "migrations.useHelmHooks"),
    Rule("migrateDatabaseJob.ttlSecondsAfterFinished", "migrations.ttlSecondsAfterFinished"),
    Rule("workers.hpa.enabled", "workers.hpa.enabled"),
    Rule("workers.hpa.minReplicaCount", "workers.hpa.minReplicas"),
    Rule("workers.hpa.maxReplicaCount", "workers.hpa.maxReplicas"),
)


def _component_rules() -> Iterator[Rule]:
    for official, ours in COMPONENTS.items():
        for key in CARRIED[ours]:
            carry = _env(f"{ours}.env") if key == "env" else None
            note = "Airflow 2's UI is the api-server" if official == "webserver" else ""
            yield Rule(f"{official}.{key}", f"{ours}.{key}", note, carry)


def all_rules() -> tuple[Rule, ...]:
    return RULES + tuple(_component_rules())


def _spend(value: Any, budget: list[int]) -> None:
    """Count the nodes of ``value`` (aliases expanded) against the budget."""
    stack = [value]
    while stack:
        node = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise ValuesImportError(f"more than {MAX_NODES} values once YAML aliases are expanded; "
                                    "not a values file")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _walk(value: Any, path: tuple[str, ...], rules: dict[tuple[str, ...], Rule], result: Result,
          budget: list[int]) -> None:
    where = ".".join(path)
    rule = rules.get(path)
    if rule is not None or not isinstance(value, dict):
        _spend(value, budget)
    else:
        _spend(None, budget)
    if rule is not None:
        if rule.carry is not None:
            rule.carry(value, result, where)
        elif rule.airdeck is not None:
            result.put(rule.airdeck, value)
        return
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            if not isinstance(key, str):
                raise ValuesImportError(f"{where or 'the top level'}: key {key!r} is not a string")
            _walk(sub, (*path, key), rules, result, budget)
        return
    if path and path[0] in COMPONENTS and len(path) == 1:
        if value in (None, {}):
            return
        raise ValuesImportError(f"{where}: must be a mapping, found {type(value).__name__}")
    if value in (None, {}, []):
        return  # an empty default carries nothing
    known = {r.official.split(".")[0] for r in all_rules()}
    reason = ("no airdeck equivalent" if path[0] in known or path[0] in COMPONENTS
              else "not a key airdeck knows from the official chart")
    result.skipped.append((where, reason))


def convert(official: Any, source: str = "values") -> Result:
    """airdeck values from official-chart values (a parsed mapping)."""
    if not isinstance(official, dict):
        kind = "empty" if official is None else f"a {type(official).__name__}"
        raise ValuesImportError(f"{source}: the top level must be a mapping of values, found {kind}")
    result = Result()
    rules = {tuple(r.official.split(".")): r for r in all_rules()}
    _walk(official, (), rules, result, [MAX_NODES])
    return result


def read(path: Path) -> Any:
    """The parsed YAML of ``path``; ValuesImportError naming the file for anything else."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValuesImportError(f"{path}: cannot read it ({exc.strerror})") from None
    if not path.is_file():
        raise ValuesImportError(f"{path}: not a file")
    if size > MAX_BYTES:
        raise ValuesImportError(f"{path}: {size} bytes; a values file is at most {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValuesImportError(f"{path}: not UTF-8 text; is it a values file?") from None
    except OSError as exc:
        raise ValuesImportError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise ValuesImportError(f"{path}:{where}: not valid YAML ({problem})") from None


def mapping_table() -> str:
    """The mapping table of docs/kubernetes.md: one row per rule (components folded by key)."""
    rows = ["| official chart | airdeck chart | notes |", "|---|---|---|"]
    for rule in RULES:
        target = f"`{rule.airdeck}`" if rule.airdeck else "not carried"
        rows.append(f"| `{rule.official}` | {target} | {rule.note.replace('|', '/')} |")
    for official, ours in COMPONENTS.items():
        keys = ", ".join(f"`{k}`" for k in CARRIED[ours])
        note = "Airflow 2's UI is the api-server; " if official == "webserver" else ""
        rows.append(f"| `{official}.*` | `{ours}.*` | {note}carried: {keys} |")
    rows.append("| any other key | not carried | reported by `airdeck helm import-values` with its path |")
    return "\n".join(rows) + "\n"
