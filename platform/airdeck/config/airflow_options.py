"""The one list of Airflow options whose values are secrets, and which of them airdeck itself sets.

``config/render.py`` masks these when it shows settings and writes them only into 0600 files;
``airflow.extra_config`` refuses the ones airdeck manages, naming the airdeck.yaml key to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecretOption:
    """An Airflow option holding a secret. ``managed_by`` says what sets it in airdeck (``None``: the
    option may be given in ``airflow.extra_config``, e.g. a secrets backend other than Vault)."""

    section: str
    key: str
    managed_by: str | None


SECRET_OPTION_LIST = (
    SecretOption("core", "fernet_key", "airdeck (a generated key; rotate with `airdeck fernet rotate`)"),
    SecretOption("api_auth", "jwt_secret", "airdeck (a generated secret)"),
    SecretOption("api", "secret_key", "airdeck (a generated secret)"),
    SecretOption("database", "sql_alchemy_conn", "database.url"),
    SecretOption("celery", "broker_url", "broker.url"),
    SecretOption("celery", "result_backend", "database.url"),
    SecretOption("secrets", "backend_kwargs", None),
    SecretOption("workers", "secrets_backend_kwargs", None),
)

#: (section, key) pairs whose values are secrets: masked when shown, only in 0600 files.
SECRET_OPTIONS = frozenset((o.section, o.key) for o in SECRET_OPTION_LIST)

#: (section, key) → what sets it, for the secret options airdeck sets itself.
MANAGED_OPTIONS = {(o.section, o.key): o.managed_by for o in SECRET_OPTION_LIST if o.managed_by is not None}
