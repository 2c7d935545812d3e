"""Airflow settings for HTTPS, and the files they point at.

The api-server gets ``[api] ssl_cert``/``ssl_key`` (Airflow also marks its JWT cookie Secure when
``ssl_cert`` is set); every component gets ``[fab] cookie_secure`` for the Flask session cookie (the https
``execution_api_server_url`` comes from
:mod:`airdeck.plan.endpoints`); workers verify the Execution API with ``[api] ssl_ca_file``
(read by the task SDK's client, ``airflow/sdk/api/client.py``).
"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from airdeck.config.model import AirdeckConfig
from airdeck.plan.model import Settings
from airdeck.state.home import AirdeckHome
from airdeck.tls.certs import TLSError, TLSFiles, default_names, generate


def server_files(cfg: AirdeckConfig, home: AirdeckHome) -> tuple[Path, Path, Path | None]:
    """(certificate, key, CA to verify with or None for the system CAs)."""
    tls = cfg.tls
    if tls.cert_file is not None and tls.key_file is not None:
        return tls.cert_file.absolute(), tls.key_file.absolute(), tls.ca_file.absolute() if tls.ca_file else None
    files = TLSFiles.of(home)
    return files.server_cert, files.server_key, (tls.ca_file or files.ca_cert).absolute()


def contribute(cfg: AirdeckConfig, home: AirdeckHome, service: str) -> Settings:
    """The HTTPS settings of one component (the execution API URL follows ``tls.enabled`` in the endpoints)."""
    if not cfg.tls.enabled:
        return {}
    cert, key, ca = server_files(cfg, home)
    out: Settings = {"fab": {"cookie_secure": "True"}}
    if service == "api-server":
        out["api"] = {"ssl_cert": str(cert), "ssl_key": str(key)}
    elif ca is not None:
        out["api"] = {"ssl_ca_file": str(ca)}
    return out


def prepare(cfg: AirdeckConfig, home: AirdeckHome) -> str | None:
    """Before start: make sure the certificate files exist and are usable.

    Generates the local CA and server certificate when TLS is on without a provided certificate.
    Returns a message for the console when files were generated."""
    if not cfg.tls.enabled:
        return None
    message = None
    if cfg.tls.cert_file is None:
        files = TLSFiles.of(home)
        names = default_names(cfg.tls.hostnames, cfg.api_server.host)
        if generate(files, names):
            message = f"generated a local CA and server certificate in {files.folder} (trust {files.ca_cert})"
    cert, key, ca = server_files(cfg, home)
    for label, path in (("tls.cert_file", cert), ("tls.key_file", key), ("tls.ca_file", ca)):
        if path is not None and not path.is_file():
            raise TLSError(f"{label}: {path} does not exist; give an existing PEM file "
                           "(or omit cert_file/key_file and let airdeck generate them)")
    mode = stat.S_IMODE(key.stat().st_mode)
    if mode & 0o077:
        raise TLSError(f"tls.key_file: {key} has mode {mode:04o}; a private key must be private. Run: chmod 600 {key}")
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise TLSError(f"tls: {cert} and {key} cannot be used together ({exc}); "
                       "check that the key belongs to the certificate and both are PEM") from None
    return message
