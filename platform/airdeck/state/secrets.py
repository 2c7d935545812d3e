"""Secrets airdeck generates once and every service shares.

Each secret is one file in $AIRDECK_HOME/secrets with mode 0600, created atomically and never
overwritten. A secret file that others can read is refused: the error says how to fix it.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from airdeck.state.home import secure_folder


class SecretFileError(Exception):
    """A secret file exists but cannot be used."""


def _token() -> str:
    return secrets.token_urlsafe(48)


def _password() -> str:
    return secrets.token_urlsafe(18)


def _fernet() -> str:
    return Fernet.generate_key().decode("ascii")


def _ed25519_pem() -> str:
    """A new Ed25519 private key, PKCS#8 PEM: what Airflow's ``[api_auth] jwt_private_key_path`` loads."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode("ascii")


#: name -> (generator, what it is for)
GENERATED: dict[str, tuple[Callable[[], str], str]] = {
    "fernet_key": (_fernet, "[core] fernet_key: encrypts connection passwords and variables"),
    "jwt_secret": (_token, "[api_auth] jwt_secret: no longer given to any component (tokens are signed "
                           "with jwt_private_key); kept so Vault and mounted-secret layouts stay valid"),
    "jwt_private_key": (_ed25519_pem, "[api_auth] jwt_private_key_path: the Ed25519 key that signs REST and "
                                      "Execution API tokens (api-server and scheduler only)"),
    "api_secret_key": (_token, "the api-server's Flask session and CSRF key (SECRET_KEY in webserver_config.py)"),
    "log_fetch_key": (_token, "[api] secret_key: signs the api-server's log-fetch tokens, checked by the "
                              "workers' and triggerer's log servers"),
    "admin_password": (_password, "password of the platform admin account"),
    "database_password": (_password, "password of the embedded PostgreSQL role 'airflow'"),
    "broker_password": (_password, "password of the embedded Valkey"),
    "grafana_admin_password": (_password, "password of the admin account of the local Grafana (--with-grafana)"),
}


def write_private(path: Path, value: str) -> None:
    """Write ``value`` to ``path`` with mode 0600, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, value.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_private(path: Path) -> str:
    """Read a secret file of the state folder: the file itself (a symbolic link is refused, never followed),
    a regular file owned by the running user that nobody else can read (issue 13, finding 8)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SecretFileError(
                f"{path} is a symbolic link (to {os.readlink(path)}); airdeck reads secret files only as "
                f"themselves. Replace the link with the file (or delete it so airdeck generates a new value)"
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretFileError(f"{path} is not a regular file; delete it so airdeck generates a new value")
        me = os.geteuid()
        if info.st_uid != me:
            raise SecretFileError(
                f"{path} belongs to uid {info.st_uid}, not to the user running airdeck (uid {me}): it may have "
                "been planted, so airdeck will not trust it. If you did not put it there, delete it and airdeck "
                f"generates a new value; if you did, run: chown {me} {path}")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise SecretFileError(
                f"{path} has mode {mode:04o}; a secret file must be private. Run: chmod 600 {path}"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read()
    finally:
        os.close(fd)
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretFileError(f"{path} is not UTF-8 text; delete it so airdeck generates a new value") from None
    if not value:
        raise SecretFileError(f"{path} is empty; delete it so airdeck generates a new value")
    return value


@dataclass
class SecretStore:
    """The generated secrets of one $AIRDECK_HOME."""

    folder: Path

    def path(self, name: str) -> Path:
        if name not in GENERATED:
            raise KeyError(f"unknown secret {name!r}; known: {', '.join(GENERATED)}")
        return self.folder / name

    def get(self, name: str) -> str:
        """The secret's value, generated on first use and reused ever after."""
        path = self.path(name)
        if not os.path.lexists(path):
            generator, _ = GENERATED[name]
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            secure_folder(self.folder, 0o700)
            candidate = generator()
            tmp = path.with_name(f".{name}.{secrets.token_hex(8)}.new")
            write_private(tmp, candidate)
            try:
                os.link(tmp, path)  # fails if another process created it first: theirs wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return read_private(path)

    def read(self, name: str) -> str:
        """The secret's value if it was generated already; KeyError otherwise (never generates)."""
        path = self.path(name)
        if not os.path.lexists(path):
            raise KeyError(name)
        return read_private(path)

    def ensure_all(self) -> dict[str, str]:
        return {name: self.get(name) for name in GENERATED}

    def exists(self, name: str) -> bool:
        return os.path.lexists(self.path(name))
