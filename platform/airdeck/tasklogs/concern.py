"""The task logs concern: Airflow's remote logging settings on every Airflow component, the
``log-retention`` component, and the check of the destination before any Airflow component starts.

Why the check runs ``before_airflow`` and not ``before_start``: ``logging.connection`` may live in the
metadata database (Airflow resolves connections from the environment, then Vault, then the database),
and with the embedded PostgreSQL the database answers only once the first wave (PostgreSQL, Valkey,
metrics bridge) is up. ``before_airflow`` is the first moment all three sources answer and still
before any Airflow component starts, so no task can run and no task log can be written; a failure
there stops what was started and ``airdeck up`` exits non-zero.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping

from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.plan.build import API_SERVER
from airdeck.plan.concern import Check, Concern, Phase, PlanContext, Runtime
from airdeck.plan.model import Component, Settings
from airdeck.state.childenv import AIRFLOW_PREFIXES, WORKLOAD_IDENTITY_NAMES, child_env
from airdeck.state.home import AirdeckHome
from airdeck.tasklogs import settings as task_settings

RETENTION = "log-retention"
PROBE_TIMEOUT = 120


class TaskLogDestinationError(AirdeckError):
    """The remote task log destination refused the probe or could not be reached."""


class TaskLogsConcern(Concern):
    name = "tasklogs"

    def settings(self, ctx: PlanContext, component: str) -> Settings:
        return task_settings.airflow_settings(ctx.cfg)

    def env(self, ctx: PlanContext, component: str) -> Mapping[str, str]:
        return task_settings.environment(ctx.cfg)

    def components(self, ctx: PlanContext) -> list[Component]:
        if ctx.cfg.logging.retention is None or ctx.endpoints.kubernetes:
            # On Kubernetes each pod has its own log volume: the sweep belongs in a sidecar of the pods
            # that write task logs (retention_component's argv), not in a Deployment of its own.
            return []
        return [retention_component(ctx.cfg, ctx.home)]

    def preflight(self, phase: Phase) -> list[Check]:
        return [check_destination] if phase == "before_airflow" else []


def retention_component(cfg: AirdeckConfig, home: AirdeckHome) -> Component:
    logging = cfg.logging
    assert logging.retention is not None
    argv = (sys.executable, "-m", "airdeck.tasklogs.retention", "--folder", str(home.task_logs),
            "--max-age", str(int(logging.retention.total_seconds())),
            "--every", str(int(logging.retention_interval.total_seconds())))
    # Nothing waits for it: it starts with the last wave, after the api-server.
    return Component(RETENTION, "log-retention", argv, env={"PYTHONUNBUFFERED": "1"}, start_secs=1,
                     depends_on=(API_SERVER,))


def check_destination(runtime: Runtime) -> None:
    """Write, read and delete a probe object at ``logging.remote`` as the platform's Airflow would."""
    cfg = runtime.cfg
    location = cfg.logging.location
    if location is None:
        return
    cli = runtime.deployment.cli
    # The environment of a one-off Airflow command of this platform: what the components get (the allow-list
    # of airdeck.state.childenv, AIRFLOW_CONN_* included), plus the CLI component's own, plus the pod's
    # workload identity (IRSA, AKS Workload Identity): a container's Airflow keeps its whole environment.
    env = child_env(names=WORKLOAD_IDENTITY_NAMES, prefixes=AIRFLOW_PREFIXES,
                    extra=cli.env if cli is not None else None)
    argv = [sys.executable, "-m", "airdeck.tasklogs.probe", "--conn-id", task_settings.conn_id(cfg)]
    if location.account:
        argv += ["--account", location.account]
    where = f"task log destination {location.url} (logging.remote)"
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise TaskLogDestinationError(f"{where}: no answer within {PROBE_TIMEOUT}s; is the store reachable?") from None
    result = _result(done.stdout)
    if result is None:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise TaskLogDestinationError(f"{where}: the check could not run (exit {done.returncode}): {tail}")
    if not result.get("ok"):
        raise TaskLogDestinationError(
            f"{where}, credentials: {result.get('source')}: {result.get('error')}. "
            "Nothing was started; fix the destination or its connection and run airdeck up again.")
    runtime.say(f"{where} writable and readable with {result.get('source')} ({result.get('seconds')}s)")


def _result(stdout: str) -> dict[str, object] | None:
    for line in stdout.splitlines():
        if line.startswith("AIRDECK-PROBE "):
            try:
                data = json.loads(line[len("AIRDECK-PROBE "):])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None
