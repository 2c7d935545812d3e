"""Where the workers' and triggerer's task logs live on Kubernetes: the pod's emptyDir with a size limit
(workers.logs.sizeLimit, triggerer.logs.sizeLimit), the log-retention sidecar (airdeck.logging.retention)
run from its rendered command as a process on a folder of old and new log files, and the headless
Services that keep a draining pod's DNS record (publishNotReadyAddresses) so its logs stay readable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helm.chart import named, render


def _pod(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return dict(named(objects, kind, name)["spec"]["template"]["spec"])


@pytest.mark.parametrize(("kind", "name", "key", "default"), [
    ("StatefulSet", "airdeck-worker", "workers", "20Gi"), ("StatefulSet", "airdeck-triggerer", "triggerer", "4Gi")])
def test_task_log_volume_has_a_size_limit(kind: str, name: str, key: str, default: str) -> None:
    home = next(v for v in _pod(render({}), kind, name)["volumes"] if v["name"] == "home")
    assert home == {"name": "home", "emptyDir": {"sizeLimit": default}}
    home = next(v for v in _pod(render({key: {"logs": {"sizeLimit": "50Gi"}}}), kind, name)["volumes"]
                if v["name"] == "home")
    assert home["emptyDir"] == {"sizeLimit": "50Gi"}
    scheduler = next(v for v in _pod(render({}), "Deployment", "airdeck-scheduler")["volumes"] if v["name"] == "home")
    assert scheduler["emptyDir"] == {}, "components that write no task logs keep an unbounded small emptyDir"


def test_retention_sidecar_follows_airdeck_logging_retention() -> None:
    for name in ("airdeck-worker", "airdeck-triggerer"):
        names = [c["name"] for c in _pod(render({}), "StatefulSet", name)["containers"]]
        assert names[1:] == ["log-retention"], name
        off = _pod(render({"airdeck": {"logging": {"retention": None}}}), "StatefulSet", name)
        assert [c["name"] for c in off["containers"]] == [name.removeprefix("airdeck-")]
    assert [c["name"] for c in _pod(render({}), "Deployment", "airdeck-api-server")["containers"]] == ["api-server"]


def test_the_rendered_retention_sidecar_removes_old_task_logs(tmp_path: Path) -> None:
    values = {"airdeck": {"logging": {"retention": "7d", "retention_interval": "1h"}}}
    sidecar = next(c for c in _pod(render(values), "StatefulSet", "airdeck-worker")["containers"]
                   if c["name"] == "log-retention")
    home = tmp_path / "home"
    tries = home / "logs" / "airflow" / "dag_id=d" / "run_id=r" / "task_id=t"
    tries.mkdir(parents=True)
    old, new = tries / "attempt=1.log", tries / "attempt=2.log"
    old.write_text("old try\n")
    new.write_text("new try\n")
    month = time.time() - 30 * 86400
    os.utime(old, (month, month))
    outside = tmp_path / "outside.log"  # not under the folder: never touched
    outside.write_text("x")
    os.utime(outside, (month, month))
    argv = [str(a).replace("/opt/airdeck/home", str(home)) for a in [*sidecar["command"], *sidecar["args"]]]
    assert argv[0] == "python"
    argv[0] = sys.executable
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **{e["name"]: e["value"] for e in sidecar["env"]}})
    try:
        deadline = time.monotonic() + 60
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not old.exists(), "the file older than the retention was not removed"
        assert new.read_text() == "new try\n" and outside.exists()
        assert proc.poll() is None, "the sidecar keeps running between sweeps"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out  # SIGTERM ends it cleanly
    assert "files older than 604800s, every 3600s" in out


def test_headless_log_services_keep_draining_pods_records() -> None:
    objects = render({})
    for name in ("airdeck-worker", "airdeck-triggerer"):
        service = named(objects, "Service", name)["spec"]
        assert service["clusterIP"] == "None" and service["publishNotReadyAddresses"] is True, name


@pytest.mark.parametrize(("values_key", "component"), [("workers", "worker"), ("triggerer", "triggerer")])
def test_task_logs_on_a_claim_per_pod(values_key: str, component: str) -> None:
    """<component>.persistence: a claim "logs" per pod (volumeClaimTemplates), mounted over the task log
    folder in the component's container and its retention sidecar; the emptyDir keeps the rest of home."""
    objects = render({values_key: {"persistence": {"enabled": True, "size": "20Gi", "storageClassName": "gp3"}}})
    sts = next(o for o in objects if o["kind"] == "StatefulSet"
               and o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == component)
    assert sts["metadata"]["name"].startswith(f"airdeck-{component}-")
    assert sts["spec"]["serviceName"] == f"airdeck-{component}"  # the pods' DNS names keep their Service
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "logs"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                             "resources": {"requests": {"storage": "20Gi"}}}
    containers = sts["spec"]["template"]["spec"]["containers"]
    for container in containers:
        if container["name"] in (component, "log-retention"):
            assert {"name": "logs", "mountPath": "/opt/airdeck/home/logs"} in container["volumeMounts"]
    assert not any(v["name"] == "logs" for v in sts["spec"]["template"]["spec"]["volumes"])
    off = next(o for o in render({}) if o["kind"] == "StatefulSet" and o["metadata"]["name"] == f"airdeck-{component}")
    assert "volumeClaimTemplates" not in off["spec"]
