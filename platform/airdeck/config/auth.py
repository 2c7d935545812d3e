"""The ``auth:`` section of airdeck.yaml: how people sign in and which roles they get.

``mode: db`` keeps accounts in Airflow's own (FAB) database. ``mode: ldap`` signs people in against a
directory with ldap3 and maps their groups to roles, with FAB's ``AUTH_ROLES_MAPPING`` semantics.
The service account's password is never written in this file: it comes from a file or an
environment variable, read by the api-server when it binds.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from airdeck.config.base import Between, Duration, Section, no_inline_credentials

BUILTIN_ROLES = ("Admin", "Op", "User", "Viewer", "Public")
#: A flask-limiter rate, as FAB's auth_rate_limit takes it: "5 per 40 second", "20 per minute", "100/day".
_RATE_LIMIT = re.compile(r"^\d+\s*(?:per|/)\s*(?:\d+\s*)?(?:second|minute|hour|day|month|year)s?$")

#: Keys that would put the service account's password into airdeck.yaml, and where it is read from instead.
INLINE_PASSWORD_KEYS = dict.fromkeys(
    ("bind_password", "password", "bindpw"),
    "bind_password_file (a 0600 file) or bind_password_env (an environment variable)",
)


def _filter_is_balanced(value: str) -> bool:
    depth = 0
    for char in value:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0 and value.startswith("(") and value.endswith(")")


class LdapSettings(Section):
    """The LDAP directory people sign in against, and how its groups map to roles."""

    url: str = Field(
        ...,
        description="ldap://host:389 (with start_tls) or ldaps://host:636. One directory server.",
    )
    start_tls: bool = Field(
        True,
        description="Upgrade an ldap:// connection with StartTLS before sending any password (ignored for ldaps://).",
    )
    ca_file: Path | None = Field(
        None, description="PEM file of the CA that signed the directory's certificate (default: system CAs)."
    )
    verify_certificate: bool = Field(
        True, description="Verify the directory's certificate and host name. Turn off only for a lab."
    )
    connect_timeout: Annotated[Duration, Between("1ms", "2m")] = Field(
        timedelta(seconds=5), description="Time allowed to open the connection.")
    response_timeout: Annotated[Duration, Between("1ms", "5m")] = Field(
        timedelta(seconds=10), description="Time to wait for each answer.")

    # --- how the user is found and their password checked
    user_dn_template: str | None = Field(
        None,
        description=(
            "Direct bind: the user's DN with {username} in it, e.g. uid={username},ou=people,dc=example,dc=org "
            "(for Active Directory: {username}@example.org). Leave unset to search with bind_dn."
        ),
    )
    bind_dn: str | None = Field(
        None, description="Service account that searches for users (search-then-bind). Read-only is enough."
    )
    bind_password_file: Path | None = Field(None, description="File holding the service account's password.")
    bind_password_env: str | None = Field(
        None, description="Environment variable holding the service account's password."
    )
    user_search_base: str | None = Field(None, description="Where users live, e.g. ou=people,dc=example,dc=org.")
    user_filter: str = Field(
        "(objectClass=person)",
        description=(
            "Extra LDAP filter a user must match, e.g. to exclude disabled accounts "
            "(AD: (!(userAccountControl:1.2.840.113556.1.4.803:=2)))."
        ),
    )
    uid_attribute: str = Field("uid", description="Attribute holding the login name (AD: sAMAccountName).")
    first_name_attribute: str = Field("givenName", description="Attribute holding the user's first name.")
    last_name_attribute: str = Field("sn", description="Attribute holding the user's last name.")
    email_attribute: str = Field("mail", description="Attribute holding the user's email address.")

    # --- groups
    group_attribute: str | None = Field(
        "memberOf", description="Attribute of the user listing its groups (AD, OpenLDAP memberof overlay)."
    )
    group_search_base: str | None = Field(
        None, description="Also search groups here whose group_member_attribute names the user."
    )
    group_filter: str = Field("(|(objectClass=groupOfNames)(objectClass=group))",
                              description="LDAP filter the groups found under group_search_base must match.")
    group_member_attribute: str = Field("member", description="Attribute of a group listing member DNs.")
    nested_groups: bool = Field(True, description="Count the groups of the user's groups too (recursively).")
    in_chain_matching: Literal["auto", "always", "never"] = Field(
        "auto",
        description=(
            "Use Active Directory's in-chain matching rule (1.2.840.113556.1.4.1941) to resolve nested groups "
            "in one query; auto = when the server says it is Active Directory."
        ),
    )
    max_nesting_depth: int = Field(10, ge=1, le=100, description="Levels of nested groups followed at most.")

    # --- roles (FAB vocabulary)
    roles_mapping: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Group DN -> Airflow roles (AUTH_ROLES_MAPPING). A user gets the roles of every group.",
    )
    default_role: str | None = Field(
        "Public",
        description="Role every directory user gets on top of mapped ones (AUTH_USER_REGISTRATION_ROLE).",
    )
    register_users: bool = Field(True, description="Create an Airflow user at first sign-in (AUTH_USER_REGISTRATION).")
    sync_roles_at_login: bool = Field(True, description="Recompute roles at every sign-in (AUTH_ROLES_SYNC_AT_LOGIN).")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_password(cls, data: Any) -> Any:
        return no_inline_credentials(INLINE_PASSWORD_KEYS)(data)

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, value: str) -> str:
        if not value.startswith(("ldap://", "ldaps://")):
            raise ValueError("must start with ldap:// or ldaps:// (e.g. ldaps://ldap.example.org:636)")
        return value.rstrip("/")

    @field_validator("user_filter", "group_filter")
    @classmethod
    def _balanced(cls, value: str) -> str:
        if not _filter_is_balanced(value):
            raise ValueError("must be an LDAP filter in parentheses with balanced brackets, e.g. (objectClass=person)")
        return value

    @field_validator("user_dn_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None and value.count("{username}") != 1:
            raise ValueError("must contain {username} exactly once, e.g. uid={username},ou=people,dc=example,dc=org")
        return value

    @field_validator("roles_mapping")
    @classmethod
    def _roles_named(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, roles in value.items():
            if "=" not in group:
                raise ValueError(f"key {group!r} must be a group DN, "
                                 "such as cn=airflow-admins,ou=groups,dc=example,dc=org")
            if not roles:
                raise ValueError(f"group {group!r} maps to no role; list at least one")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LdapSettings:
        if self.url.startswith("ldap://") and not self.start_tls:
            host = self.url[len("ldap://"):].split("/")[0].rsplit(":", 1)[0].strip("[]")
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise ValueError("ldap:// without start_tls would send passwords in clear text; "
                                 "use start_tls: true or an ldaps:// URL")
        if self.user_dn_template is None and self.bind_dn is None:
            raise ValueError("set either user_dn_template (direct bind) or bind_dn (search with a service account)")
        if self.bind_dn is not None:
            if self.user_search_base is None:
                raise ValueError("user_search_base is required with bind_dn (where to search for users)")
            if self.bind_password_file is None and self.bind_password_env is None:
                raise ValueError("bind_dn needs its password from bind_password_file or bind_password_env")
            if self.bind_password_file is not None and self.bind_password_env is not None:
                raise ValueError("give bind_password_file or bind_password_env, not both")
        if self.group_attribute is None and self.group_search_base is None and self.roles_mapping:
            raise ValueError("roles_mapping needs group_attribute or group_search_base to find the user's groups")
        return self

    def bind_password(self) -> str | None:
        """The service account's password, read now from its file or environment variable."""
        if self.bind_password_file is not None:
            try:
                return self.bind_password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read auth.ldap.bind_password_file {self.bind_password_file}: "
                                 f"{exc.strerror}") from None
        if self.bind_password_env is not None:
            value = os.environ.get(self.bind_password_env)
            if not value:
                raise ValueError(f"environment variable {self.bind_password_env} (auth.ldap.bind_password_env) "
                                 "is not set")
            return value
        return None


class AuthSettings(Section):
    """How people sign in and which roles they get."""

    mode: Literal["db", "ldap"] = Field("db", description="db: accounts in Airflow's database; ldap: a directory.")
    ldap: LdapSettings | None = Field(None, description="The directory, required when mode is ldap.")
    break_glass_users: list[str] | None = Field(
        None,
        description=(
            "Local accounts that sign in with their database password even when mode is ldap (for when the "
            "directory is down). Default: the admin account (admin.username); [] for none."
        ),
    )
    login_rate_limit: str = Field(
        "5 per 40 second", description="Sign-in attempts allowed per client ([fab] auth_rate_limit)."
    )
    session_lifetime_minutes: int = Field(
        720, ge=5, le=43200, description="Idle minutes before a UI session expires ([fab] session_lifetime_minutes)."
    )

    permission_cache_seconds: int = Field(
        30, ge=0, le=3600,
        description=("Seconds the api-server caches a user's roles ([fab] cache_ttl): a role change reaches "
                     "tokens and sessions already issued within this time."),
    )

    @field_validator("login_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if not _RATE_LIMIT.match(value.strip()):
            raise ValueError("must read like '5 per 40 second' or '20 per minute'")
        return value

    @model_validator(mode="after")
    def _ldap_present(self) -> AuthSettings:
        if self.mode == "ldap" and self.ldap is None:
            raise ValueError("mode is ldap but the ldap: section is missing (url, and user_dn_template or bind_dn)")
        return self

    def break_glass(self, admin_username: str) -> list[str]:
        return [admin_username] if self.break_glass_users is None else list(self.break_glass_users)
