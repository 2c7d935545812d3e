"""A real OpenLDAP slapd for tests: its own slapd.conf, an mdb database, TLS, free ports.

The directory (``dc=airdeck,dc=test``) holds people in several groups, a group nested in another,
a disabled account, a person whose name is not ASCII, and a read-only service account::

    airflow-admins  <- carol, dan (disabled)
    airflow-ops     <- olga
    airflow-users   <- ulrich, data-engineers (nested group)
    data-engineers  <- dave, zoë
    airflow-viewers <- vera, zoë
    team-finance    <- fiona
    (no group)      <- mallory
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ldap3 import HASHED_SALTED_SHA, MODIFY_ADD, MODIFY_DELETE, Connection, Server
from ldap3.utils.hashed import hashed

from tests.harness import free_port

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
MODULE_DIR = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"

BASE = "dc=airdeck,dc=test"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
ROOT_DN = f"cn=root,{BASE}"
ROOT_PW = "root-secret-for-tests"
SERVICE_DN = f"cn=airdeck-svc,ou=services,{BASE}"
SERVICE_PW = "svc-secret-for-tests"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


@dataclass(frozen=True)
class Person:
    uid: str
    given: str
    sn: str
    password: str
    disabled: bool = False
    mail: str = ""


PEOPLE_LIST = [
    Person("carol", "Carol", "Admin", "carol-pw-1"),
    Person("dan", "Dan", "Disabled", "dan-pw-1", disabled=True),
    Person("olga", "Olga", "Operator", "olga-pw-1"),
    Person("ulrich", "Ulrich", "User", "ulrich-pw-1"),
    Person("dave", "Dave", "Engineer", "dave-pw-1"),
    Person("vera", "Vera", "Viewer", "vera-pw-1"),
    Person("fiona", "Fiona", "Finance", "fiona-pw-1"),
    Person("mallory", "Mallory", "Nogroup", "mallory-pw-1"),
    Person("zoë", "Zoë", "Ångström-Núñez", "zoë-pässwörd-1", mail="zoe@airdeck.test"),
]
PASSWORDS = {p.uid: p.password for p in PEOPLE_LIST}

GROUP_MEMBERS = {
    "airflow-admins": [user_dn("carol"), user_dn("dan")],
    "airflow-ops": [user_dn("olga")],
    "data-engineers": [user_dn("dave"), user_dn("zoë")],
    "airflow-users": [user_dn("ulrich"), group_dn("data-engineers")],
    "airflow-viewers": [user_dn("vera"), user_dn("zoë")],
    "team-finance": [user_dn("fiona")],
}

#: airdeck.yaml `auth.ldap.roles_mapping` used by the tests.
ROLES_MAPPING = {
    group_dn("airflow-admins"): ["Admin"],
    group_dn("airflow-ops"): ["Op"],
    group_dn("airflow-users"): ["User"],
    group_dn("data-engineers"): ["DagAuthor"],
    group_dn("airflow-viewers"): ["Viewer"],
    group_dn("team-finance"): ["team_finance"],
}


def write_tls(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost / 127.0.0.1, written as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airdeck test LDAP CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


class Slapd:
    """slapd listening on ldap:// (StartTLS) and ldaps:// loopback ports."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.ca_file, self.cert_file, self.key_file = write_tls(folder)
        self.data_dir = folder / "data"
        self.conf = folder / "slapd.conf"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://localhost:{self.tls_port}"

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        schemas = "\n".join(f"include {SCHEMA_DIR}/{name}.schema" for name in ("core", "cosine", "inetorgperson"))
        self.conf.write_text(f"""\
{schemas}
modulepath {MODULE_DIR}
moduleload back_mdb
moduleload memberof
pidfile {self.folder}/slapd.pid
argsfile {self.folder}/slapd.args
TLSCACertificateFile {self.ca_file}
TLSCertificateFile {self.cert_file}
TLSCertificateKeyFile {self.key_file}
sizelimit 500

database mdb
maxsize 104857600
suffix "{BASE}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {self.data_dir}
index objectClass eq
index uid eq
index member eq
overlay memberof
access to attrs=userPassword by self =w by anonymous auth by * none
access to * by dn.exact="{SERVICE_DN}" read by users read by * none
""", encoding="utf-8")

    def start(self) -> None:
        self.write_config()
        log = open(self.folder / "slapd.log", "wb")  # noqa: SIM115 - kept open for the process's life
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", str(self.conf),
             "-h", f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.tls_port}/"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited {self.process.returncode}: "
                                   f"{(self.folder / 'slapd.log').read_text(errors='replace')[-2000:]}")
            try:
                conn = self.admin()
                conn.unbind()
                return
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.2)
        raise RuntimeError("slapd did not start within 30s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def admin(self) -> Connection:
        return Connection(Server(self.url, connect_timeout=2), ROOT_DN, ROOT_PW, auto_bind=True,
                          receive_timeout=10)

    def populate(self) -> None:
        conn = self.admin()
        try:
            def add(dn: str, classes: list[str], attrs: dict) -> None:
                if not conn.add(dn, classes, attrs):
                    raise RuntimeError(f"cannot add {dn}: {conn.result}")

            add(BASE, ["top", "dcObject", "organization"], {"o": "airdeck test", "dc": "airdeck"})
            for ou in ("people", "groups", "services"):
                add(f"ou={ou},{BASE}", ["top", "organizationalUnit"], {"ou": ou})
            add(SERVICE_DN, ["top", "person"], {"cn": "airdeck-svc", "sn": "service",
                                               "userPassword": hashed(HASHED_SALTED_SHA, SERVICE_PW)})
            for p in PEOPLE_LIST:
                attrs = {"uid": p.uid, "cn": f"{p.given} {p.sn}", "givenName": p.given, "sn": p.sn,
                         "mail": p.mail or f"{p.uid}@airdeck.test",
                         "userPassword": hashed(HASHED_SALTED_SHA, p.password)}
                if p.disabled:
                    attrs["employeeType"] = "disabled"
                add(user_dn(p.uid), ["top", "person", "organizationalPerson", "inetOrgPerson"], attrs)
            # Nested groups must exist before the groups that contain them (memberof overlay checks members).
            for name in ("data-engineers", "airflow-admins", "airflow-ops", "airflow-users", "airflow-viewers",
                         "team-finance"):
                add(group_dn(name), ["top", "groupOfNames"], {"cn": name, "member": GROUP_MEMBERS[name]})
        finally:
            conn.unbind()

    def add_member(self, group: str, member_dn: str) -> None:
        conn = self.admin()
        try:
            assert conn.modify(group_dn(group), {"member": [(MODIFY_ADD, [member_dn])]}), conn.result
        finally:
            conn.unbind()

    def remove_member(self, group: str, member_dn: str) -> None:
        conn = self.admin()
        try:
            assert conn.modify(group_dn(group), {"member": [(MODIFY_DELETE, [member_dn])]}), conn.result
        finally:
            conn.unbind()

    def ldap_settings(self, **overrides: object) -> dict:
        """The airdeck.yaml `auth.ldap` section for this directory (search-then-bind, StartTLS)."""
        settings: dict = {
            "url": self.url,
            "start_tls": True,
            "ca_file": str(self.ca_file),
            "bind_dn": SERVICE_DN,
            "bind_password_file": str(self.password_file()),
            "user_search_base": PEOPLE,
            "user_filter": "(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))",
            "group_search_base": GROUPS,
            "group_filter": "(objectClass=groupOfNames)",
            "roles_mapping": ROLES_MAPPING,
            "default_role": "Public",
            "connect_timeout": 3,
            "response_timeout": 5,
        }
        settings.update(overrides)
        return settings

    def password_file(self) -> Path:
        path = self.folder / "bind-password"
        if not path.exists():
            path.write_text(SERVICE_PW + "\n", encoding="utf-8")
            path.chmod(0o600)
        return path
