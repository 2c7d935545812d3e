"""Run the chart's pods as local processes: what a kubelet would do, on one machine.

For one rendered pod: its volumes become folders under a temporary root (a ConfigMap's keys and a
projected Secret's or ConfigMap's items become files, an emptyDir an empty folder), every container's
command, args and env are taken as rendered with the mount paths remapped under that root, and the process starts
inside a mount namespace whose /etc/hosts resolves the release's Service names to 127.0.0.1 (the part
of Kubernetes DNS the platform uses). Probes run as rendered: httpGet against 127.0.0.1 and the
container port, exec in the same namespace and environment as the container.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

VENV_BIN = str(Path(sys.executable).parent)


def unshare_prefix(hosts: Path) -> list[str]:
    """The command prefix that runs a process with ``hosts`` as its /etc/hosts, nothing else changed:
    a private mount namespace (as root; otherwise in a user namespace mapped to root)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("unshare (util-linux) is needed to give the pods their own /etc/hosts")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return [unshare, *user, "--mount", "--propagation", "private", "--", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts)]


def hosts_file(folder: Path, names: list[str]) -> Path:
    """This machine's /etc/hosts plus every Service name of the release on 127.0.0.1."""
    path = folder / "hosts"
    base = Path("/etc/hosts").read_text(encoding="utf-8")
    path.write_text(base.rstrip("\n") + "\n# the release's Services\n"
                    + "".join(f"127.0.0.1 {name}\n" for name in names), encoding="utf-8")
    return path


@dataclass
class LocalPod:
    """One rendered pod, laid out under ``root``."""

    manifest: dict[str, Any]
    root: Path
    configmaps: dict[str, dict[str, str]]
    secrets: dict[str, dict[str, str]]  # Secret name -> key -> value (what the cluster would hold)
    prefix: list[str]
    mounts: dict[str, Path] = field(default_factory=dict)  # mountPath in the pod -> folder here
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def spec(self) -> dict[str, Any]:
        kind = self.manifest["kind"]
        return dict(self.manifest["spec"] if kind == "Pod" else self.manifest["spec"]["template"]["spec"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    def lay_out(self) -> None:
        volumes = {v["name"]: v for v in self.spec.get("volumes", [])}
        if self.manifest["kind"] == "StatefulSet":  # a new claim of volumeClaimTemplates is an empty folder
            volumes.update({c["metadata"]["name"]: {"emptyDir": {}}
                            for c in self.manifest["spec"].get("volumeClaimTemplates", [])})
        for container in [*self.spec.get("initContainers", []), *self.spec["containers"]]:
            for mount in container.get("volumeMounts", []):
                path = mount["mountPath"]
                if path in self.mounts:
                    continue
                folder = self.root / path.lstrip("/")
                folder.mkdir(parents=True, exist_ok=True)
                self.mounts[path] = folder
                self._fill(volumes[mount["name"]], folder)

    def _fill(self, volume: dict[str, Any], folder: Path) -> None:
        if "configMap" in volume:
            for key, value in self.configmaps[volume["configMap"]["name"]].items():
                (folder / key).write_text(value, encoding="utf-8")
        elif "projected" in volume:
            mode = volume["projected"].get("defaultMode", 0o644)
            for source in volume["projected"]["sources"]:
                if "secret" in source:
                    kind, held = "secret", self.secrets
                elif "configMap" in source:
                    kind, held = "configMap", self.configmaps
                else:
                    continue  # service-account tokens: no API server here
                data = held[source[kind]["name"]]
                for item in source[kind]["items"]:
                    target = folder / item["path"]
                    target.write_text(data[item["key"]] + "\n", encoding="utf-8")
                    target.chmod(mode)
        elif "emptyDir" not in volume:
            raise AssertionError(f"{self.name}: volume kind not laid out here: {volume}")

    def remap(self, value: str) -> str:
        for path in sorted(self.mounts, key=len, reverse=True):
            if value == path or value.startswith(path + "/"):
                return str(self.mounts[path]) + value[len(path):]
        return value

    def environment(self, container: dict[str, Any]) -> dict[str, str]:
        env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # the checkout's airdeck, as the image has it
        for item in container.get("env", []):
            if "valueFrom" in item:  # only Secret keys (Airflow connections), as the kubelet resolves them
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = self.secrets[ref["name"]][ref["key"]]
                continue
            env[item["name"]] = self.remap(str(item["value"]))
        return env

    def argv(self, command: list[str]) -> list[str]:
        argv = [self.remap(str(a)) for a in command]
        found = shutil.which(argv[0], path=f"{VENV_BIN}:/usr/bin:/bin:/usr/sbin")
        assert found, f"{self.name}: {argv[0]} not found"
        return [*self.prefix, found, *argv[1:]]

    def container_argv(self, container: dict[str, Any]) -> list[str]:
        return self.argv([*container.get("command", []), *container.get("args", [])])

    def run_init(self, log: Path, timeout: float = 300) -> None:
        for container in self.spec.get("initContainers", []):
            with log.open("ab") as out:
                done = subprocess.run(self.container_argv(container), env=self.environment(container), stdout=out,
                                      stderr=subprocess.STDOUT, timeout=timeout, check=False)
            assert done.returncode == 0, f"{self.name}: init container {container['name']} exit " \
                                         f"{done.returncode}:\n{log.read_text()[-3000:]}"

    def start(self, log: Path) -> None:
        for container in self.spec["containers"]:
            out = log.open("ab")
            self.procs.append(subprocess.Popen(self.container_argv(container), env=self.environment(container),
                                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True))

    def probe(self, container: dict[str, Any], probe: dict[str, Any]) -> tuple[bool, str]:
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = get["port"]
            if isinstance(port, str):
                port = next(p["containerPort"] for p in container["ports"] if p["name"] == port)
            url = f"{get.get('scheme', 'HTTP').lower()}://127.0.0.1:{port}{get['path']}"
            try:
                response = httpx.get(url, timeout=probe.get("timeoutSeconds", 1), verify=False)  # noqa: S501
            except httpx.HTTPError as exc:
                return False, f"GET {url}: {exc}"
            return 200 <= response.status_code < 400, f"GET {url}: {response.status_code}"
        if "exec" in probe:
            done = subprocess.run(self.argv(probe["exec"]["command"]), env=self.environment(container),
                                  capture_output=True, text=True, timeout=probe.get("timeoutSeconds", 1) + 30,
                                  check=False)
            return done.returncode == 0, f"exec exit {done.returncode}: {(done.stdout + done.stderr)[-600:]}"
        if "tcpSocket" in probe:
            port = probe["tcpSocket"]["port"]
            if isinstance(port, str):
                port = next(p["containerPort"] for p in container["ports"] if p["name"] == port)
            try:
                with socket.create_connection(("127.0.0.1", int(port)), timeout=probe.get("timeoutSeconds", 1)):
                    return True, f"connect 127.0.0.1:{port}: open"
            except OSError as exc:
                return False, f"connect 127.0.0.1:{port}: {exc}"
        raise AssertionError(f"unknown probe {probe}")

    def pss(self) -> int:
        """PSS in bytes of every process of this pod (the container's process tree)."""
        total = 0
        for proc in self.procs:
            try:
                root = psutil.Process(proc.pid)
                for p in [root, *root.children(recursive=True)]:
                    total += p.memory_full_info().pss
            except psutil.Error:
                continue
        return total

    def stop(self, grace: float = 30) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, 15)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, 9)
                except ProcessLookupError:
                    pass
                proc.wait(10)
