"""`airdeck tls init`: a local CA and server certificate that a real TLS client accepts; bad input."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from airdeck.tls.certs import TLSFiles
from cryptography import x509

from tests.harness import AIRDECK, REPO, free_port, write_config


def airdeck(home: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRDECK_"))}
    env["AIRDECK_HOME"] = str(home)
    if config is not None:
        env["AIRDECK_CONFIG"] = str(config)
    return subprocess.run([*AIRDECK, *args], env=env, capture_output=True, text=True, timeout=120, check=False,
                          cwd=REPO)


def _serve_once(cert: Path, key: Path, port: int, ready: threading.Event) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    with socket.create_server(("127.0.0.1", port)) as server:
        ready.set()
        server.settimeout(20)
        conn, _ = server.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hello over tls")


def test_tls_init_writes_private_keys_and_a_certificate_clients_verify(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = airdeck(home, "tls", "init", "--hostname", "airflow.example.test")
    assert result.returncode == 0, result.stderr
    files = TLSFiles(home / "tls")
    assert stat.S_IMODE(files.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.server_key.stat().st_mode) == 0o600
    assert "To trust the airdeck CA" in result.stdout and str(files.ca_cert) in result.stdout
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "airflow.example.test" in names.get_values_for_type(x509.DNSName)
    # a real handshake: a TLS server with the generated certificate, a client trusting only the CA
    port = free_port()
    ready = threading.Event()
    server = threading.Thread(target=_serve_once, args=(files.server_cert, files.server_key, port, ready))
    server.start()
    ready.wait(10)
    client = ssl.create_default_context(cafile=str(files.ca_cert))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.recv(100) == b"hello over tls"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    server.join(10)
    # a second init keeps everything; --force issues a new server certificate under the same CA
    ca_before = files.ca_cert.read_bytes()
    assert "already exist" in airdeck(home, "tls", "init").stderr
    assert airdeck(home, "tls", "init", "--force").returncode == 0
    assert files.ca_cert.read_bytes() == ca_before


@pytest.mark.parametrize("tls, expected", [
    ({"enabled": True, "cert_file": "MISSING/server.pem", "key_file": "MISSING/server.key"}, "tls.cert_file"),
    ({"enabled": True, "cert_file": "MISSING/server.pem"}, "cert_file and key_file go together"),
])
def test_up_with_bad_tls_files_fails_clearly_and_starts_nothing(tmp_path: Path, tls: dict, expected: str) -> None:
    tls = {k: (v.replace("MISSING", str(tmp_path / "missing")) if isinstance(v, str) else v) for k, v in tls.items()}
    config = write_config(tmp_path, {"tls": tls})
    home = tmp_path / "home"
    result = airdeck(home, "up", "--detach", config=config)
    assert result.returncode != 0
    assert expected in result.stderr
    assert not (home / "run" / "supervisord.sock").exists()
    assert not (home / "data" / "postgres").exists()
