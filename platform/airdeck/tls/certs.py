"""A local certificate authority and server certificate made with ``cryptography``.

Files in $AIRDECK_HOME/tls: ``ca.pem`` (public, give it to browsers and clients), ``ca.key`` (0600,
signs server certificates), ``server.pem`` (the server certificate followed by the CA) and
``server.key`` (0600).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from airdeck.errors import AirdeckError
from airdeck.state.home import AirdeckHome, secure_folder
from airdeck.state.secrets import write_private

CA_DAYS = 3650
SERVER_DAYS = 397  # browsers refuse server certificates valid for longer


class TLSError(AirdeckError):
    """A certificate or key cannot be used; the message names the file and what to do."""

    exit_code = 2


@dataclass(frozen=True)
class TLSFiles:
    folder: Path

    @classmethod
    def of(cls, home: AirdeckHome) -> TLSFiles:
        return cls(home.root / "tls")

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    def complete(self) -> bool:
        return all(p.exists() for p in (self.ca_cert, self.ca_key, self.server_cert, self.server_key))


def default_names(extra: list[str] | tuple[str, ...] = (), host: str | None = None) -> list[str]:
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    if host and host not in ("0.0.0.0", "::"):  # noqa: S104
        names.append(host)
    names += list(extra)
    return list(dict.fromkeys(n for n in names if n))


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def generate(files: TLSFiles, names: list[str], *, force: bool = False) -> bool:
    """Create the CA (unless it exists) and a server certificate for ``names``.

    Returns False when everything already existed and ``force`` is not set."""
    if files.complete() and not force:
        return False
    files.folder.parent.mkdir(parents=True, exist_ok=True)
    secure_folder(files.folder, 0o700)  # a symbolic link there is refused, its target never chmod-ed
    now = dt.datetime.now(dt.UTC)
    if files.ca_cert.exists() and files.ca_key.exists():
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise TLSError(f"{files.ca_key} is not an EC key made by airdeck; move it away and run `airdeck tls init`")
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "airdeck"),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"airdeck local CA ({socket.gethostname()})")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_private(files.ca_key, _key_pem(ca_key))
        files.ca_cert.write_text(_cert_pem(ca_cert), encoding="ascii")
        files.ca_cert.chmod(0o644)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(files.server_key, _key_pem(key))
    files.server_cert.write_text(_cert_pem(cert) + _cert_pem(ca_cert), encoding="ascii")
    files.server_cert.chmod(0o644)
    return True


def certificate_names(path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(v) for v in san.get_values_for_type(x509.DNSName)] + [
        str(v) for v in san.get_values_for_type(x509.IPAddress)]


def trust_instructions(ca: Path) -> str:
    return (
        f"To trust the airdeck CA ({ca}):\n"
        f"  curl:            curl --cacert {ca} https://127.0.0.1:PORT/api/v2/monitor/health\n"
        f"  Python/httpx:    export SSL_CERT_FILE={ca}   (requests: REQUESTS_CA_BUNDLE={ca})\n"
        f"  Debian/Ubuntu:   sudo cp {ca} /usr/local/share/ca-certificates/airdeck-ca.crt "
        "&& sudo update-ca-certificates\n"
        f"  macOS:           sudo security add-trusted-cert -d -r trustRoot "
        f"-k /Library/Keychains/System.keychain {ca}\n"
        "  Firefox/Chrome:  import it under Settings > Certificates > Authorities\n"
        "Never share ca.key: whoever holds it can impersonate any site to browsers that trust this CA."
    )
