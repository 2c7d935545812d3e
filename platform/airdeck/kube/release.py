"""One Helm release of the airdeck chart, reached through the Kubernetes API (the official client).

Its objects are found by Helm's labels (``app.kubernetes.io/instance=RELEASE``, the component in
``app.kubernetes.io/component``); a command runs inside a component's container through the
``pods/exec`` stream. Every failure of the API becomes one :class:`KubeError` naming the release,
the namespace and the kubeconfig context, and what to do.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.stream import stream

from airdeck.errors import AirdeckError

#: Helm's label of a release's objects, and the chart's label of a component.
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"

#: Where the chart mounts a pod's secret files, as `airdeck run --secrets-dir` reads them.
SECRETS_VOLUME = "secrets"

#: Seconds a command run inside a container may take.
EXEC_TIMEOUT = 900.0

T = TypeVar("T")


class KubeError(AirdeckError):
    """The release cannot be reached or read; the message names it and says what to do."""

    exit_code = 1


@dataclass(frozen=True)
class Exec:
    """What a command run inside a container gave back."""

    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Where:
    """The release, its namespace and the kubeconfig context, as messages name them."""

    release: str
    namespace: str
    context: str

    def __str__(self) -> str:
        return f"release {self.release!r} in namespace {self.namespace!r} (kubeconfig context {self.context!r})"


def connect(release: str, namespace: str | None = None, context: str | None = None,
            kubeconfig: str | None = None) -> Release:
    """The release, through the kubeconfig (``$KUBECONFIG`` or ~/.kube/config) and its context."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except ConfigException as exc:
        raise KubeError(f"cannot read the kubeconfig ({kubeconfig or '$KUBECONFIG or ~/.kube/config'}): {exc}; "
                        "fix it or point $KUBECONFIG at a working one (`kubectl config view` shows it)") from None
    except (OSError, ValueError, TypeError, AttributeError, KeyError, yaml.YAMLError) as exc:
        what = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KubeError(f"the kubeconfig ({kubeconfig or '$KUBECONFIG or ~/.kube/config'}) is not a valid "
                        f"kubeconfig ({what}); fix it or point $KUBECONFIG at a working one") from None
    names = [c.get("name") for c in contexts or []]
    chosen = current if context is None else next((c for c in contexts or [] if c.get("name") == context), None)
    if chosen is None:
        raise KubeError(f"no context {context!r} in the kubeconfig; contexts: {', '.join(map(str, names)) or 'none'} "
                        "(--context NAME)")
    name = str(chosen.get("name"))
    ns = namespace or (chosen.get("context") or {}).get("namespace") or "default"
    try:
        api = config.new_client_from_config(config_file=kubeconfig, context=name)
    except (ConfigException, OSError, ValueError, TypeError, AttributeError, KeyError, yaml.YAMLError) as exc:
        raise KubeError(f"the kubeconfig's context {name!r} cannot be used: {exc}; fix its cluster and user "
                        "entries (`kubectl config view`)") from None
    api.configuration.retries = 1
    return Release(api, Where(release, ns, name))


class Release:
    """The objects of one release and the commands run in its containers."""

    def __init__(self, api: client.ApiClient, where: Where):
        self.api = api
        self.where = where
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.batch = client.BatchV1Api(api)

    @property
    def namespace(self) -> str:
        return self.where.namespace

    # ------------------------------------------------------------------ errors for people
    def _call(self, doing: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except ApiException as exc:
            raise KubeError(self._api_error(doing, exc)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            host = self.api.configuration.host
            raise KubeError(f"cannot reach the Kubernetes API at {host} to {doing} for {self.where}: "
                            f"{_reason(exc)}; check that the cluster runs and is reachable from here (VPN, "
                            f"firewall) and that --context is right (`kubectl --context {self.where.context} "
                            f"get pods -n {self.namespace}`)") from None

    def _api_error(self, doing: str, exc: ApiException) -> str:
        status = exc.status
        if not status:  # the exec websocket's handshake: "Handshake status 403 Forbidden -+-+- {headers} -+-+- body"
            found = re.search(r"Handshake status (\d{3})", str(exc.reason or ""))
            status = int(found.group(1)) if found else status
        if status == 401:
            return (f"the Kubernetes API refused the credentials of context {self.where.context!r} (401) when trying "
                    f"to {doing} for {self.where}; sign in again (e.g. refresh the cloud CLI's token)")
        if status == 403:
            return (f"the Kubernetes API forbids your account to {doing} in namespace {self.namespace!r} "
                    f"(403, context {self.where.context!r}, {self.where}); ask for a Role there allowing it "
                    "(docs/cloud.md lists what `--target kubernetes` needs)")
        if status == 404:
            return f"not found while trying to {doing} for {self.where} (404): {_api_message(exc)}"
        return f"the Kubernetes API answered {status} when trying to {doing} for {self.where}: {_api_message(exc)}"

    # ------------------------------------------------------------------ reading
    def selector(self, component: str | None = None) -> str:
        labels = f"{INSTANCE}={self.where.release}"
        return f"{labels},{COMPONENT}={component}" if component else labels

    def pods(self, component: str | None = None) -> list[Any]:
        found = self._call("list pods", lambda: self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector(component))).items
        return sorted(found, key=lambda p: p.metadata.name)

    def require(self) -> list[Any]:
        """Every pod of the release; an error saying how to find it when there is none."""
        pods = self.pods()
        if not pods:
            raise KubeError(f"no {self.where}: nothing is labelled {INSTANCE}={self.where.release}. Check the "
                            f"name with `helm list -n {self.namespace}` (or `helm list -A`) and pass --release "
                            "NAME --namespace NS")
        return pods

    def running_pod(self, component: str) -> Any:
        """A ready pod of ``component`` (its readiness says it serves); errors name what is there."""
        pods = self.pods(component)
        if not pods:
            self.require()
            raise KubeError(f"{self.where} has no {component} pod (label {COMPONENT}={component}); is the "
                            f"component enabled? `kubectl get pods -n {self.namespace} -l {self.selector()}`")
        ready = [p for p in pods if p.status and p.status.phase == "Running" and _ready(p)]
        if not ready:
            raise KubeError(f"no {component} pod of {self.where} is running and ready "
                            f"({', '.join(p.metadata.name for p in pods)}); see `airdeck --target kubernetes "
                            f"--release {self.where.release} status`")
        return ready[0]

    def secret(self, name: str) -> Any:
        return self._call(f"read the Secret {name!r}", lambda: self.core.read_namespaced_secret(name, self.namespace))

    def secret_value(self, name: str, key: str) -> str:
        data = self.secret(name).data or {}
        if key not in data:
            raise KubeError(f"the Secret {name!r} of {self.where} has no key {key!r}; keys: "
                            f"{', '.join(sorted(data)) or 'none'}")
        return base64.b64decode(data[key]).decode("utf-8").strip()

    def patch_secret(self, name: str, data: Mapping[str, str | None], annotations: Mapping[str, str | None]) -> None:
        """Set (or, with None, remove) keys and annotations of a Secret in one request."""
        body = {"metadata": {"annotations": dict(annotations)},
                "data": {k: None if v is None else base64.b64encode(v.encode()).decode("ascii")
                         for k, v in data.items()}}
        self._call(f"update the Secret {name!r}", lambda: self.core.patch_namespaced_secret(name, self.namespace, body))

    def config_map(self, name: str) -> Any:
        return self._call(f"read the ConfigMap {name!r}",
                          lambda: self.core.read_namespaced_config_map(name, self.namespace))

    def jobs(self, component: str) -> list[Any]:
        found = self._call("list Jobs", lambda: self.batch.list_namespaced_job(
            self.namespace, label_selector=self.selector(component))).items
        return sorted(found, key=lambda j: j.metadata.creation_timestamp or 0)

    def workloads(self) -> list[tuple[str, Any]]:
        """The release's Deployments and StatefulSets, as (kind, object)."""
        deployments = self._call("list Deployments", lambda: self.apps.list_namespaced_deployment(
            self.namespace, label_selector=self.selector())).items
        statefulsets = self._call("list StatefulSets", lambda: self.apps.list_namespaced_stateful_set(
            self.namespace, label_selector=self.selector())).items
        return [("Deployment", d) for d in deployments] + [("StatefulSet", s) for s in statefulsets]

    # ------------------------------------------------------------------ changing
    def restart(self, kind: str, name: str, stamp: str) -> None:
        """What `kubectl rollout restart` does: a new pod-template annotation rolls the pods."""
        body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
        if kind == "Deployment":
            self._call(f"restart the Deployment {name!r}",
                       lambda: self.apps.patch_namespaced_deployment(name, self.namespace, body))
        else:
            self._call(f"restart the StatefulSet {name!r}",
                       lambda: self.apps.patch_namespaced_stateful_set(name, self.namespace, body))

    def rolled_out(self, kind: str, name: str) -> bool:
        """Every replica updated and ready, as `kubectl rollout status` waits for."""
        read = self.apps.read_namespaced_deployment if kind == "Deployment" else self.apps.read_namespaced_stateful_set
        obj: Any = self._call(f"read the {kind} {name!r}", lambda: read(name, self.namespace))
        want = obj.spec.replicas if obj.spec.replicas is not None else 1
        status = obj.status
        if (status.observed_generation or 0) < (obj.metadata.generation or 0):
            return False
        if kind == "StatefulSet" and status.update_revision and status.current_revision != status.update_revision:
            return False
        return (status.updated_replicas or 0) >= want and (status.ready_replicas or 0) >= want \
            and (status.replicas or 0) <= want

    def wait_rolled_out(self, kind: str, name: str, timeout: float, poll: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.rolled_out(kind, name):
            if time.monotonic() > deadline:
                raise KubeError(f"the {kind} {name!r} of {self.where} did not roll out within {timeout:.0f}s; see "
                                f"`kubectl rollout status -n {self.namespace} {kind.lower()}/{name}`; run the "
                                "command again to resume")
            time.sleep(poll)

    # ------------------------------------------------------------------ running
    def exec(self, pod: Any, argv: Sequence[str], container: str | None = None, stdin: str | None = None,
             timeout: float = EXEC_TIMEOUT) -> Exec:
        """Run ``argv`` in the pod's (first) container through the ``pods/exec`` stream; its exit code and output."""
        name = pod.metadata.name
        container = container or pod.spec.containers[0].name
        with self._exec_errors(name):
            ws = stream(self.core.connect_get_namespaced_pod_exec, name, self.namespace, command=list(argv),
                        container=container, stdin=stdin is not None, stdout=True, stderr=True, tty=False,
                        _preload_content=False)
            try:
                if stdin is not None:
                    ws.write_stdin(stdin)
                out: list[str] = []
                err: list[str] = []
                deadline = time.monotonic() + timeout
                while ws.is_open():
                    ws.update(timeout=1)
                    out.append(ws.read_stdout(timeout=0) if ws.peek_stdout() else "")
                    err.append(ws.read_stderr(timeout=0) if ws.peek_stderr() else "")
                    if time.monotonic() > deadline:
                        raise KubeError(f"{' '.join(argv[:3])} in pod {name} of {self.where} did not finish within "
                                        f"{timeout:.0f}s")
                out.append(ws.read_stdout(timeout=0) if ws.peek_stdout() else "")
                err.append(ws.read_stderr(timeout=0) if ws.peek_stderr() else "")
                code = ws.returncode
            finally:
                ws.close()
        return Exec(code if code is not None else 1, "".join(out), "".join(err))

    @contextmanager
    def _exec_errors(self, pod: str) -> Iterator[None]:
        try:
            yield
        except ApiException as exc:
            raise KubeError(self._api_error(f"run a command in pod {pod} (pods/exec)", exc)) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise KubeError(f"the exec stream of pod {pod} ({self.where}) ended without an exit status "
                            f"({type(exc).__name__}); run the command again") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(f"cannot reach the Kubernetes API at {self.api.configuration.host} to run a command in "
                            f"pod {pod} of {self.where}: {_reason(exc)}") from None


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc).splitlines()[0][:300]


def _api_message(exc: ApiException) -> str:
    body = exc.body or ""
    if not body and " -+-+- " in str(exc.reason or ""):  # a websocket handshake: the body comes last
        body = str(exc.reason).rsplit(" -+-+- ", 1)[-1]
    try:
        return str(json.loads(body or "{}").get("message") or exc.reason)[:500]
    except ValueError:
        return str(exc.reason).split(" -+-+- ")[0][:500]


def mounted_secrets(pod_spec: Any) -> dict[str, tuple[str, str]]:
    """The secret files of a pod template's ``secrets`` volume: file name → (Secret name, key)."""
    found: dict[str, tuple[str, str]] = {}
    for volume in pod_spec.volumes or []:
        if volume.name != SECRETS_VOLUME or volume.projected is None:
            continue
        for source in volume.projected.sources or []:
            if source.secret is None:
                continue
            for item in source.secret.items or []:
                found[item.path] = (source.secret.name, item.key)
    return found


def run_args(pod_spec: Any) -> dict[str, str]:
    """``--release`` and ``--secrets-dir`` of the container's ``airdeck run`` (the chart's runArgs)."""
    args = list(pod_spec.containers[0].args or [])
    return {flag: args[i + 1] for i, flag in enumerate(args[:-1]) if flag in ("--release", "--secrets-dir")}
