"""How a concern (auth, secrets, metrics, alerts, …) plugs into the platform: one class, one place.

A concern subclasses :class:`Concern` and overrides what it adds; ``airdeck.concerns`` lists the
concerns, and nothing else names them. The plan asks each concern, in that order, for

* ``settings``: non-secret Airflow settings of one Airflow component, and ``secret_settings``
  (settings whose values are secrets, by reference);
* ``components``: components it adds (the metrics bridge, the alert dispatcher, …);
* ``files``: files every component shares (``webserver_config.py``, ``airflow_local_settings.py``);
* ``env``: environment of one component (e.g. OpenTelemetry's ``OTEL_*``);
* ``secret_sources``: secrets it derives from the configuration and other secrets;
* ``preflight``: checks with I/O that a target runs before starting anything (``before_start``), or
  once the database answers and before any Airflow component (``before_airflow``).

CLI commands live in ``airdeck.cli.commands`` (one module per command group), not here: the CLI is
the layer above every target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from airdeck.plan.model import Component, Deployment, FileSpec, SecretSetting, Settings

if TYPE_CHECKING:
    from airdeck.config.model import AirdeckConfig
    from airdeck.plan.endpoints import Endpoints
    from airdeck.state.home import AirdeckHome
    from airdeck.state.secrets import SecretStore

#: A secret derived from the configuration and other secrets: ``f(cfg, home, lookup) -> value``.
SecretSource = Callable[["AirdeckConfig", "AirdeckHome", Callable[[str], str]], str]


@dataclass(frozen=True)
class PlanContext:
    """What a concern sees while the plan is built (all pure data)."""

    cfg: AirdeckConfig
    home: AirdeckHome
    endpoints: Endpoints
    api_ca_file: str | None = None  # the CA clients verify an https api-server with (from the concerns' settings)


class Runtime(Protocol):
    """What a target offers a concern at run time (preflight checks, Fernet rotation, …)."""

    cfg: AirdeckConfig
    home: AirdeckHome
    secrets: SecretStore  # where generated secrets live (a Vault-backed store when Vault holds them)

    @property
    def deployment(self) -> Deployment:
        """The plan being applied."""

    def secret(self, name: str) -> str:
        """The value of a secret (generated ones, derived ones such as ``database_url``)."""

    def say(self, message: str) -> None:
        """Show progress to the person running the command."""

    def airflow_cli(self, *args: str) -> tuple[int, str]:
        """Run ``airflow ARGS…`` against this platform; (exit code, combined output)."""

    def airflow_components(self) -> list[str]:
        """Names of this platform's Airflow components, in start order."""

    def restart(self, components: list[str]) -> None:
        """Stop these components and start them again in dependency order, each health-gated.
        Components that are not running stay stopped; secrets and files are rendered afresh first."""


Phase = Literal["before_start", "before_airflow"]
Check = Callable[[Runtime], None]


class Concern:
    """A part of the platform that adds settings, components, files and checks. Override what applies."""

    name: str = ""

    def settings(self, ctx: PlanContext, component: str) -> Settings:
        return {}

    def secret_settings(self, ctx: PlanContext, component: str) -> list[SecretSetting]:
        return []

    def env(self, ctx: PlanContext, component: str) -> Mapping[str, str]:
        return {}

    def components(self, ctx: PlanContext) -> list[Component]:
        return []

    def files(self, ctx: PlanContext) -> list[FileSpec]:
        return []

    def secret_sources(self) -> Mapping[str, SecretSource]:
        return {}

    def preflight(self, phase: Phase) -> list[Check]:
        return []
