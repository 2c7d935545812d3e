"""Secrets by name: which exist, how derived ones are built, and how a target resolves references.

The plan never holds a secret's value, only :class:`~airdeck.plan.model.SecretRef` names. A target
resolves them with a :class:`SecretResolver` over its own source of base secrets (the state folder's
generated files locally, mounted files in a container) plus the derivations the core and the concerns
declare (``database_url`` from ``database.url`` or the embedded server's password, …).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote

from airdeck.config.masking import MASK, mask_url, normalise_url
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.plan.concern import SecretSource
from airdeck.plan.endpoints import LOOPBACK
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import GENERATED

#: Secrets that are URLs: shown with only their password masked.
URL_SECRETS = ("database_url", "broker_url")


class MissingSecretError(AirdeckError):
    """A component needs a secret its target cannot provide."""


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL with the psycopg (v3) driver named explicitly, as SQLAlchemy 2.1 wants it."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme == "postgresql" else url


def libpq_url(url: str) -> str:
    """The same URL in the form libpq (psycopg.connect) accepts."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


def _database_url(cfg: AirdeckConfig, home: AirdeckHome, lookup: Callable[[str], str]) -> str:
    if cfg.database.url is not None:
        return normalise_url(sqlalchemy_url(cfg.database.url.get_secret_value()))
    password = quote(lookup("database_password"), safe="*")
    return f"postgresql+psycopg://airflow:{password}@{LOOPBACK}:{cfg.database.embedded.port}/airflow"


def _broker_url(cfg: AirdeckConfig, home: AirdeckHome, lookup: Callable[[str], str]) -> str:
    if cfg.broker.url is not None:
        return normalise_url(cfg.broker.url.get_secret_value())
    password = quote(lookup("broker_password"), safe="*")
    return f"redis://:{password}@{LOOPBACK}:{cfg.broker.embedded.port}/0"


#: Secrets the core derives; concerns add theirs through ``Concern.secret_sources``.
CORE_SOURCES: Mapping[str, SecretSource] = {"database_url": _database_url, "broker_url": _broker_url}


class SecretResolver:
    """Resolves secret names for one target: base secrets first, then derivations.

    ``base(name)`` returns a value or raises KeyError when this target has no such base secret."""

    def __init__(self, cfg: AirdeckConfig, home: AirdeckHome, base: Callable[[str], str],
                 sources: Mapping[str, SecretSource], where: str = "the state folder", generates: bool = True):
        self.cfg = cfg
        self.home = home
        self._base = base
        self._sources = sources
        self._where = where
        self._generates = generates  # the base is a state folder that `airdeck up` fills (else: mounted files)
        self._cache: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self._cache:
            self._cache[name] = self._resolve(name)
        return self._cache[name]

    def forget(self) -> None:
        self._cache.clear()

    def _resolve(self, name: str) -> str:
        try:
            return self._base(name)
        except KeyError:
            pass
        source = self._sources.get(name)
        if source is None:
            if name in GENERATED and self._generates:
                raise MissingSecretError(f"no secret {name!r} in {self._where} yet: airdeck generates it at the "
                                         "first `airdeck up` with this state folder ($AIRDECK_HOME or --home); "
                                         "is the platform running there (`airdeck status`)?")
            raise MissingSecretError(f"no secret {name!r} in {self._where}; mount or write it there as a file "
                                     f"named {name} (mode 0400 or 0440)")
        return source(self.cfg, self.home, self)

    def masked(self, name: str) -> str:
        """What to show instead of the secret: URLs keep their non-secret parts, the rest is ``***``."""
        if name in URL_SECRETS and name in self._sources:
            try:
                return mask_url(self._sources[name](self.cfg, self.home, lambda _name: MASK))
            except (AirdeckError, ValueError):
                return MASK
        return MASK


__all__ = ["MASK", "URL_SECRETS", "MissingSecretError", "SecretResolver", "libpq_url", "mask_url", "sqlalchemy_url"]
