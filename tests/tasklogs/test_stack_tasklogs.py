"""Remote task logs on a running platform, once per emulator (moto S3, fake-gcs-server, Azurite).

One platform home serves the module: `airdeck up` with a bad destination fails before any Airflow
component and leaves nothing running (every other failure mode of the check, per emulator, is in
test_probe.py, which runs the same check in seconds); then the same home is started with each destination in turn
(`down`, new airdeck.yaml, `up`: a destination change needs a restart). For each: a DAG prints a unique
marker; the object exists under the expected key with the marker; the local log file is gone
(delete_local_after_upload); the REST API and `airdeck logs --task` return the marker (it exists only
in the store by then). Last, a second platform sharing the database but not the log folder reads the
Azure copy. The connection reaches the platform as an AIRFLOW_CONN_* environment variable; its secret
never appears in any log, argv or output. The upload delay (task end → object present) is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from tests.harness import Stack, alive, new_home, remove_home, stack_pids, write_config
from tests.tasklogs import emulators
from tests.tasklogs.emulators import Emulator

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.timeout(1800)]

DAGS = Path(__file__).parent / "dags"
#: The test DAG only; one task slot; a short graceful stop (each destination needs a down and an up).
FAST: dict[str, Any] = {"airflow": {"dags_folder": str(DAGS)}, "workers": {"concurrency": 1},
                        "supervision": {"stop_timeout": "10s"}}
DAG_ID, TASK_ID = "tasklog_marker", "say"


class LogStack(Stack):
    """A stack whose airdeck commands see the connection in their environment (as a user's shell would)."""

    conns: dict[str, str]

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update({f"AIRFLOW_CONN_{name.upper()}": value for name, value in self.conns.items()})
        return env

    def configure(self, logging: dict[str, Any], conns: dict[str, str]) -> None:
        settings = yaml.safe_load(self.config.read_text())
        settings["logging"] = logging
        self.config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        self.settings = settings
        self.conns = conns
        self._token = None


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogStack]:
    folder = tmp_path_factory.mktemp("tasklogs")
    config = write_config(folder, FAST)
    stack = LogStack(new_home(), config)
    stack.conns = {}
    try:
        yield stack
    finally:
        stack.airdeck("down", check=False, timeout=300)
        remove_home(stack.home)


def _uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _everything_written(stack: LogStack) -> str:
    """Every service log, generated file and process command line of the stack, for secret checks."""
    texts = []
    for path in stack.home.rglob("*"):
        if path.is_file() and path.stat().st_size < 20_000_000 and "data" not in path.relative_to(stack.home).parts[:1]:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    for pid in stack_pids(stack.home):
        try:
            texts.append(" ".join(psutil.Process(pid).cmdline()))
        except psutil.Error:
            continue
    return "\n".join(texts)


def _run_marker(stack: LogStack) -> tuple[str, str, dict[str, Any]]:
    marker = uuid.uuid4().hex
    run_id = stack.trigger(DAG_ID, conf={"marker": marker})
    assert stack.wait_for_run(DAG_ID, run_id, timeout=300) == "success"
    ti = next(t for t in stack.task_instances(DAG_ID, run_id) if t["task_id"] == TASK_ID)
    return marker, run_id, ti


def _relative_log_path(run_id: str) -> str:
    return f"dag_id={DAG_ID}/run_id={run_id}/task_id={TASK_ID}/attempt=1.log"


def _wait_for(fetch: Callable[[], tuple[bytes, datetime] | None], timeout: float = 60) -> tuple[bytes, datetime]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fetch()
        if found is not None:
            return found
        time.sleep(0.5)
    raise AssertionError("the task log object did not appear in the store")


def _check_read_back(stack: LogStack, marker: str, run_id: str, source: str, emulator: Emulator) -> None:
    local = stack.home / "logs" / "airflow" / _relative_log_path(run_id)
    deadline = time.monotonic() + 30
    while local.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not local.exists(), f"{local} was not deleted after the upload"
    response = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/logs/1",
                         params={"full_content": "true"})
    assert response.status_code == 200, response.text
    body = response.text
    assert f"MARKER {marker}" in body
    assert source in body, body[:2000]  # the source Airflow names is the store (the local file is gone)
    printed = stack.airdeck("logs", "--task", DAG_ID, TASK_ID, "--run", run_id)
    assert f"MARKER {marker}" in printed.stdout
    written = _everything_written(stack)
    for secret in emulator.secrets:
        assert secret not in written and secret not in printed.stdout + printed.stderr


def _delay(ti: dict[str, Any], stored_at: datetime) -> float:
    end = datetime.fromisoformat(ti["end_date"].replace("Z", "+00:00"))
    return (stored_at - end).total_seconds()


# ---------------------------------------------------------------------------------------------- tests
def test_bad_bucket_stops_up_before_any_airflow_component(platform: LogStack, moto: Emulator) -> None:
    platform.configure({"remote": "s3://no-such-bucket-for-logs/airflow", "connection": "aws_logs"},
                       {"aws_logs": emulators.s3_connection(moto)})
    result = platform.airdeck("up", "--detach", check=False, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "task log destination s3://no-such-bucket-for-logs/airflow" in output
    assert "NoSuchBucket" in output and "AIRFLOW_CONN_AWS_LOGS" in output
    for secret in moto.secrets:
        assert secret not in output
    assert "api-server healthy" not in output
    assert not alive(stack_pids(platform.home)), "processes left after a failed start"
    assert not list((platform.home / "logs").glob("api-server*")), "an Airflow component was started"


DELAYS: dict[str, float] = {}


def test_s3(platform: LogStack, moto: Emulator) -> None:
    bucket = _uniq("logs")
    client = emulators.s3_client(moto)
    client.create_bucket(Bucket=bucket)
    platform.configure({"remote": f"s3://{bucket}/airflow", "connection": "aws_logs",
                        "delete_local_after_upload": True}, {"aws_logs": emulators.s3_connection(moto)})
    platform.airdeck("up", "--detach", timeout=900)
    marker, run_id, ti = _run_marker(platform)
    key = f"airflow/{_relative_log_path(run_id)}"

    def fetch() -> tuple[bytes, datetime] | None:
        try:
            obj = client.get_object(Bucket=bucket, Key=key)
        except client.exceptions.NoSuchKey:
            return None
        return obj["Body"].read(), obj["LastModified"]

    body, stored_at = _wait_for(fetch)
    assert marker.encode() in body
    DELAYS["s3"] = _delay(ti, stored_at)
    _check_read_back(platform, marker, run_id, f"s3://{bucket}/{key}", moto)
    platform.airdeck("down", timeout=300)


def test_gcs(platform: LogStack, fake_gcs: Emulator) -> None:
    bucket = _uniq("logs")
    client = emulators.gcs_client(fake_gcs)
    client.create_bucket(bucket)
    platform.configure({"remote": f"gs://{bucket}/airflow", "connection": "gcp_logs", "endpoint": fake_gcs.url,
                        "delete_local_after_upload": True}, {"gcp_logs": emulators.gcs_connection()})
    platform.airdeck("up", "--detach", timeout=900)
    marker, run_id, ti = _run_marker(platform)
    key = f"airflow/{_relative_log_path(run_id)}"

    def fetch() -> tuple[bytes, datetime] | None:
        blob = client.bucket(bucket).get_blob(key)
        return None if blob is None else (blob.download_as_bytes(), blob.updated)

    body, stored_at = _wait_for(fetch)
    assert marker.encode() in body
    DELAYS["gcs"] = _delay(ti, stored_at)
    _check_read_back(platform, marker, run_id, f"gs://{bucket}/{key}", fake_gcs)
    platform.airdeck("down", timeout=300)


def test_azure_and_a_second_platform_reads_it(platform: LogStack, azurite: Emulator,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    container = _uniq("logs")
    client = emulators.azure_client(azurite)
    client.create_container(container)
    logging = {"remote": f"wasb://{container}@{emulators.AZURE_ACCOUNT}/airflow", "connection": "azure_logs",
               "delete_local_after_upload": True}
    conns = {"azure_logs": emulators.azure_connection(azurite)}
    platform.configure(logging, conns)
    platform.airdeck("up", "--detach", timeout=900)
    marker, run_id, ti = _run_marker(platform)
    key = f"airflow/{_relative_log_path(run_id)}"

    def fetch() -> tuple[bytes, datetime] | None:
        blob = client.get_blob_client(container, key)
        if not blob.exists():
            return None
        return blob.download_blob().readall(), blob.get_blob_properties().last_modified

    body, stored_at = _wait_for(fetch)
    assert marker.encode() in body
    DELAYS["azure"] = _delay(ti, stored_at)
    _check_read_back(platform, marker, run_id, f"{azurite.url}/{container}/", azurite)

    # A second platform: its own home (log folder), broker and ports; the first one's database.
    password = (platform.home / "secrets" / "database_password").read_text().strip()
    pg_port = platform.settings["database"]["embedded"]["port"]
    folder = tmp_path_factory.mktemp("second")
    config = write_config(folder, {**FAST, "logging": logging, "database": {
        "url": f"postgresql+psycopg://airflow:{password}@127.0.0.1:{pg_port}/airflow"}})
    second = LogStack(new_home(), config)
    second.conns = conns
    (second.home / "secrets").mkdir(parents=True, mode=0o700)
    for name in ("fernet_key", "admin_password"):  # the same Fernet key and admin account as the first
        shutil.copy2(platform.home / "secrets" / name, second.home / "secrets" / name)
        os.chmod(second.home / "secrets" / name, 0o600)
    try:
        second.airdeck("up", "--detach", timeout=900)
        assert not (second.home / "logs" / "airflow" / f"dag_id={DAG_ID}" / f"run_id={run_id}").exists()
        response = second.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/logs/1",
                              params={"full_content": "true"})
        assert response.status_code == 200 and f"MARKER {marker}" in response.text, response.text[:2000]
    finally:
        second.airdeck("down", check=False, timeout=300)
        remove_home(second.home)
    print("\nupload delay (task end → object present):", json.dumps(DELAYS))
