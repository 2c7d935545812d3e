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


#: The PEM an issuing component's ``[api_auth] jwt_private_key_path`` file holds (from ``jwt_private_key``).
JWT_SIGNING_PEM = "jwt_signing_pem"


def signing_pem(value: str, where: str = "jwt_private_key") -> str:
    """``jwt_private_key`` as the PKCS#8 PEM of an Ed25519 key.

    The secret is either that PEM (what airdeck and the chart generate) or a random string of at least
    32 characters (what a secret store's password generator gives), whose SHA-256 is the key's seed."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    text = value.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError):
            raise MissingSecretError(f"{where} is not a readable unencrypted PEM private key; create one with "
                                     "`openssl genpkey -algorithm ed25519`") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise MissingSecretError(f"{where} holds a {type(key).__name__.removesuffix('PrivateKey')} key; "
                                     "the platform signs tokens with Ed25519: `openssl genpkey -algorithm ed25519`")
    else:
        if len(text) < 32:
            raise MissingSecretError(f"{where} must be an Ed25519 PEM private key or a random string of at "
                                     f"least 32 characters (it has {len(text)})")
        digest = hashes.Hash(hashes.SHA256())
        digest.update(text.encode("utf-8"))
        key = Ed25519PrivateKey.from_private_bytes(digest.finalize())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _signing_pem(cfg: AirdeckConfig, home: AirdeckHome, lookup: Callable[[str], str]) -> str:
    return signing_pem(lookup("jwt_private_key"))


#: Secrets the core derives; concerns add theirs through ``Concern.secret_sources``.
CORE_SOURCES: Mapping[str, SecretSource] = {"database_url": _database_url, "broker_url": _broker_url,
                                            JWT_SIGNING_PEM: _signing_pem}


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
