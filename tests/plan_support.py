"""Test helpers over the deployment plan: one component's settings with its secrets resolved."""

from __future__ import annotations

from airdeck import concerns
from airdeck.config.model import AirdeckConfig
from airdeck.plan.model import Component, Settings
from airdeck.plan.render import with_secrets
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore


def component(cfg: AirdeckConfig, home: AirdeckHome, name: str) -> Component:
    deployment = concerns.plan(cfg, home)
    if name == "cli" and deployment.cli is not None:
        return deployment.cli
    return deployment.component(name)


def settings_of(cfg: AirdeckConfig, home: AirdeckHome, store: SecretStore | None, name: str) -> Settings:
    """What the component's airflow.cfg holds: its settings with every secret filled in."""
    comp = component(cfg, home, name)
    resolve = concerns.resolver(cfg, home, store or SecretStore(home.secrets), generate=True)
    return with_secrets(comp.settings, comp.secret_settings, lambda ref: ref.apply(resolve(ref.name)))
