"""The ``dags:`` section of airdeck.yaml: where DAG files come from (Airflow 3 DAG bundles).

Example::

    dags:
      bundles:
        - name: team-a
          git: {url: https://git.example.com/data/team-a.git, branch: main, subdir: dags, refresh: 60s,
                connection: git_team_a}
        - name: local
          folder: ./dags

A git bundle is versioned: a DAG run keeps the commit it started with to its end. A folder bundle is
not. Credentials never go in the URL: they come from an Airflow connection of type ``git``
(environment, Vault or the metadata database). ``airflow.dags_folder`` is the short form of one folder
bundle named ``dags-folder``; it cannot be combined with ``dags.bundles``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from airdeck.config.base import Between, Duration, Section, WholeSeconds

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:[^\s]+$")  # git@host:org/repo.git
#: Bundle names Airflow keeps for itself (``[core] load_examples``).
RESERVED_NAMES = ("example_dags",)


_CREDENTIALS_HINT = ("put them in the Airflow connection named by 'connection' (login and password/token) so they "
                     "stay out of configuration, logs and argv")


def _check_url(value: str) -> str:
    """A repository URL git reads as a URL, never as an option, and holding no credential.

    Errors never repeat the value: it may hold a token."""
    if any(ord(c) < 32 or c == " " or c == "\x7f" for c in value):
        raise ValueError("must not contain spaces or control characters")
    if value.startswith("-"):
        raise ValueError("must not start with '-' (git would read it as an option); write the repository's URL")
    scp = _SCP_LIKE.match(value)
    if scp:
        user, _, rest = value.partition("@")
        host, _, path = rest.partition(":")
        if any(part.startswith("-") for part in (user, host, path)):
            raise ValueError("the user, host and path of user@host:path must not start with '-' (ssh and git "
                             "would read them as options)")
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("the host is not a name or a bracketed IPv6 address") from None
    if parts.scheme not in ("https", "http", "ssh", "git", "file"):
        raise ValueError("must be an https://, http://, ssh://, git:// or file:// URL, or git@host:path")
    if parts.scheme != "file" and not parts.hostname:
        raise ValueError("has no host")
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise ValueError("the port after the host's ':' is not a number from 0 to 65535") from None
    if parts.password is not None or (parts.scheme in ("http", "https") and parts.username is not None):
        raise ValueError(f"must not carry credentials (user:password@ or token@); {_CREDENTIALS_HINT}")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must not have a query or fragment (?… or #…, e.g. ?access_token=…): a repository URL "
                         f"needs neither, and a token there would be shown and logged; {_CREDENTIALS_HINT}")
    if any(part.startswith("-") for part in (parts.username or "", parts.hostname or "",
                                              parts.path.lstrip("/"))):
        raise ValueError("the user, host and path of the URL must not start with '-' (ssh and git would read them "
                         "as options)")
    return value


def _check_ref(value: str) -> str:
    # The subset of git-check-ref-format that matters here: no option-like, relative or odd refs.
    if (not value or value.startswith(("-", "/")) or value.endswith(("/", ".", ".lock")) or ".." in value
            or "@{" in value or re.search(r"[\s~^:?*\[\\\x00-\x1f\x7f]", value)):
        raise ValueError(f"{value!r} is not a valid git branch or tag name")
    return value


def _check_subdir(value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value or any(ord(c) < 32 for c in value):
        raise ValueError("must be a relative path inside the repository (no leading /, no ..)")
    return str(path)


class GitSource(Section):
    """A git repository, fetched by the dag-processor and, per version, by each worker."""

    url: str = Field(description="Repository URL (https://, ssh://, git@host:path, file://), without credentials.")
    branch: str = Field("main", description="Branch (or tag) the bundle tracks.")
    subdir: str | None = Field(None, description="Folder of the repository that holds the DAG files.")
    refresh: Annotated[Duration, Between("5s", "1d"), WholeSeconds] = Field(
        timedelta(seconds=60), description="How often the dag-processor fetches the branch.")
    connection: str | None = Field(
        None, description="Airflow connection id of type git with the credentials (login and password or "
                          "token; or an SSH key in its extra). Unset: an anonymous repository.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        return _check_ref(value)

    @field_validator("subdir")
    @classmethod
    def _subdir(cls, value: str | None) -> str | None:
        return None if value is None else _check_subdir(value)

    @field_validator("connection")
    @classmethod
    def _connection(cls, value: str | None) -> str | None:
        if value is not None and not _CONN_ID.match(value):
            raise ValueError("must be an Airflow connection id (letters, digits, _ . -)")
        return value


class BundleSettings(Section):
    """One DAG bundle: a git repository (versioned) or a local folder (not versioned)."""

    name: str = Field(description="Bundle name, shown in the UI and in `airdeck dags status` (letters, digits, "
                                  "_ . -; at most 64).")
    git: GitSource | None = Field(None, description="Deliver the DAGs from this git repository.")
    folder: Path | None = Field(None, description="Deliver the DAGs from this local folder (for development).")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must start with a letter or digit and use letters, digits, _ . - (at most 64)")
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is reserved by Airflow for its example DAGs; choose another name")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> BundleSettings:
        if (self.git is None) == (self.folder is None):
            raise ValueError(f"bundle {self.name!r}: give exactly one of 'git' or 'folder'")
        return self

    @property
    def versioned(self) -> bool:
        return self.git is not None


class DagsSettings(Section):
    """Where DAGs come from: Airflow 3 DAG bundles from git (versioned runs) or folders."""

    bundles: list[BundleSettings] = Field(
        default_factory=list,
        description="DAG bundles. Unset: one folder bundle on airflow.dags_folder (or the bundled examples).")
    versioned_runs: bool = Field(
        True, description="A DAG run keeps the bundle version (git commit) it started with; "
                          "false runs every task with the latest code ([dag_processor] disable_bundle_versioning).")

    @field_validator("bundles")
    @classmethod
    def _unique(cls, value: list[BundleSettings]) -> list[BundleSettings]:
        seen: set[str] = set()
        for index, bundle in enumerate(value):
            if bundle.name in seen:
                raise ValueError(f"bundles.{index}.name: {bundle.name!r} is used by two bundles; names are unique")
            seen.add(bundle.name)
        return value
