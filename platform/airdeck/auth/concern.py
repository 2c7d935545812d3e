"""The auth concern: FAB sign-in settings on every Airflow component, ``webserver_config.py``, and
the check that Airflow would really load that file."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from airdeck.auth import webserver_config
from airdeck.auth.settings import auth_airflow_settings
from airdeck.config.model import AirdeckConfig
from airdeck.plan.concern import Check, Concern, Phase, PlanContext, Runtime, SecretSource
from airdeck.plan.model import FileSpec, SecretRef, Settings
from airdeck.state.home import AirdeckHome


def _ldap_bind_password(cfg: AirdeckConfig, home: AirdeckHome, lookup: Callable[[str], str]) -> str:
    """The service account's password from ``auth.ldap.bind_password_env``, read by the process that renders
    the platform's files (``airdeck up``, ``airdeck run``). Empty when that process does not have the variable:
    under ``airdeck up`` the auth concern's preflight check has refused that already, naming the variable; in
    a container only the api-server needs it (and has it in its own environment too)."""
    ldap = cfg.auth.ldap
    if ldap is None or ldap.bind_password_env is None:
        return ""
    return os.environ.get(ldap.bind_password_env, "")


class AuthConcern(Concern):
    name = "auth"

    def settings(self, ctx: PlanContext, component: str) -> Settings:
        return auth_airflow_settings(ctx.cfg)

    def files(self, ctx: PlanContext) -> list[FileSpec]:
        # The service account's password from an environment variable reaches the api-server through the
        # 0600 webserver_config.py, never through supervisord.conf, argv or every service's environment.
        needs = webserver_config.needs_bind_password(ctx.cfg)
        refs = (SecretRef(webserver_config.BIND_PASSWORD_SECRET),) if needs else ()
        return [FileSpec(str(ctx.home.webserver_config), webserver_config.render(ctx.cfg), secrets=refs,
                         quote="json", mode=0o600)]

    def secret_sources(self) -> Mapping[str, SecretSource]:
        return {webserver_config.BIND_PASSWORD_SECRET: _ldap_bind_password}

    def preflight(self, phase: Phase) -> list[Check]:
        return [check_webserver_config] if phase == "before_start" else []


def check_webserver_config(runtime: Runtime) -> None:
    """Refuse to start when the rendered webserver_config.py would be ignored or cannot load."""
    deployment = runtime.deployment
    airflow = [c for c in (*deployment.components, deployment.cli) if c is not None and c.airflow]
    fab_config_files = {c.name: c.settings.get("fab", {}).get("config_file", "") for c in airflow}
    path = str(runtime.home.webserver_config)
    text = next(spec.content for spec in deployment.files if spec.path == path)
    webserver_config.check(runtime.cfg, runtime.home, text, fab_config_files)
