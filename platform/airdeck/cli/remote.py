"""``airdeck --target kubernetes --release NAME``: the day-two commands on a Helm release of the chart.

How each command reaches the release, and why:

* ``status``: read here from the API (the release's pods by Helm's labels, their readiness and
  restarts): nothing needs to run in the cluster to read them.
* ``credentials``: the admin account's Secret, found where the release's migration Job mounts it (the
  chart names it ``<release>-admin-password`` unless ``secrets.adminPassword.existingSecret``).
  ``credentials --reset-account`` then gives the account that password, inside an api-server container
  (the password on the exec's standard input): replacing the stored value alone changes no account.
* ``rbac sync``, ``dags status``, ``alerts test``: the same airdeck command, run inside a running
  container of the release through the ``pods/exec`` stream (``--target in-pod``: the container's
  mounted airdeck.yaml and secrets), its output and exit code passed through unchanged. The container is
  the one that already holds what the command needs: the api-server's for the roles (the FAB tables),
  the dag-processor's for the DAG bundles (it holds the git connections ``--check`` uses), the alert
  dispatcher's for a test message (it alone holds the channels' connections). An exec, not a Job: the
  answer comes back in seconds on the same stream, nothing is left behind, and no pod is scheduled.
"""

from __future__ import annotations

import argparse
import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from airdeck.cli.context import CliContext, CommandError
from airdeck.cli.results import Result, Text
from airdeck.config import ConfigError
from airdeck.config.loader import parse_config
from airdeck.kube.release import KubeError, Release, connect, mounted_secrets, run_args

#: The commands `--target kubernetes` offers (the others act on the local stack only).
COMMANDS = ("status", "credentials [--reset-account]", "rbac sync", "dags status", "alerts test",
            "fernet rotate")

#: Global options that take a value (they come before the command; never passed into the container).
GLOBAL_WITH_VALUE = ("--config", "-c", "--home", "--target", "--release", "--namespace", "--context", "--kubeconfig",
                     "--secrets-dir")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", dest="where", choices=["local", "kubernetes", "in-pod"], default="local",
                        metavar="{local,kubernetes}",
                        help="local: the platform of this machine (default); kubernetes: a Helm release of the "
                             "chart, through the Kubernetes API (with --release)")
    parser.add_argument("--release", dest="k8s_release", metavar="NAME",
                        help="with --target kubernetes: the Helm release (`helm list`)")
    parser.add_argument("--namespace", "-n", dest="k8s_namespace", metavar="NS",
                        help="with --target kubernetes: its namespace (default: the context's, else default)")
    parser.add_argument("--context", dest="k8s_context", metavar="CTX",
                        help="with --target kubernetes: the kubeconfig context (default: the current one)")
    parser.add_argument("--kubeconfig", dest="k8s_kubeconfig", metavar="FILE",
                        help="with --target kubernetes: the kubeconfig (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--secrets-dir", dest="secrets_dir_in_pod", type=Path, help=argparse.SUPPRESS)


def command_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` without the global options before the command."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1 if "=" in argv[i] or argv[i] not in GLOBAL_WITH_VALUE else 2
    return list(argv[i:])


def release(ctx: CliContext) -> Release:
    args = ctx.args
    if not args.k8s_release:
        raise CommandError("--target kubernetes needs --release NAME (the Helm release; `helm list -A` lists them)",
                           exit_code=2)
    return connect(args.k8s_release, args.k8s_namespace, args.k8s_context, args.k8s_kubeconfig)


def _in(component: str, ctx: CliContext, stdin_file: bool = False) -> Result:
    rel = release(ctx)
    pod = rel.running_pod(component)
    given = run_args(pod.spec)
    argv = ["airdeck", "--target", "in-pod", "--release", given.get("--release", rel.where.release),
            "--secrets-dir", given.get("--secrets-dir", "/run/secrets/airdeck"), *command_argv(ctx.args.argv)]
    if stdin_file:
        path = Path(ctx.args.file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read the roles file {path}: {exc.strerror or exc}") from None
        argv += ["--file-content", base64.b64encode(text.encode("utf-8")).decode("ascii")]
    done = rel.exec(pod, argv)
    return Result.of(Text(done.stdout, end=""), Text(done.stderr, end="", err=True), exit_code=done.exit_code)


def in_api_server(ctx: CliContext) -> Result:
    """`rbac sync [--check]` inside an api-server container, with the roles file from this machine."""
    return _in("api-server", ctx, stdin_file=True)


def in_dag_processor(ctx: CliContext) -> Result:
    return _in("dag-processor", ctx)


def in_alert_dispatcher(ctx: CliContext) -> Result:
    return _in("alert-dispatcher", ctx)


# ---------------------------------------------------------------------------------------- status
def _pod_state(pod: Any) -> tuple[str, bool, str]:
    """(state, healthy, why) of a pod, from its phase, readiness and containers' states."""
    status = pod.status
    phase = (status.phase if status else None) or "Unknown"
    ready = any(c.type == "Ready" and c.status == "True" for c in (status.conditions or [])) if status else False
    for container in (status.container_statuses or []) if status else []:
        waiting = container.state.waiting if container.state else None
        if waiting is not None:
            why = f"{container.name}: {waiting.reason}: {waiting.message or ''}".strip()
            return waiting.reason or "Waiting", False, why
        terminated = container.state.terminated if container.state else None
        if terminated is not None and phase == "Running":
            return "Terminated", False, f"{container.name} exited {terminated.exit_code} ({terminated.reason})"
    if phase == "Succeeded":
        return "EXITED", True, "finished"
    if ready:
        return "RUNNING", True, "ready"
    return phase.upper(), False, "not ready (readiness probe failing)" if phase == "Running" else f"pod {phase}"


def release_statuses(ctx: CliContext) -> tuple[list[dict[str, Any]], str]:
    """One record per pod of the release (Jobs' finished pods aside), as `airdeck status` shows services."""
    rel = release(ctx)
    records = []
    for pod in rel.require():
        labels = pod.metadata.labels or {}
        component = labels.get("app.kubernetes.io/component", pod.metadata.name)
        if component in ("migrate", "canary") and pod.status and pod.status.phase == "Succeeded":
            continue
        state, healthy, why = _pod_state(pod)
        restarts = sum(c.restart_count or 0 for c in (pod.status.container_statuses or [])) if pod.status else 0
        records.append({"name": component, "pod": pod.metadata.name, "kind": "pod", "state": state,
                        "health": "healthy" if healthy else "unhealthy", "detail": why, "pid": None, "url": None,
                        "restarts": restarts})
    return records, str(rel.where)


# ---------------------------------------------------------------------------------------- credentials
def release_credentials(ctx: CliContext) -> dict[str, str]:
    """The admin account of the release: username from its airdeck.yaml, password from its Secret."""
    rel = release(ctx)
    rel.require()
    jobs = rel.jobs("migrate")
    if not jobs:
        raise KubeError(f"{rel.where} has no migration Job (label app.kubernetes.io/component=migrate), so the "
                        "admin account's Secret cannot be found; is migrations.enabled false?")
    template = jobs[-1].spec.template.spec
    files = mounted_secrets(template)
    if "admin_password" not in files:
        raise CommandError(f"{rel.where} has no admin account password (no admin_password in its migration Job): "
                           "people sign in through LDAP; see docs/security.md")
    secret, key = files["admin_password"]
    password = rel.secret_value(secret, key)
    prefix = run_args(template).get("--release", rel.where.release)
    cfg = _release_config(rel, f"{prefix}-config")
    return {"url": _release_url(rel, prefix, cfg.api_server.port), "username": cfg.admin.username,
            "password": password}


def reset_release_account(ctx: CliContext) -> Result:
    """The admin account of the release gets the password its Secret holds now, inside an api-server
    container (it reaches the FAB tables); the password goes through the exec's standard input, never argv."""
    rel = release(ctx)
    password = release_credentials(ctx)["password"]
    pod = rel.running_pod("api-server")
    given = run_args(pod.spec)
    argv = ["airdeck", "--target", "in-pod", "--release", given.get("--release", rel.where.release),
            "--secrets-dir", given.get("--secrets-dir", "/run/secrets/airdeck"), "credentials", "--reset-account"]
    done = rel.exec(pod, argv, stdin=password + "\n")
    return Result.of(Text(done.stdout, end=""), Text(done.stderr, end="", err=True), exit_code=done.exit_code)


def _release_config(rel: Release, name: str) -> Any:
    data = rel.config_map(name).data or {}
    text = data.get("airdeck.yaml")
    if text is None:
        raise KubeError(f"the ConfigMap {name!r} of {rel.where} holds no airdeck.yaml; keys: {', '.join(data)}")
    try:
        return parse_config(yaml.safe_load(text) or {}, f"ConfigMap {name}/airdeck.yaml")
    except (ConfigError, yaml.YAMLError) as exc:
        raise KubeError(f"the airdeck.yaml of ConfigMap {name!r} ({rel.where}) does not load: {exc}") from None


def _release_url(rel: Release, prefix: str, port: int) -> str:
    """The UI's address: the release's Ingress host, else the port-forward that reaches it."""
    from kubernetes import client

    ingresses: list[Any] = rel._call("list Ingresses", lambda: client.NetworkingV1Api(rel.api).list_namespaced_ingress(
        rel.namespace, label_selector=rel.selector())).items
    for ingress in ingresses:
        for rule in ingress.spec.rules or []:
            if rule.host:
                scheme = "https" if ingress.spec.tls else "http"
                return f"{scheme}://{rule.host}/"
    return (f"http://localhost:{port}/ (after `kubectl port-forward -n {rel.namespace} svc/{prefix}-api-server "
            f"{port}:{port}`)")
