"""``secrets:`` in airdeck.yaml: where connections, variables and the platform keys live.

``backend: local`` keeps connections and variables in the metadata database (Fernet-encrypted) and the
platform keys in $AIRDECK_HOME/secrets. ``backend: vault`` adds Airflow's VaultBackend in front of the
database on every service, and can read the Fernet key, ``jwt_secret`` and ``secret_key`` from Vault.
Credentials for Vault (token, AppRole secret_id, Kubernetes JWT) are read from files, never inline.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from airdeck.config.base import Between, Duration, HttpUrl, Section, WholeSeconds, no_inline_credentials

#: Keys that would put a Vault credential into airdeck.yaml, and the file-based key to use instead.
INLINE_SECRET_KEYS = {
    "token": "token_file",
    "secret_id": "secret_id_file",
    "password": "token_file or secret_id_file",
    "jwt": "kubernetes_jwt_file",
    "kubernetes_jwt": "kubernetes_jwt_file",
}

DEFAULT_K8S_JWT = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


_reject_inline_secrets = no_inline_credentials(INLINE_SECRET_KEYS)


class VaultAuthSettings(Section):
    """How the platform signs in to Vault; credentials come from files."""

    method: Literal["token", "approle", "kubernetes"] = Field(
        "approle", description="How the platform signs in to Vault.")
    mount_point: str | None = Field(
        None, description="Mount path of the auth method when not the default (approle, kubernetes).")
    token_file: Path | None = Field(None, description="method token: file holding the Vault token.")
    role_id: str | None = Field(
        None, description="method approle: the role_id (an identifier, not a secret). "
                           "Default: the one `airdeck vault bootstrap` stored in the state folder.")
    secret_id_file: Path | None = Field(
        None, description="method approle: file holding the secret_id. "
                          "Default: the one `airdeck vault bootstrap` stored in the state folder.")
    kubernetes_role: str | None = Field(None, description="method kubernetes: the Vault role to log in as.")
    kubernetes_jwt_file: Path = Field(DEFAULT_K8S_JWT, description="method kubernetes: service-account token.")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        return _reject_inline_secrets(data)

    @model_validator(mode="after")
    def _complete(self) -> VaultAuthSettings:
        if self.method == "token" and self.token_file is None:
            raise ValueError("method 'token' needs token_file (a 0600 file holding the token)")
        if self.method == "kubernetes" and not self.kubernetes_role:
            raise ValueError("method 'kubernetes' needs kubernetes_role")
        return self


class VaultSettings(Section):
    """The Vault (or OpenBao) server and the KV layout of the platform's secrets."""

    url: HttpUrl = Field(description="Address of Vault or OpenBao, e.g. https://vault.example.com:8200.")
    mount_point: str = Field("airflow", description="KV version 2 mount holding the platform's secrets.")
    connections_path: str = Field("connections", description="Folder of connections under the mount.")
    variables_path: str = Field("variables", description="Folder of variables under the mount.")
    config_path: str = Field("config", description="Folder of Airflow settings (fernet_key, ...) under the mount.")
    ca_file: Path | None = Field(None, description="CA bundle that signed Vault's certificate (https).")
    namespace: str | None = Field(None, description="Vault Enterprise namespace.")
    timeout: Annotated[Duration, Between("1s", "5m"), WholeSeconds] = Field(
        timedelta(seconds=10), description="Time allowed for each request to Vault.")
    platform_secrets: bool = Field(
        False, description="Read the Fernet key, jwt_secret and secret_key from <mount>/<config_path> "
                            "instead of the state folder (`airdeck vault bootstrap --platform-secrets` "
                            "puts them there).")
    auth: VaultAuthSettings = Field(default_factory=VaultAuthSettings)  # type: ignore[arg-type]

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        return _reject_inline_secrets(data)

    @field_validator("mount_point", "connections_path", "variables_path", "config_path")
    @classmethod
    def _plain_path(cls, value: str) -> str:
        value = value.strip("/")
        if not value or any(part in ("", ".", "..") for part in value.split("/")):
            raise ValueError("must be a Vault path such as 'airflow' or 'team/airflow'")
        return value


class SecretsSettings(Section):
    """Where connections, variables and the platform keys live."""

    backend: Literal["local", "vault"] = Field(
        "local", description="local: connections and variables in the database only; "
                             "vault: Airflow's VaultBackend first, then the database.")
    vault: VaultSettings | None = Field(None, description="Vault settings; required when backend is vault.")

    @model_validator(mode="after")
    def _vault_needs_settings(self) -> SecretsSettings:
        if self.backend == "vault" and self.vault is None:
            raise ValueError("backend 'vault' needs a 'vault:' section with at least url")
        return self
