"""The secrets concern's hooks into rendering and start-up (Vault, TLS, the Fernet check)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airdeck.config.model import AirdeckConfig
from airdeck.secrets import fernet, vault
from airdeck.state.home import AirdeckHome
from airdeck.tls import settings as tls_settings

if TYPE_CHECKING:
    from airdeck.stack.orchestrator import Stack


def contribute(cfg: AirdeckConfig, home: AirdeckHome, service: str) -> dict[str, dict[str, str]]:
    """``config/render.py`` contributor: VaultBackend and HTTPS settings of one service."""
    out: dict[str, dict[str, str]] = {}
    for part in (vault.contribute(cfg, home, service), tls_settings.contribute(cfg, home, service)):
        for section, options in part.items():
            out.setdefault(section, {}).update(options)
    return out


def before_start(stack: Stack) -> None:
    """Before anything starts: Vault answers and signs in, certificate files exist and match."""
    vault.check_reachable(stack.cfg, stack.home)
    message = tls_settings.prepare(stack.cfg, stack.home)
    if message:
        stack.console.print(f"[green]✓[/] {message}")


def before_airflow(stack: Stack) -> None:
    """After the database is up, before any Airflow service: the Fernet key decrypts what is stored."""
    fernet.check_before_start(stack)
