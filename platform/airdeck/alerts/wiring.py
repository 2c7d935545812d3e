"""How alerting plugs into the platform: Airflow settings, airflow_local_settings.py and the service.

* :func:`airflow_settings` is the ``config/render.py`` contributor. It renders
  ``$AIRFLOW_HOME/config/airflow_local_settings.py`` (Airflow puts that folder on ``sys.path`` in
  every process) with the cluster policies of :mod:`airdeck.alerts.policy`.
* :func:`service` is the ``alert-dispatcher`` service of the local stack.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airdeck.config.model import AirdeckConfig
    from airdeck.stack.services import Service
    from airdeck.state.home import AirdeckHome
    from airdeck.state.secrets import SecretStore

SERVICE = "alert-dispatcher"
LOCAL_SETTINGS_HEADER = ("# Rendered by airdeck from airdeck.yaml (alerts). "
                         "Do not edit: it is rewritten at every start.\n")


def dispatcher_url(cfg: AirdeckConfig) -> str:
    host = cfg.alerts.dispatcher.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    return f"http://{host}:{cfg.alerts.dispatcher.port}"


def policy_config(cfg: AirdeckConfig) -> dict[str, Any]:
    alerts = cfg.alerts
    if not alerts.enabled:
        return {"slas": [], "dispatcher_url": ""}
    slas = [{"dag_id": s.dag_id, "tags": s.tags, "owners": s.owners, "after": s.after,
             "within_seconds": s.within.total_seconds()} for s in alerts.slas]
    return {"slas": slas, "dispatcher_url": dispatcher_url(cfg), "nudge_on_failure": True}


def local_settings_source(cfg: AirdeckConfig) -> str:
    document = json.dumps(policy_config(cfg), sort_keys=True)
    return (LOCAL_SETTINGS_HEADER +
            "# Cluster policies: SLAs become Deadline Alerts (dag_policy); failures wake the alert dispatcher.\n"
            "from airdeck.alerts.policy import make_policies\n\n"
            f"dag_policy, task_policy = make_policies({document!r})\n")


def local_settings_path(home: AirdeckHome) -> Path:
    return home.airflow_home / "config" / "airflow_local_settings.py"


def write_local_settings(cfg: AirdeckConfig, home: AirdeckHome) -> Path:
    path = local_settings_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = local_settings_source(cfg)
    if not path.exists() or path.read_text(encoding="utf-8") != source:
        tmp = path.with_suffix(".py.tmp")
        tmp.write_text(source, encoding="utf-8")
        tmp.replace(path)
    return path


def airflow_settings(cfg: AirdeckConfig, home: AirdeckHome, service: str) -> dict[str, dict[str, str]]:
    """Contributor for config/render.py: renders the cluster policies; no airflow.cfg keys are needed."""
    write_local_settings(cfg, home)
    return {}


def settings_file(home: AirdeckHome) -> Path:
    return home.service_dir(SERVICE) / "dispatcher.json"


def write_dispatcher_settings(cfg: AirdeckConfig, home: AirdeckHome, secrets: SecretStore) -> Path:
    from airdeck.config.render import database_url
    from airdeck.state.secrets import write_private

    api = cfg.api_server
    tls = getattr(cfg, "tls", None)
    scheme = "https" if getattr(tls, "enabled", False) else "http"
    internal = f"{scheme}://127.0.0.1:{api.port}" if api.host in ("0.0.0.0", "127.0.0.1", "::") else (  # noqa: S104
        f"{scheme}://{api.host}:{api.port}")
    document = {
        "alerts": cfg.alerts.model_dump(mode="json"),
        "database_url": database_url(cfg, secrets),
        "api_url": internal,
        "public_url": api.public_url(),
        "admin_username": cfg.admin.username,
        "secrets_dir": str(home.secrets),
        "verify": _ca_file(cfg, home) if scheme == "https" else True,
    }
    path = settings_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(document, indent=2))
    return path


def _ca_file(cfg: AirdeckConfig, home: AirdeckHome) -> str | bool:
    try:
        from airdeck.tls.settings import ca_file
    except ImportError:
        return True
    found = ca_file(cfg, home)
    return str(found) if found else True


def service(cfg: AirdeckConfig, home: AirdeckHome, secrets: SecretStore, wave: int, env: dict[str, str]) -> Service:
    """The alert-dispatcher service: its own wave after the workers, healthy when /healthz says so."""
    from airdeck.stack.services import Service, airflow_env
    from airdeck.stack.supervisor import Program

    if home.root.exists():
        write_dispatcher_settings(cfg, home, secrets)
    program_env = {**airflow_env(home, "cli"), **env, "_AIRFLOW_PROCESS_CONTEXT": "server"}
    argv = [sys.executable, "-m", "airdeck.alerts.dispatcher", "--settings", str(settings_file(home))]
    url = dispatcher_url(cfg)
    return Service(SERVICE, "alert-dispatcher", wave, Program(SERVICE, argv, program_env, priority=400),
                   partial(_healthz, url), f"{url}/metrics")


def _healthz(url: str) -> Any:
    import urllib.error
    import urllib.request

    from airdeck.stack.health import Health

    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:  # noqa: S310 - loopback
            return Health(response.status == 200, response.read(200).decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return Health(False, exc.read(200).decode(errors="replace") or f"HTTP {exc.code}")
    except OSError as exc:
        return Health(False, f"no answer at {url}/healthz: {exc}")
