"""The auth concern: FAB sign-in settings on every Airflow component, ``webserver_config.py``, and
the check that Airflow would really load that file."""

from __future__ import annotations

from airdeck.auth import webserver_config
from airdeck.auth.settings import auth_airflow_settings
from airdeck.plan.concern import Check, Concern, Phase, PlanContext, Runtime
from airdeck.plan.model import FileSpec, Settings


class AuthConcern(Concern):
    name = "auth"

    def settings(self, ctx: PlanContext, component: str) -> Settings:
        return auth_airflow_settings(ctx.cfg)

    def files(self, ctx: PlanContext) -> list[FileSpec]:
        return [FileSpec(str(ctx.home.webserver_config), webserver_config.render(ctx.cfg), mode=0o600)]

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
