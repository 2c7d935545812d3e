"""Vault (or OpenBao) for the platform: Airflow's VaultBackend settings, bootstrap, and writes.

Airflow reads connections at ``<mount>/<connections_path>/<conn_id>`` (key ``conn_uri``), variables at
``<mount>/<variables_path>/<key>`` (key ``value``) and settings at ``<mount>/<config_path>/<option>``
(key ``value``), from a KV version 2 engine (providers/hashicorp ``secrets/vault.py``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airdeck.config.model import AirdeckConfig
from airdeck.config.secrets import VaultSettings
from airdeck.errors import AirdeckError
from airdeck.plan.build import worker_index
from airdeck.state.home import AirdeckHome, secure_folder
from airdeck.state.secrets import GENERATED, SecretStore, read_private, write_private

VAULT_BACKEND = "airflow.providers.hashicorp.secrets.vault.VaultBackend"
POLICY_NAME = "airdeck-platform-read"
APPROLE_NAME = "airdeck-platform"
#: airdeck secret name -> Airflow option name under <config_path> (what `[section] option_secret` reads)
PLATFORM_SECRETS = {"fernet_key": "fernet_key", "jwt_secret": "jwt_secret", "api_secret_key": "secret_key"}
KEY_REGEX = re.compile(r"^[\w.-]{1,250}$")  # airflow.utils.helpers.validate_key
SCHEME_REGEX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


class VaultError(AirdeckError):
    """Vault cannot be used; the message names the URL or setting and what to do."""


def approle_files(home: AirdeckHome) -> tuple[Path, Path]:
    folder = home.secrets / "vault"
    return folder / "role_id", folder / "secret_id"


def _read_secret_file(path: Path, key: str) -> str:
    if not path.exists():
        raise VaultError(f"{key}: {path} does not exist. Create it (chmod 600), or run `airdeck vault bootstrap` "
                         "to create AppRole credentials in the state folder")
    try:
        return read_private(path)
    except Exception as exc:  # noqa: BLE001 - SecretFileError or OSError, both explained
        raise VaultError(f"{key}: {exc}") from None


def _vault(cfg: AirdeckConfig) -> VaultSettings:
    if cfg.secrets.vault is None:
        raise VaultError("secrets.vault is not configured; add a `secrets: {vault: {url: ...}}` section "
                         "to airdeck.yaml or pass --url")
    return cfg.secrets.vault


def _role_id(cfg: AirdeckConfig, home: AirdeckHome) -> str:
    auth = _vault(cfg).auth
    if auth.role_id:
        return auth.role_id
    return _read_secret_file(approle_files(home)[0], "secrets.vault.auth.role_id")


def _secret_id(cfg: AirdeckConfig, home: AirdeckHome) -> str:
    auth = _vault(cfg).auth
    path = auth.secret_id_file or approle_files(home)[1]
    return _read_secret_file(path, "secrets.vault.auth.secret_id_file")


def backend_kwargs(cfg: AirdeckConfig, home: AirdeckHome) -> dict[str, Any]:
    """The VaultBackend kwargs. The AppRole secret_id is read from its file (the provider has no path
    option for it) and so ends up only in the 0600 per-service airflow.cfg."""
    vault = _vault(cfg)
    kwargs: dict[str, Any] = {
        "url": vault.url,
        "mount_point": vault.mount_point,
        "connections_path": vault.connections_path,
        "variables_path": vault.variables_path,
        "config_path": vault.config_path,
        "kv_engine_version": 2,
        "auth_type": vault.auth.method,
        "timeout": int(vault.timeout.total_seconds()),
    }
    if vault.ca_file:
        kwargs["verify"] = str(vault.ca_file.absolute())
    if vault.namespace:
        kwargs["namespace"] = vault.namespace
    if vault.auth.mount_point:
        kwargs["auth_mount_point"] = vault.auth.mount_point
    if vault.auth.method == "token":
        assert vault.auth.token_file is not None  # noqa: S101 - guaranteed by the model
        kwargs["token_path"] = str(vault.auth.token_file.absolute())
    elif vault.auth.method == "approle":
        kwargs["role_id"] = _role_id(cfg, home)
        kwargs["secret_id"] = _secret_id(cfg, home)
    elif vault.auth.method == "kubernetes":
        kwargs["kubernetes_role"] = vault.auth.kubernetes_role
        kwargs["kubernetes_jwt_path"] = str(vault.auth.kubernetes_jwt_file)
    return kwargs


def uses_backend(component: str) -> bool:
    """Airflow components resolve secrets through ``[secrets] backend``; Celery workers' task processes
    through ``[workers] secrets_backend`` (task isolation: the worker itself needs none)."""
    return worker_index(component) is None


# ---------------------------------------------------------------------------------------------- clients
def _client(url: str, ca_file: Path | None, timeout: float, namespace: str | None = None) -> Any:
    import hvac

    verify: bool | str = str(ca_file) if ca_file else True
    return hvac.Client(url=url, verify=verify, timeout=timeout, namespace=namespace)


def _explain(exc: BaseException, url: str) -> str:
    import hvac.exceptions
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        return (f"Vault at {url}: TLS verification failed ({type(exc).__name__}); "
                "set secrets.vault.ca_file to the CA that signed Vault's certificate")
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return (f"Vault at {url} is unreachable ({type(exc).__name__}); check secrets.vault.url, that Vault "
                "is running and this host can reach it")
    if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
        return f"Vault at {url} refused the request (permission denied); check the credentials and policy"
    if isinstance(exc, hvac.exceptions.VaultDown):
        return f"Vault at {url} is sealed or in standby; unseal it and retry"
    return f"Vault at {url}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def call(url: str, action: Callable[[], Any]) -> Any:
    """Run a Vault request, turning any failure into a :class:`VaultError` that names the URL."""
    import hvac.exceptions
    import requests

    try:
        return action()
    except (requests.exceptions.RequestException, hvac.exceptions.VaultError) as exc:
        raise VaultError(_explain(exc, url)) from None


def platform_client(cfg: AirdeckConfig, home: AirdeckHome) -> Any:
    """A client signed in the way the Airflow services sign in (to check reachability and read keys)."""
    vault = _vault(cfg)
    client = _client(vault.url, vault.ca_file, vault.timeout.total_seconds(), vault.namespace)
    auth = vault.auth
    if auth.method == "token":
        assert auth.token_file is not None  # noqa: S101
        client.token = _read_secret_file(auth.token_file, "secrets.vault.auth.token_file")
        call(vault.url, client.auth.token.lookup_self)
    elif auth.method == "approle":
        role_id, secret_id = _role_id(cfg, home), _secret_id(cfg, home)
        call(vault.url, lambda: client.auth.approle.login(role_id, secret_id,
                                                          mount_point=auth.mount_point or "approle"))
    else:
        if not auth.kubernetes_jwt_file.exists():
            raise VaultError(f"secrets.vault.auth.kubernetes_jwt_file: {auth.kubernetes_jwt_file} does not exist "
                             "(is this running in a pod with a service-account token?)")
        jwt = auth.kubernetes_jwt_file.read_text(encoding="utf-8").strip()
        call(vault.url, lambda: client.auth.kubernetes.login(auth.kubernetes_role, jwt,
                                                             mount_point=auth.mount_point or "kubernetes"))
    return client


def admin_token(token_file: str | None, flag: str = "--token-file") -> str:
    """An operator token for bootstrap and writes: the file ``flag`` names, else $VAULT_TOKEN (never argv).

    ``flag`` is the option of the command that asks (``--vault-token-file`` for ``fernet rotate``)."""
    if token_file:
        path = Path(token_file)
        if not path.exists():
            raise VaultError(f"{flag}: {path} does not exist")
        value = path.read_text(encoding="utf-8").strip()
        if not value:
            raise VaultError(f"{flag}: {path} is empty")
        return value
    value = os.environ.get("VAULT_TOKEN", "").strip()
    if not value:
        raise VaultError(f"no Vault token: pass {flag} PATH (a file holding an operator token) "
                         "or set VAULT_TOKEN in the environment")
    return value


def bootstrapped_url_file(home: AirdeckHome) -> Path:
    """Where ``airdeck vault bootstrap`` records the Vault it set up (used when airdeck.yaml names none)."""
    return approle_files(home)[0].parent / "url"


def bootstrapped_url(home: AirdeckHome | None) -> str | None:
    if home is None:
        return None
    try:
        value = bootstrapped_url_file(home).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return value if value.startswith(("http://", "https://")) else None


@dataclass
class Target:
    """Where operator commands write: URL, TLS and the KV layout."""

    url: str
    mount_point: str = "airflow"
    connections_path: str = "connections"
    variables_path: str = "variables"
    config_path: str = "config"
    ca_file: Path | None = None
    namespace: str | None = None
    timeout: float = 10  # seconds

    @classmethod
    def of(cls, cfg: AirdeckConfig, url: str | None = None, home: AirdeckHome | None = None) -> Target:
        """``--url``, else ``secrets.vault.url``, else the Vault ``airdeck vault bootstrap`` set up in ``home``."""
        vault = cfg.secrets.vault
        if vault is None:
            url = url or bootstrapped_url(home)
            if not url:
                raise VaultError("no Vault URL: set secrets.vault.url in airdeck.yaml, pass --url, "
                                 "or run `airdeck vault bootstrap --url URL` first")
            if not url.startswith(("http://", "https://")):
                raise VaultError(f"--url: {url!r} is not an http:// or https:// URL")
            return cls(url=url.rstrip("/"))
        return cls(url=(url or vault.url).rstrip("/"), mount_point=vault.mount_point,
                   connections_path=vault.connections_path, variables_path=vault.variables_path,
                   config_path=vault.config_path, ca_file=vault.ca_file, namespace=vault.namespace,
                   timeout=vault.timeout.total_seconds())

    def client(self, token: str) -> Any:
        client = _client(self.url, self.ca_file, self.timeout, self.namespace)
        client.token = token
        call(self.url, client.auth.token.lookup_self)
        return client


def read_policy(target: Target) -> str:
    """Least privilege for the platform: read the three folders Airflow looks in, nothing else."""
    lines = [f"# Rendered by airdeck: the platform may read connections, variables and settings under "
             f"{target.mount_point}/, and nothing else (no list, no write)."]
    for folder in (target.connections_path, target.variables_path, target.config_path):
        lines.append(f'path "{target.mount_point}/data/{folder}/*" {{\n  capabilities = ["read"]\n}}')
    return "\n".join(lines) + "\n"


@dataclass
class BootstrapResult:
    mount_created: bool
    approle_enabled: bool
    role_id_file: Path
    secret_id_file: Path
    platform_secrets_written: list[str]


def bootstrap(target: Target, token: str, home: AirdeckHome, *, platform_secrets: bool,
              local: SecretStore | None = None) -> BootstrapResult:
    """Create the KV v2 mount, the read policy, the AppRole and its credentials (idempotent)."""
    client = target.client(token)
    url = target.url
    mounts = call(url, client.sys.list_mounted_secrets_engines)
    mounts = mounts.get("data", mounts)
    key = f"{target.mount_point}/"
    mount_created = False
    if key in mounts:
        existing = mounts[key]
        version = (existing.get("options") or {}).get("version")
        if existing.get("type") != "kv" or str(version) != "2":
            raise VaultError(f"Vault at {url}: {key} is already mounted as {existing.get('type')} "
                             f"(version {version}); airdeck needs a KV version 2 engine. "
                             "Choose another secrets.vault.mount_point")
    else:
        call(url, lambda: client.sys.enable_secrets_engine("kv", path=target.mount_point, options={"version": "2"},
                                                           description="airdeck: Airflow connections and variables"))
        mount_created = True
    call(url, lambda: client.sys.create_or_update_policy(POLICY_NAME, read_policy(target)))
    auths = call(url, client.sys.list_auth_methods)
    auths = auths.get("data", auths)
    approle_enabled = False
    if "approle/" not in auths:
        call(url, lambda: client.sys.enable_auth_method("approle"))
        approle_enabled = True
    lifetimes = {"token_ttl": "1h", "token_max_ttl": "4h"}  # platform tokens renew by signing in again
    call(url, lambda: client.auth.approle.create_or_update_approle(
        APPROLE_NAME, token_policies=[POLICY_NAME], secret_id_num_uses=0, **lifetimes))
    role_id = call(url, lambda: client.auth.approle.read_role_id(APPROLE_NAME))["data"]["role_id"]
    secret_id = call(url, lambda: client.auth.approle.generate_secret_id(APPROLE_NAME))["data"]["secret_id"]
    role_file, secret_file = approle_files(home)
    role_file.parent.parent.mkdir(parents=True, exist_ok=True)
    secure_folder(role_file.parent, 0o700)  # a symbolic link there is refused, its target never chmod-ed
    write_private(role_file, role_id)
    write_private(secret_file, secret_id)
    write_private(bootstrapped_url_file(home), target.url + "\n")
    written: list[str] = []
    if platform_secrets:
        for name, option in PLATFORM_SECRETS.items():
            path = f"{target.config_path}/{option}"
            if read_kv(client, target, path) is not None:
                continue
            # the current local key if there is one (values stay readable), else a new one not kept locally
            value = local.get(name) if local is not None and local.exists(name) else GENERATED[name][0]()
            write_kv(client, target, path, {"value": value})
            written.append(option)
    return BootstrapResult(mount_created, approle_enabled, role_file, secret_file, written)


def read_kv(client: Any, target: Target, path: str) -> dict[str, Any] | None:
    import hvac.exceptions

    try:
        response = client.secrets.kv.v2.read_secret_version(path=path, mount_point=target.mount_point,
                                                            raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return None
    except Exception as exc:  # noqa: BLE001 - explained with the URL
        import requests

        if isinstance(exc, requests.exceptions.RequestException | hvac.exceptions.VaultError):
            raise VaultError(_explain(exc, target.url)) from None
        raise
    return dict(response["data"]["data"])


def write_kv(client: Any, target: Target, path: str, data: dict[str, str]) -> None:
    call(target.url, lambda: client.secrets.kv.v2.create_or_update_secret(
        path=path, secret=data, mount_point=target.mount_point))


def validate_key(kind: str, key: str) -> None:
    if not KEY_REGEX.match(key):
        raise VaultError(f"{kind} {key!r} is not valid: use 1-250 letters, digits, '_', '-' or '.'")


def validate_connection_uri(conn_id: str, uri: str) -> None:
    """Reject what Airflow could not turn into a Connection, naming the problem (never echoing secrets)."""
    if "://" not in uri:
        raise VaultError(f"connection {conn_id}: the URI has no scheme; expected TYPE://[LOGIN[:PASSWORD]@]HOST"
                         "[:PORT][/SCHEMA][?EXTRA], e.g. postgres://user:pass@db.example.com:5432/sales")
    scheme = uri.split("://", 1)[0]
    if not SCHEME_REGEX.match(scheme):
        raise VaultError(f"connection {conn_id}: {scheme!r} is not a valid connection type in the URI "
                         "(letters, digits, '+', '-', '.'; starting with a letter)")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise VaultError(f"connection {conn_id}: the URI cannot be parsed ({exc})") from None


def put_connection(target: Target, token: str, conn_id: str, uri: str) -> str:
    validate_key("connection id", conn_id)
    validate_connection_uri(conn_id, uri)
    client = target.client(token)
    path = f"{target.connections_path}/{conn_id}"
    write_kv(client, target, path, {"conn_uri": uri})
    return f"{target.mount_point}/{path}"


def put_variable(target: Target, token: str, key: str, value: str) -> str:
    validate_key("variable", key)
    client = target.client(token)
    path = f"{target.variables_path}/{key}"
    write_kv(client, target, path, {"value": value})
    return f"{target.mount_point}/{path}"


def check_reachable(cfg: AirdeckConfig, home: AirdeckHome) -> None:
    """Before start: Vault answers and the platform's credentials sign in; else a clear error."""
    if cfg.secrets.backend != "vault" and not (cfg.secrets.vault and cfg.secrets.vault.platform_secrets):
        return
    vault = _vault(cfg)
    client = _client(vault.url, vault.ca_file, vault.timeout.total_seconds(), vault.namespace)
    status = call(vault.url, lambda: client.sys.read_health_status(method="GET", standby_ok=True))
    if isinstance(status, dict) and status.get("sealed"):
        raise VaultError(f"Vault at {vault.url} is sealed; unseal it, then start again")
    platform_client(cfg, home)
    if cfg.secrets.backend == "vault" and vault.auth.method == "token":
        assert vault.auth.token_file is not None  # noqa: S101
        mode = stat.S_IMODE(vault.auth.token_file.stat().st_mode)
        if mode & 0o077:
            raise VaultError(f"secrets.vault.auth.token_file: {vault.auth.token_file} has mode {mode:04o}; "
                             f"run chmod 600 {vault.auth.token_file}")


class VaultSecretStore(SecretStore):
    """The state-dir store, except the Fernet key, jwt_secret and secret_key, read from Vault."""

    def __init__(self, folder: Path, cfg: AirdeckConfig, home: AirdeckHome):
        super().__init__(folder)
        self._cfg = cfg
        self._home = home
        self._cache: dict[str, str] = {}

    def get(self, name: str) -> str:
        option = PLATFORM_SECRETS.get(name)
        if option is None:
            return super().get(name)
        if name not in self._cache:
            vault = _vault(self._cfg)
            client = platform_client(self._cfg, self._home)
            target = Target.of(self._cfg)
            data = read_kv(client, target, f"{vault.config_path}/{option}")
            if not data or not str(data.get("value", "")).strip():
                raise VaultError(
                    f"Vault at {vault.url} has no {vault.mount_point}/{vault.config_path}/{option} (key 'value'), "
                    "and secrets.vault.platform_secrets is on. Run `airdeck vault bootstrap --platform-secrets` "
                    "to store the platform keys there")
            self._cache[name] = str(data["value"]).strip()
        return self._cache[name]

    def read(self, name: str) -> str:
        """As :meth:`get`, never generating: the platform keys come from Vault, the rest from their files."""
        if name in PLATFORM_SECRETS:
            return self.get(name)
        return super().read(name)

    def forget(self) -> None:
        self._cache.clear()

    def exists(self, name: str) -> bool:
        return name in PLATFORM_SECRETS or super().exists(name)


def secret_store(cfg: AirdeckConfig, home: AirdeckHome) -> SecretStore:
    """The store `airdeck up` uses: Vault for the platform keys when secrets.vault.platform_secrets is on."""
    if cfg.secrets.vault is not None and cfg.secrets.vault.platform_secrets:
        return VaultSecretStore(home.secrets, cfg, home)
    return SecretStore(home.secrets)
