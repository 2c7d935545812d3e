"""Workers hold no platform keys (issue 13, finding 9), on a real stack.

Under root, without ``workers.run_as_root_reason``, the workers run as ``airdeck-worker`` (on their own
copy of the interpreter when the original is out of that user's reach, as here). A DAG task on a Celery
worker tries to read every platform key (state-folder files, environment, its
airflow.cfg, Airflow's configuration) and to mint an admin API token with whatever it found; it gets
no key and every token is refused, while a token signed with the real key is accepted (so the check
can fail). Celery results live in the broker now: a broker killed with -9 mid-run loses no result.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from airdeck.plan.build import WORKER_SYSTEM_USER, interpreter_blocker

from tests.harness import AIRDECK, REPO, Stack, new_home, remove_home, write_config

pytestmark = pytest.mark.stack

FIXTURE_DAGS = Path(__file__).parent / "dags"
#: The platform keys a worker must not get (log_fetch_key and the broker password it needs).
KEYS = ("fernet_key", "jwt_secret", "jwt_private_key", "api_secret_key", "admin_password", "database_password")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The DAG folder must be readable by the workers' own user (tests run as root): not under pytest's 0700 tmp.
    dags = Path(tempfile.mkdtemp(prefix="airdeck-dags-", dir="/tmp"))
    dags.chmod(0o755)
    for source in FIXTURE_DAGS.glob("*.py"):
        shutil.copy(source, dags / source.name)
        (dags / source.name).chmod(0o644)
    folder = tmp_path_factory.mktemp("workerkeys")
    config = write_config(folder, {"airflow": {"dags_folder": str(dags)}})
    # No workers.run_as_root_reason: under root the workers must run as their own user even though the
    # interpreter here lives under /root (pyenv), through their own copy of it (stack.runtime).
    data = yaml.safe_load(config.read_text())
    data["workers"].pop("run_as_root_reason", None)
    config.write_text(yaml.safe_dump(data))
    running = Stack(new_home(), config)
    try:
        up = subprocess.run([*AIRDECK, "up", "--detach"], env=running.env(), cwd=REPO,
                            capture_output=True, text=True, timeout=900, check=False)
        assert up.returncode == 0, up.stdout + up.stderr
        running.up_output = up.stdout + up.stderr  # type: ignore[attr-defined]
        yield running
    finally:
        running.airdeck("down", check=False, timeout=300)
        remove_home(running.home)
        shutil.rmtree(dags, ignore_errors=True)


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().encode()).hexdigest()


def _xcom(stack: Stack, dag_id: str, run_id: str, task_id: str) -> Any:
    response = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
    response.raise_for_status()
    value = response.json()["value"]
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return ast.literal_eval(value)
    return value


def _admin_token_signed_with_the_real_key(stack: Stack, claims: dict[str, Any]) -> tuple[str, str]:
    """(token, kid): what only a holder of the private key can produce."""
    from airflow.api_fastapi.auth.tokens import JWTGenerator

    pem = (stack.home / "secrets" / "jwt_private_key").read_bytes()
    generator = JWTGenerator(private_key=pem, valid_for=300, audience=claims["aud"], issuer=claims["iss"],
                             algorithm="EdDSA")
    return generator.generate({"sub": "1"}), generator.kid


def test_a_task_gets_no_platform_key_and_cannot_mint_a_token(stack: Stack) -> None:
    claims = jwt.decode(stack.token(), options={"verify_signature": False})
    control, kid = _admin_token_signed_with_the_real_key(stack, claims)
    assert stack.api("GET", "/dags").status_code == 200
    accepted = httpx.get(f"{stack.base_url}/api/v2/dags", headers={"Authorization": f"Bearer {control}"}, timeout=30)
    assert accepted.status_code == 200, "a token signed with the real key is accepted: the check below can fail"

    run_id = stack.trigger("worker_key_probe", {"api": stack.base_url, "aud": claims["aud"], "iss": claims["iss"],
                                                "kid": kid})
    assert stack.wait_for_run("worker_key_probe", run_id, timeout=300) == "success"
    report = _xcom(stack, "worker_key_probe", run_id, "try_the_keys")
    print("\nwhat the task tried:", json.dumps({k: report[k] for k in ("user", "files", "options", "key_file",
                                                                      "answers")}, indent=1))

    # Every token the task minted is refused.
    assert report["answers"] and all(code in (401, 403) for code in report["answers"].values()), report["answers"]
    # No platform key reached the task: not in a file it could read, its environment, its airflow.cfg or conf.
    seen = {d for digests in report["found"].values() for d in digests}
    for name in KEYS:
        value = (stack.home / "secrets" / name).read_text()
        assert _digest(value) not in seen, f"the task found {name}: " + ", ".join(
            where for where, digests in report["found"].items() if _digest(value) in digests)
    assert report["options"]["core.fernet_key"] == "empty"
    assert report["options"]["api_auth.jwt_secret"] == "empty"
    assert report["options"]["api_auth.jwt_private_key_path"] == "empty"
    assert report["key_file"] == "not configured"
    assert not {o for o in report["own_options"] if o in ("core.fernet_key", "database.sql_alchemy_conn",
                                                           "api_auth.jwt_secret", "api_auth.jwt_private_key_path")}
    assert report["options"]["celery.result_backend"] == "set"  # the broker, not the database
    if os.geteuid() == 0:
        # Under root the workers run as their own system user: the state folder's secrets are unreadable.
        assert "the workers run as root" not in stack.up_output  # type: ignore[attr-defined]
        assert report["user"] == pwd.getpwnam(WORKER_SYSTEM_USER).pw_uid
        if interpreter_blocker() is not None:  # the case of this machine: they run the runtime's copy
            runtime = stack.home / "runtime"
            said = " ".join(stack.up_output.split())  # type: ignore[attr-defined] # rich wraps long notes
            assert f"a copy of the Python interpreter in {runtime}" in said, said
            assert report["executable"].startswith(str(runtime)), report["executable"]
        assert all(outcome in ("permission denied", "missing") for outcome in report["files"].values()), \
            report["files"]
        assert report["files"]["secrets/jwt_private_key"] == "permission denied"
        assert report["files"]["services/api-server/jwt_private_key.pem"] == "permission denied"


def _pid(stack: Stack, name: str) -> int | None:
    return {s["name"]: s for s in stack.status()["services"]}[name]["pid"]


def test_results_survive_a_broker_killed_mid_run(stack: Stack) -> None:
    n, seconds = 12, 4
    started = time.monotonic()
    baseline = stack.trigger("results_across_broker_restart", {"n": n, "seconds": seconds})
    assert stack.wait_for_run("results_across_broker_restart", baseline, timeout=600) == "success"
    baseline_s = time.monotonic() - started

    started = time.monotonic()
    run_id = stack.trigger("results_across_broker_restart", {"n": n, "seconds": seconds})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # kill while tasks run
        if any(ti["state"] == "running" for ti in stack.task_instances("results_across_broker_restart", run_id)):
            break
        time.sleep(1)
    old = _pid(stack, "valkey")
    assert old is not None
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    while time.monotonic() < killed + 120:
        svc = {s["name"]: s for s in stack.status()["services"]}["valkey"]
        if svc["pid"] not in (None, old) and svc["health"] == "healthy":
            break
        time.sleep(0.5)
    back_s = time.monotonic() - killed
    assert stack.wait_for_run("results_across_broker_restart", run_id, timeout=900) == "success"
    total_s = time.monotonic() - started
    tis = stack.task_instances("results_across_broker_restart", run_id)
    assert _xcom(stack, "results_across_broker_restart", run_id, "total") == sum(range(n))
    retried = [ti for ti in tis if ti["try_number"] > 1]
    print(f"\nresult backend in the broker: baseline run {baseline_s:.1f}s; valkey back {back_s:.1f}s after kill -9;"
          f" run with the kill {total_s:.1f}s; {len(retried)} of {len(tis)} task instances retried")
