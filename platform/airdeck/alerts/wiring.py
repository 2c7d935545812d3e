"""The alerts concern: cluster policies in ``airflow_local_settings.py`` and the alert-dispatcher.

* Every Airflow component loads ``$AIRFLOW_HOME/config/airflow_local_settings.py`` (Airflow puts that
  folder on ``sys.path``); it holds the cluster policies of :mod:`airdeck.alerts.policy`: SLAs become
  Deadline Alerts, failures wake the dispatcher.
* The ``alert-dispatcher`` component (when ``alerts:`` configures channels) reads its settings from
  ``dispatcher.json`` (0600: it holds the metadata database URL) and is healthy when ``/healthz`` is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from airdeck.config.model import AirdeckConfig
from airdeck.plan.concern import Concern, PlanContext
from airdeck.plan.endpoints import Endpoints
from airdeck.plan.model import Component, FileSpec, Probe, SecretRef, placeholder
from airdeck.state.home import AirdeckHome

SERVICE = "alert-dispatcher"
LOCAL_SETTINGS_HEADER = ("# Rendered by airdeck from airdeck.yaml (alerts). "
                         "Do not edit: it is rewritten at every start.\n")


def policy_config(cfg: AirdeckConfig, endpoints: Endpoints) -> dict[str, Any]:
    alerts = cfg.alerts
    if not alerts.enabled:
        return {"slas": [], "dispatcher_url": ""}
    slas = [{"dag_id": s.dag_id, "tags": s.tags, "owners": s.owners, "after": s.after,
             "within_seconds": s.within.total_seconds()} for s in alerts.slas]
    return {"slas": slas, "dispatcher_url": endpoints.dispatcher_url, "nudge_on_failure": True}


def local_settings_source(cfg: AirdeckConfig, endpoints: Endpoints) -> str:
    document = json.dumps(policy_config(cfg, endpoints), sort_keys=True)
    return (LOCAL_SETTINGS_HEADER +
            "# Cluster policies: SLAs become Deadline Alerts (dag_policy); failures wake the alert dispatcher.\n"
            "from airdeck.alerts.policy import make_policies\n\n"
            f"dag_policy, task_policy = make_policies({document!r})\n")


def local_settings_path(home: AirdeckHome) -> Path:
    return home.airflow_home / "config" / "airflow_local_settings.py"


def settings_file(home: AirdeckHome) -> Path:
    return home.service_dir(SERVICE) / "dispatcher.json"


def dispatcher_settings(cfg: AirdeckConfig, home: AirdeckHome, endpoints: Endpoints,
                        api_ca_file: str | None) -> FileSpec:
    """dispatcher.json: the alerts section, the API to read, and the database URL by reference."""
    document = {
        "alerts": cfg.alerts.model_dump(mode="json"),
        "database_url": placeholder("database_url"),
        "api_url": endpoints.api_internal_url,
        "public_url": endpoints.api_public_url,
        "admin_username": cfg.admin.username,
        "grafana_url": cfg.observability.grafana_url,
        "secrets_dir": str(home.secrets),
        "verify": api_ca_file or True,  # https: the CA the api-server's certificate is checked with
    }
    return FileSpec(str(settings_file(home)), json.dumps(document, indent=2), secrets=(SecretRef("database_url"),),
                    quote="json", mode=0o600)


class AlertsConcern(Concern):
    name = "alerts"

    def files(self, ctx: PlanContext) -> list[FileSpec]:
        return [FileSpec(str(local_settings_path(ctx.home)), local_settings_source(ctx.cfg, ctx.endpoints))]

    def components(self, ctx: PlanContext) -> list[Component]:
        cfg, home, ep = ctx.cfg, ctx.home, ctx.endpoints
        if not cfg.alerts.enabled:
            return []
        settings = dispatcher_settings(cfg, home, ep, ctx.api_ca_file)
        env = {"AIRFLOW_HOME": str(home.airflow_home), "AIRFLOW_CONFIG": str(home.service_config("cli")),
               "PYTHONUNBUFFERED": "1", "_AIRFLOW_PROCESS_CONTEXT": "server"}
        argv = (sys.executable, "-m", "airdeck.alerts.dispatcher", "--settings", settings.path)
        url = ep.dispatcher_url
        return [Component(SERVICE, "alert-dispatcher", argv, env=env, depends_on=("api-server",), files=(settings,),
                          ports=(("alerts.dispatcher.port", cfg.alerts.dispatcher.port),),
                          bind_host=ep.dispatcher_bind_host,
                          probe=Probe("http", url=f"{url}/healthz"), url=f"{url}/metrics")]
