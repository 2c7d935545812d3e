"""The secrets concern: Airflow's VaultBackend on every component, the Vault check before start, and
the Fernet check once the database answers (a key that cannot decrypt stored values stops the start)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from airdeck.config.model import AirdeckConfig
from airdeck.plan.concern import Check, Concern, Phase, PlanContext, Runtime, SecretSource
from airdeck.plan.model import SecretRef, SecretSetting, Settings
from airdeck.secrets import fernet, vault
from airdeck.state.home import AirdeckHome

BACKEND_KWARGS = "vault_backend_kwargs"


def _backend_kwargs(cfg: AirdeckConfig, home: AirdeckHome, lookup: Callable[[str], str]) -> str:
    return json.dumps(vault.backend_kwargs(cfg, home), sort_keys=True)


class SecretsConcern(Concern):
    name = "secrets"

    def settings(self, ctx: PlanContext, component: str) -> Settings:
        if ctx.cfg.secrets.backend != "vault":
            return {}
        if vault.uses_backend(component):
            return {"secrets": {"backend": vault.VAULT_BACKEND}}
        # Celery workers: task processes resolve connections through [workers] secrets_backend first.
        return {"workers": {"secrets_backend": vault.VAULT_BACKEND}}

    def secret_settings(self, ctx: PlanContext, component: str) -> list[SecretSetting]:
        if ctx.cfg.secrets.backend != "vault":
            return []
        ref = SecretRef(BACKEND_KWARGS)
        if vault.uses_backend(component):
            return [SecretSetting("secrets", "backend_kwargs", ref)]
        return [SecretSetting("workers", "secrets_backend_kwargs", ref)]

    def secret_sources(self) -> Mapping[str, SecretSource]:
        return {BACKEND_KWARGS: _backend_kwargs}

    def preflight(self, phase: Phase) -> list[Check]:
        if phase == "before_start":
            return [check_vault]
        return [fernet.check_before_airflow]


def check_vault(runtime: Runtime) -> None:
    vault.check_reachable(runtime.cfg, runtime.home)
