"""``logging:`` in airdeck.yaml: where task logs go (S3, GCS, Azure Blob or only the local disk) and how
long local task log files are kept.

``remote`` is parsed here into a :class:`RemoteLocation` (scheme, bucket or container, account,
prefix), so that every consumer (the plan's Airflow settings, the start-up check, the docs) reads
one interpretation of the URL. Credentials never appear here: ``connection`` names an Airflow
connection (environment, Vault or database); without it the cloud's ambient identity is used.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from datetime import timedelta
from importlib import metadata
from typing import Annotated
from urllib.parse import SplitResult, urlsplit

from pydantic import Field, field_validator, model_validator

from airdeck.config.base import Between, Duration, HttpUrl, Section, WholeSeconds

#: URL scheme → (cloud, the airdeck extra that installs its Airflow provider, the provider's package).
SCHEMES = {
    "s3": ("AWS S3", "aws", "apache-airflow-providers-amazon"),
    "gs": ("Google Cloud Storage", "gcp", "apache-airflow-providers-google"),
    "wasb": ("Azure Blob Storage", "azure", "apache-airflow-providers-microsoft-azure"),
}

_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
#: S3 and GCS bucket names (the stricter rules of each cloud are left to the cloud; this refuses
#: what could never be one: spaces, slashes, upper case, empty).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
#: Azure container names: 3-63 lower-case letters, digits and single hyphens.
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
#: Azure storage account names: 3-24 lower-case letters and digits.
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9_.=@+-]+$")


@dataclass(frozen=True)
class RemoteLocation:
    """``remote:`` taken apart. ``account`` is set for wasb:// only."""

    scheme: str
    bucket: str  # the S3/GCS bucket or the Azure container
    prefix: str  # without leading or trailing slash; may be empty
    account: str | None = None

    @property
    def cloud(self) -> str:
        return SCHEMES[self.scheme][0]

    @property
    def extra(self) -> str:
        return SCHEMES[self.scheme][1]

    @property
    def provider(self) -> str:
        return SCHEMES[self.scheme][2]

    @property
    def url(self) -> str:
        """The URL as a person reads it (it holds no secret)."""
        where = f"{self.bucket}@{self.account}" if self.account else self.bucket
        return f"{self.scheme}://{where}/{self.prefix}".rstrip("/")

    def key(self, relative: str) -> str:
        """The object key (blob name) of a path relative to the task log folder."""
        return f"{self.prefix}/{relative}" if self.prefix else relative


def parse_remote(value: str) -> RemoteLocation:
    """``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``wasb://container@account/prefix`` → location.

    Raises ValueError with the accepted forms."""
    forms = "write s3://bucket/prefix, gs://bucket/prefix or wasb://container@account/prefix"
    parts = _split(value.strip(), forms)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"{parts.scheme or 'a URL without scheme'}:// is not a supported task log destination; "
                         f"{forms}")
    if parts.query or parts.fragment or parts.password is not None or _has_port(parts.netloc):
        # the value is not repeated: it may hold a password
        raise ValueError(f"no credentials, port, query or fragment belong in the URL; {forms} "
                         "and put credentials in an Airflow connection (logging.connection)")
    netloc = parts.netloc
    prefix = parts.path.strip("/")
    if prefix and not all(_PREFIX_PART.match(part) and part not in (".", "..") for part in prefix.split("/")):
        raise ValueError(f"the prefix {prefix!r} may hold only letters, digits and _ . = @ + - "
                         "between single slashes (no . or .. parts)")
    if scheme == "wasb":
        container, at, account = netloc.partition("@")
        if not at:
            raise ValueError("an Azure destination names its container and storage account: "
                             "wasb://container@account/prefix")
        if not _CONTAINER.match(container):
            raise ValueError(f"{container!r} is not an Azure container name "
                             "(3-63 lower-case letters, digits and single hyphens)")
        if not _ACCOUNT.match(account):
            raise ValueError(f"{account!r} is not an Azure storage account name "
                             "(3-24 lower-case letters and digits)")
        return RemoteLocation(scheme, container, prefix, account)
    if "@" in netloc or not _BUCKET.match(netloc):
        raise ValueError(f"{netloc!r} is not a bucket name (lower-case letters, digits, . _ -); {forms}")
    return RemoteLocation(scheme, netloc, prefix)


def _split(value: str, forms: str) -> SplitResult:
    """``urlsplit``, whose error for a bad ``[…]`` host would repeat the text (maybe a secret): replaced."""
    try:
        return urlsplit(value)
    except ValueError:
        raise ValueError(f"the URL's host is not a name or a bracketed IPv6 address; {forms}") from None


def _has_port(netloc: str) -> bool:
    """Whether the URL's authority names a port (anything after the host's last ``:``), whatever it holds:
    ``urlsplit(...).port`` would raise with the text after ``:`` in its message, and that may be a secret."""
    host = netloc.rpartition("@")[2]
    return ":" in host.rpartition("]")[2]


#: Host names that reach a cloud's instance metadata service (credentials of the machine's identity).
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal"})
#: The AWS instance metadata service's IPv6 address (not link-local: a unique local address).
_AWS_METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")


def metadata_address(host: str) -> bool:
    """Whether ``host`` is a link-local address (169.254.0.0/16, fe80::/10), in any spelling a resolver
    accepts (``2852039166``, ``0xa9.0xfe.0xa9.0xfe``, ``::ffff:169.254.169.254``, a zone id), or another
    address or name of a cloud's instance metadata service."""
    name = host.lower().rstrip(".")
    if name in METADATA_HOSTS:
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(name.partition("%")[0])
    except ValueError:
        try:  # the forms of IPv4 that inet_aton (and so getaddrinfo) reads: 2852039166, 0251.0376.…, 0xa9fea9fe
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None and mapped.is_link_local:
            return True
        if address == _AWS_METADATA_V6:
            return True
    return address.is_link_local


def check_endpoint(value: str) -> str:
    """``logging.endpoint``: an http(s) URL with no credentials, query or fragment, a numeric port, and a
    host that is not a cloud's metadata service. Raises ValueError without repeating the value."""
    parts = _split(value, "write http(s)://host:port")
    if "@" in parts.netloc:
        raise ValueError("the endpoint URL holds a user name or password (before '@'); remove it and put the "
                         "store's credentials in the Airflow connection named by logging.connection")
    if parts.query or parts.fragment:
        raise ValueError("the endpoint URL holds a query or fragment (after '?' or '#'), which may carry a "
                         "credential; give only scheme://host:port and put credentials in the Airflow "
                         "connection named by logging.connection")
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise ValueError("the port after the host's ':' is not a number from 0 to 65535; "
                         "write http(s)://host:port") from None
    host = parts.hostname or ""
    if not host:
        raise ValueError("the endpoint URL names no host; write http(s)://host:port")
    if metadata_address(host):
        raise ValueError(f"{host} is a link-local address (169.254.0.0/16, fe80::/10) or a cloud's instance "
                         "metadata service, which serves the machine's own credentials; give the address of "
                         "the S3 or GCS store (MinIO, an emulator)")
    return value


def provider_installed(distribution: str) -> bool:
    """Whether an Airflow provider is installed (read from package metadata: nothing is imported)."""
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


class LoggingSettings(Section):
    """Task logs: a copy in object storage (S3, GCS, Azure Blob) and how long local files are kept."""

    remote: str | None = Field(
        None,
        description=(
            "Where workers upload each task try's log when it ends: s3://bucket/prefix, gs://bucket/prefix or "
            "wasb://container@account/prefix. Unset: task logs stay on the machine that ran the task. Needs "
            "the cloud's extra: airdeck[aws], airdeck[gcp] or airdeck[azure]."
        ),
    )
    connection: str | None = Field(
        None,
        description=(
            "Airflow connection id with the credentials for `remote` (from the environment, Vault or the "
            "database, as Airflow resolves connections). Unset: the ambient identity (instance profile, "
            "IRSA, Workload Identity, managed identity)."
        ),
    )
    endpoint: HttpUrl | None = Field(
        None,
        description=(
            "API endpoint of a store that speaks the S3 or GCS protocol but is not the cloud's own (MinIO, an "
            "emulator). s3:// sets AWS_ENDPOINT_URL_S3 (the connection's extra endpoint_url wins), gs:// sets "
            "STORAGE_EMULATOR_HOST (the Google provider has no endpoint field); wasb:// takes its endpoint "
            "from the connection (connection string or account URL). Holds no user name, password, query or "
            "fragment (credentials go in `connection`); a link-local or cloud metadata address "
            "(169.254.0.0/16, fe80::/10, metadata.google.internal) is refused."
        ),
    )
    delete_local_after_upload: bool = Field(
        False,
        description=(
            "Remove a try's local log folder once its upload succeeded ([logging] delete_local_logs). A "
            "failed upload keeps the file."
        ),
    )
    retention: Annotated[Duration, Between("1h"), WholeSeconds] | None = Field(
        timedelta(days=30),
        description="Local task log files older than this are removed (with or without `remote`); null: kept forever.",
    )
    retention_interval: Annotated[Duration, Between("1m", "1d"), WholeSeconds] = Field(
        timedelta(hours=1), description="Time between two sweeps of the local task log folder.")

    @field_validator("remote")
    @classmethod
    def _remote(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parse_remote(value)
        return value.strip().rstrip("/")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else check_endpoint(value)

    @model_validator(mode="after")
    def _provider_installed(self) -> LoggingSettings:
        location = self.location
        if location is not None and not provider_installed(location.provider):
            raise ValueError(
                f"remote {location.scheme}:// needs the {location.cloud} provider ({location.provider}), which is "
                f"not installed; install airdeck with the extra: pip install 'airdeck[{location.extra}]' "
                f"(in a checkout: uv sync --extra {location.extra})")
        return self

    @field_validator("connection")
    @classmethod
    def _connection(cls, value: str | None) -> str | None:
        if value is not None and not _CONN_ID.match(value):
            raise ValueError("must be an Airflow connection id (letters, digits, _ . -)")
        return value

    @property
    def location(self) -> RemoteLocation | None:
        return parse_remote(self.remote) if self.remote else None
