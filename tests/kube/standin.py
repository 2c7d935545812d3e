"""A Kubernetes API stand-in for `airdeck --target kubernetes`: a real HTTP server (aiohttp) speaking the
part of the REST API the commands use, loaded with the chart's rendered objects, recording every call.

What it serves: pods (list by label selector, one pod), Secrets (get, merge-patch), ConfigMaps,
Deployments and StatefulSets (list, get, patch), Jobs and Ingresses (list), and ``pods/exec`` over a
websocket in the ``v4.channel.k8s.io`` protocol (stdout on channel 1, stderr on 2, the exit status as a
``Status`` on 3), as the official client's ``stream`` speaks it. Pods are made from the workloads'
templates and reported Running and Ready unless a test says otherwise. An exec'd command really runs
here, as a kubelet would run it in the container: the pod's Secret volume written as files (0440), its
ConfigMap as airdeck.yaml, its environment with ``secretKeyRef`` values resolved, container paths mapped
to folders of the test.

What it cannot prove: authentication plugins and TLS of real clusters, admission, RBAC beyond the
refusals a test sets up (``forbid``), the rollout controllers (a restart annotation does not replace
pods), image contents and the container's user and file system.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from tests.harness import free_port

TOKEN = "standin-token-0c9d"
V4 = "v4.channel.k8s.io"

Runner = Callable[[dict[str, Any], list[str]], tuple[int, str, str]]


@dataclass
class Call:
    verb: str
    resource: str
    name: str | None
    namespace: str
    query: dict[str, list[str]]
    body: Any = None


def _merge(target: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7386): None deletes."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


@dataclass
class StandIn:
    folder: Path
    namespace: str = "airflow"
    calls: list[Call] = field(default_factory=list)
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # resource → name → object
    forbid: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource) answered 403
    env: dict[str, str] = field(default_factory=dict)  # extra environment of exec'd commands (PATH, PYTHONPATH)
    port: int = 0

    # ------------------------------------------------------------------ objects
    def load(self, rendered: list[dict[str, Any]], secrets: dict[str, str] | None = None) -> None:
        """The chart's rendered objects; ``secrets``: Secret name → value of its one key, overriding."""
        kinds = {"Secret": "secrets", "ConfigMap": "configmaps", "Deployment": "deployments",
                 "StatefulSet": "statefulsets", "Job": "jobs", "Ingress": "ingresses"}
        for obj in rendered:
            resource = kinds.get(obj["kind"])
            if resource is None:
                continue
            obj = copy.deepcopy(obj)
            obj["metadata"]["namespace"] = self.namespace
            obj["metadata"].setdefault("generation", 1)
            obj["metadata"].setdefault("creationTimestamp", "2026-12-07T00:00:00Z")
            if obj["kind"] == "Secret":
                data = dict(obj.get("data") or {})
                for key, value in (obj.pop("stringData", None) or {}).items():
                    data[key] = base64.b64encode(str(value).encode()).decode()
                override = (secrets or {}).get(obj["metadata"]["name"])
                if override is not None:
                    data = {k: base64.b64encode(override.encode()).decode() for k in data}
                obj["data"] = data
            self.objects.setdefault(resource, {})[obj["metadata"]["name"]] = obj
            if obj["kind"] in ("Deployment", "StatefulSet"):
                replicas = obj["spec"].get("replicas", 1)
                obj["status"] = {"replicas": replicas, "readyReplicas": replicas, "updatedReplicas": replicas,
                                 "observedGeneration": 1}
                for i in range(replicas):
                    suffix = str(i) if obj["kind"] == "StatefulSet" else f"5d8f7-{i}x{len(obj['metadata']['name'])}"
                    self.add_pod(f"{obj['metadata']['name']}-{suffix}", obj["spec"]["template"])
            if obj["kind"] == "Job":
                self.add_pod(f"{obj['metadata']['name']}-zq4kd", obj["spec"]["template"], phase="Succeeded")

    def add_pod(self, name: str, template: dict[str, Any], phase: str = "Running", ready: bool = True) -> None:
        spec = copy.deepcopy(template["spec"])
        containers = [{"name": c["name"], "ready": ready and phase == "Running", "restartCount": 0,
                       "image": c.get("image", "airdeck"), "imageID": "",
                       "state": {"running": {}} if phase == "Running" else
                       {"terminated": {"exitCode": 0, "reason": "Completed"}}} for c in spec["containers"]]
        self.objects.setdefault("pods", {})[name] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": self.namespace,
                         "labels": dict(template["metadata"].get("labels") or {})},
            "spec": spec,
            "status": {"phase": phase, "containerStatuses": containers,
                       "conditions": [{"type": "Ready", "status": "True" if ready and phase == "Running"
                                       else "False"}]}}

    def set_pod(self, name: str, phase: str, ready: bool, waiting: tuple[str, str] | None = None,
                restarts: int = 0) -> None:
        pod = self.objects["pods"][name]
        pod["status"]["phase"] = phase
        pod["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
        for status in pod["status"]["containerStatuses"]:
            status["ready"] = ready
            status["restartCount"] = restarts
            if waiting is not None:
                status["state"] = {"waiting": {"reason": waiting[0], "message": waiting[1]}}

    def pods_of(self, component: str) -> list[str]:
        return sorted(n for n, p in self.objects.get("pods", {}).items()
                      if p["metadata"]["labels"].get("app.kubernetes.io/component") == component)

    def secret_value(self, name: str, key: str) -> str:
        return base64.b64decode(self.objects["secrets"][name]["data"][key]).decode()

    def kubeconfig(self, context: str = "standin", namespace: str | None = None, token: str = TOKEN) -> Path:
        path = self.folder / f"kubeconfig-{context}"
        ctx: dict[str, Any] = {"cluster": "standin", "user": "operator"}
        if namespace:
            ctx["namespace"] = namespace
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "standin", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
            "users": [{"name": "operator", "user": {"token": token}}],
            "contexts": [{"name": context, "context": ctx}]}))
        path.chmod(0o600)
        return path

    def calls_of(self, verb: str, resource: str) -> list[Call]:
        return [c for c in self.calls if c.verb == verb and c.resource == resource]

    # ------------------------------------------------------------------ exec, as a kubelet
    def run_in(self, pod: dict[str, Any], container: str, argv: list[str], stdin: str | None = None
               ) -> tuple[int, str, str]:
        """Run ``argv`` as the container would: its Secret volume and ConfigMap as files, its environment."""
        spec = pod["spec"]
        box = next(c for c in spec["containers"] if c["name"] == container)
        root = self.folder / "pods" / pod["metadata"]["name"]
        mounts: dict[str, Path] = {}
        for mount in box.get("volumeMounts", []):
            local = root / mount["name"]
            local.mkdir(parents=True, exist_ok=True, mode=0o700)
            mounts[mount["mountPath"]] = local
            volume = next(v for v in spec.get("volumes", []) if v["name"] == mount["name"])
            mode = volume.get("projected", {}).get("defaultMode", 0o644)
            for source in volume.get("projected", {}).get("sources", []):
                secret = self.objects["secrets"][source["secret"]["name"]]
                for item in source["secret"]["items"]:
                    path = local / item["path"]
                    path.write_bytes(base64.b64decode(secret["data"][item["key"]]))
                    path.chmod(mode)
            if "configMap" in volume:
                data = self.objects["configmaps"][volume["configMap"]["name"]]["data"]
                for key, value in data.items():
                    (local / key).write_text(value)

        def local(value: str) -> str:
            for where, folder in sorted(mounts.items(), key=lambda m: -len(m[0])):
                if value == where or value.startswith(where + "/"):
                    return str(folder) + value[len(where):]
            return value

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.env}
        for entry in box.get("env", []):
            if "value" in entry:
                env[entry["name"]] = local(str(entry["value"]))
            elif "secretKeyRef" in entry.get("valueFrom", {}):
                ref = entry["valueFrom"]["secretKeyRef"]
                env[entry["name"]] = base64.b64decode(self.objects["secrets"][ref["name"]]["data"][ref["key"]]).decode()
        command = [str(mounts[a]) if a in mounts else a for a in argv]  # a mount named in argv: its folder
        if command[0] == "airdeck":
            command = [sys.executable, "-m", "airdeck.cli.main", *command[1:]]
        done = subprocess.run(command, env=env, input=stdin or "", capture_output=True, text=True, check=False,
                              timeout=600)
        return done.returncode, done.stdout, done.stderr

    # ------------------------------------------------------------------ HTTP
    def _forbidden(self, verb: str, resource: str) -> web.Response | None:
        if (verb, resource) not in self.forbid:
            return None
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                                  "code": 403, "message": f'{resource} is forbidden: User "operator" cannot {verb} '
                                  f'resource "{resource}" in the namespace "{self.namespace}"'}, status=403)

    @staticmethod
    def _not_found(resource: str, name: str) -> web.Response:
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                  "code": 404, "message": f'{resource} "{name}" not found'}, status=404)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"kind": "Status", "status": "Failure", "code": 401, "reason": "Unauthorized",
                                      "message": "Unauthorized"}, status=401)
        parts = request.path.strip("/").split("/")
        # /api/v1/namespaces/NS/RES[/NAME[/SUB]] or /apis/GROUP/VERSION/namespaces/NS/RES[/NAME]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if len(rest) < 3 or rest[0] != "namespaces":
            return web.json_response({"kind": "Status", "code": 404, "message": "not served"}, status=404)
        namespace, resource = rest[1], rest[2]
        name = rest[3] if len(rest) > 3 else None
        sub = rest[4] if len(rest) > 4 else None
        query = {k: request.query.getall(k) for k in request.query}
        body = await request.json() if request.method == "PATCH" else None
        verb = {"GET": "get" if name else "list", "PATCH": "patch"}.get(request.method, request.method.lower())
        if sub == "exec":
            verb, resource = "create", "pods/exec"
        self.calls.append(Call(verb, resource, name, namespace, query, body))
        refused = self._forbidden(verb, resource)
        if refused is not None:
            return refused
        kind = "pods" if sub == "exec" else resource
        found = self.objects.get(kind, {}) if namespace == self.namespace else {}
        if sub == "exec":
            return await self._exec(request, found.get(name or ""), query)
        if name is None:
            items = [o for o in found.values() if _matches(o["metadata"].get("labels") or {},
                                                            request.query.get("labelSelector"))]
            return web.json_response({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items})
        if name not in found:
            return self._not_found(resource, name)
        if request.method == "PATCH":
            found[name] = _merge(found[name], body)
            found[name]["metadata"]["generation"] = found[name]["metadata"].get("generation", 1) + (
                1 if "spec" in (body or {}) else 0)
            status = found[name].get("status")
            if isinstance(status, dict) and "observedGeneration" in status:
                status["observedGeneration"] = found[name]["metadata"]["generation"]
        return web.json_response(found[name])

    async def _exec(self, request: web.Request, pod: dict[str, Any] | None, query: dict[str, list[str]]
                    ) -> web.StreamResponse:
        if pod is None:
            return self._not_found("pods", request.path.split("/")[-2])
        ws = web.WebSocketResponse(protocols=(V4,))
        await ws.prepare(request)
        container = (query.get("container") or [pod["spec"]["containers"][0]["name"]])[0]
        stdin: str | None = None
        if (query.get("stdin") or ["false"])[0].lower() == "true":  # channel 0: what the client writes first
            message = await ws.receive(timeout=60)
            data = message.data if isinstance(message.data, str) else bytes(message.data).decode()
            if not data or data[0] != "\x00":
                raise RuntimeError(f"stdin frame expected on channel 0, got {data[:1]!r}")
            stdin = data[1:]
            self.calls[-1].body = {"stdin_bytes": len(stdin)}  # recorded by size: it may be a password
        code, out, err = await asyncio.get_running_loop().run_in_executor(
            None, self.run_in, pod, container, query.get("command", []), stdin)
        if out:
            await ws.send_bytes(b"\x01" + out.encode())
        if err:
            await ws.send_bytes(b"\x02" + err.encode())
        status: dict[str, Any] = {"metadata": {}, "status": "Success"} if code == 0 else {
            "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": f"command terminated with non-zero exit code: error executing command, exit status {code}",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        await ws.send_bytes(b"\x03" + json.dumps(status).encode())
        await ws.close()
        return ws

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.port = free_port()
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self.handle)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            ready.set()

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the Kubernetes API stand-in did not start")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


