"""The concerns of this build of airdeck, in the order their settings apply: the one place that names them.

Targets (``airdeck.stack``, ``airdeck.run``) and the CLI ask this module for the plan, the secret
resolver and the preflight checks; the core (``airdeck.plan``) never names a concern, and a concern
never names another's internals.
"""

from __future__ import annotations

from airdeck.alerts.wiring import AlertsConcern
from airdeck.auth.concern import AuthConcern
from airdeck.backups.concern import BackupsConcern
from airdeck.config.model import AirdeckConfig
from airdeck.dags.concern import DagsConcern
from airdeck.errors import AirdeckError
from airdeck.metrics.wiring import MetricsConcern
from airdeck.plan import build
from airdeck.plan.concern import Check, Concern, Phase, SecretSource
from airdeck.plan.endpoints import Target
from airdeck.plan.model import Deployment
from airdeck.plan.render import masked_settings, to_ini
from airdeck.plan.secrets import CORE_SOURCES, SecretResolver
from airdeck.secrets.concern import SecretsConcern
from airdeck.secrets.vault import secret_store
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore
from airdeck.tasklogs.concern import TaskLogsConcern
from airdeck.tls.concern import TLSConcern

CONCERNS: tuple[Concern, ...] = (AuthConcern(), SecretsConcern(), TLSConcern(), AlertsConcern(), MetricsConcern(),
                                 DagsConcern(), TaskLogsConcern(), BackupsConcern())


def plan(cfg: AirdeckConfig, home: AirdeckHome, target: Target | None = None) -> Deployment:
    """The deployment of ``cfg`` (on the local target unless another is given). Writes nothing."""
    return build.plan(cfg, home, target or Target.local(), CONCERNS)


def secret_sources() -> dict[str, SecretSource]:
    sources: dict[str, SecretSource] = dict(CORE_SOURCES)
    for concern in CONCERNS:
        sources.update(concern.secret_sources())
    return sources


def local_store(cfg: AirdeckConfig, home: AirdeckHome) -> SecretStore:
    """The state folder's secrets (Vault-backed for the platform keys when Vault holds them)."""
    return secret_store(cfg, home)


def resolver(cfg: AirdeckConfig, home: AirdeckHome, store: SecretStore, *, generate: bool) -> SecretResolver:
    """Secrets of the local target. ``generate=False`` (status, checks) never creates a secret."""
    base = store.get if generate else store.read
    return SecretResolver(cfg, home, base, secret_sources(), where=str(store.folder))


def preflight(phase: Phase) -> list[Check]:
    return [check for concern in CONCERNS for check in concern.preflight(phase)]


def masked_config(cfg: AirdeckConfig, home: AirdeckHome, service: str) -> str:
    """The airflow.cfg of one component as ``airdeck config render`` shows it: secrets masked."""
    deployment = plan(cfg, home)
    airflow = {c.name: c for c in deployment.components if c.airflow}
    if deployment.cli is not None:
        airflow[deployment.cli.name] = deployment.cli
    if service not in airflow:
        error = AirdeckError(f"unknown service {service!r}; services: {', '.join(airflow)}")
        error.exit_code = 2
        raise error
    shown = SecretResolver(cfg, home, _no_base, secret_sources())
    return to_ini(masked_settings(airflow[service], shown.masked))


def _no_base(name: str) -> str:
    raise KeyError(name)


__all__ = ["CONCERNS", "local_store", "masked_config", "plan", "preflight", "resolver", "secret_sources"]
