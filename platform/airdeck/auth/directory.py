"""Talk to an LDAP directory with ldap3: check a password, read a user's attributes and groups.

Nothing here knows about Flask or Airflow, so ``airdeck ldap check`` and the api-server's security
manager share it, and tests run it directly against a real slapd.

Every value a person typed is escaped before it reaches a filter (``escape_filter_chars``) or a DN
(``escape_rdn``); an empty password is refused before any bind, since LDAP treats a simple bind with
an empty password as an anonymous bind that "succeeds".
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from airdeck.config.auth import LdapSettings

log = logging.getLogger("airdeck.auth.ldap")

#: Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: matches through nested group membership.
IN_CHAIN_RULE = "1.2.840.113556.1.4.1941"
#: supportedCapabilities value an Active Directory domain controller announces (LDAP_CAP_ACTIVE_DIRECTORY_OID).
AD_CAPABILITY = "1.2.840.113556.1.4.800"


#: Failures of the transport (network, TLS, timeouts): the directory is unavailable, not the password wrong.
_TRANSPORT_ERRORS = (
    ldap_exc.LDAPSocketOpenError, ldap_exc.LDAPSocketReceiveError, ldap_exc.LDAPSocketSendError,
    ldap_exc.LDAPSessionTerminatedByServerError, ldap_exc.LDAPStartTLSError, ldap_exc.LDAPResponseTimeoutError,
    ldap_exc.LDAPCertificateError, ldap_exc.LDAPSSLConfigurationError, ldap_exc.LDAPCommunicationError,
    ssl.SSLError, OSError,
)


class DirectoryUnavailable(Exception):
    """The directory cannot be reached or answered badly; nobody can be checked against it now."""


@dataclass
class DirectoryUser:
    dn: str
    username: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    groups: list[str] = field(default_factory=list)  # group DNs, direct and nested, as the directory spells them


def normalize_dn(dn: str) -> str:
    """A comparable form of a DN: attribute types and values lower-cased, no spaces around separators."""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except (ldap_exc.LDAPInvalidDnError, ValueError, TypeError):
        return dn.strip().lower()
    return ",".join(f"{attr.lower()}={value.lower()}" for attr, value, _sep in parts)


def roles_for_groups(groups: Iterable[str], mapping: dict[str, list[str]], default_role: str | None) -> list[str]:
    """Role names a member of ``groups`` gets: AUTH_ROLES_MAPPING plus the registration role, sorted."""
    member_of = {normalize_dn(group) for group in groups}
    roles: set[str] = set()
    for group, names in mapping.items():
        if normalize_dn(group) in member_of:
            roles.update(names)
    if default_role:
        roles.add(default_role)
    return sorted(roles)


def _first(entry_attributes: dict, name: str) -> str:
    value = entry_attributes.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _all(entry_attributes: dict, name: str) -> list[str]:
    value = entry_attributes.get(name) or []
    if not isinstance(value, list):
        value = [value]
    return [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in value]


def canonical_uid(dn: str, values: list[str], uid_attribute: str) -> str | None:
    """The account name of a directory entry: its own ``uid_attribute`` value, never the typed login.

    The directory matches logins with the attribute's equality rule (for ``uid``: case-insensitive,
    surrounding spaces ignored), so ``"ravi "``, ``" ravi"`` and ``"RAVI"`` all find the entry whose
    uid is ``ravi``; the account must be that one value whatever was typed. When the attribute has
    several values, the one in the entry's own name (its RDN) wins, else the smallest: the same entry
    always gives the same account."""
    values = [v for v in values if v and v.strip() == v and not any(ord(c) < 32 or ord(c) == 127 for c in v)]
    if not values:
        return None
    if len(values) > 1:
        try:
            attr, value, _sep = parse_dn(dn, escape=False, strip=True)[0]
        except (ldap_exc.LDAPInvalidDnError, ValueError, TypeError, IndexError):
            attr, value = "", ""
        if attr.lower() == uid_attribute.lower():
            for candidate in values:
                if candidate.lower() == value.lower():
                    return candidate
        return sorted(values)[0]
    return values[0]


class Directory:
    """One configured directory. Methods open a fresh connection each time (sign-ins are rare)."""

    def __init__(self, settings: LdapSettings, bind_password: str | None = None):
        self.settings = settings
        self._bind_password = bind_password
        self._is_ad: bool | None = None

    # ------------------------------------------------------------------ connections
    def _server(self) -> Server:
        s = self.settings
        tls = Tls(
            validate=ssl.CERT_REQUIRED if s.verify_certificate else ssl.CERT_NONE,
            ca_certs_file=str(s.ca_file) if s.ca_file else None,
            version=ssl.PROTOCOL_TLS_CLIENT,
        )
        return Server(s.url, use_ssl=s.url.startswith("ldaps://"), tls=tls,
                      connect_timeout=s.connect_timeout.total_seconds(), get_info=NONE)

    def _describe(self, exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        if "timed out" in text or isinstance(exc, ldap_exc.LDAPResponseTimeoutError):
            return f"no answer within the timeout ({text})"
        return text

    def _connect(self, user: str | None, password: str | None) -> Connection | None:
        """An open connection bound as ``user`` (anonymous when None), or None when the bind is refused.

        Raises DirectoryUnavailable when the directory cannot be reached, TLS fails or it times out."""
        s = self.settings
        conn = Connection(self._server(), user=user, password=password, auto_bind=False, read_only=True,
                          receive_timeout=max(1, math.ceil(s.response_timeout.total_seconds())), raise_exceptions=False,
                          auto_referrals=False)
        try:
            conn.open()
            if s.start_tls and not s.url.startswith("ldaps://"):
                conn.start_tls()
            bound = conn.bind()
        except _TRANSPORT_ERRORS as exc:
            _close(conn)
            raise DirectoryUnavailable(f"LDAP directory {s.url} is unreachable: {self._describe(exc)}") from exc
        if not bound:
            result = conn.result or {}
            description = result.get("description", "")
            _close(conn)
            if description in ("invalidCredentials", "inappropriateAuthentication", "invalidDNSyntax",
                               "noSuchObject", "unwillingToPerform"):
                return None
            raise DirectoryUnavailable(f"LDAP directory {s.url} refused the bind: {description or result}")
        return conn

    def _service_connection(self) -> Connection:
        """Bound as the service account (search-then-bind), or anonymously in direct-bind mode."""
        s = self.settings
        if s.bind_dn is None:
            conn = self._connect(None, None)
            if conn is None:
                raise DirectoryUnavailable(f"LDAP directory {s.url} refused an anonymous bind")
            return conn
        password = self._bind_password if self._bind_password is not None else s.bind_password()
        conn = self._connect(s.bind_dn, password)
        if conn is None:
            raise DirectoryUnavailable(
                f"LDAP directory {s.url} rejected the service account {s.bind_dn} (auth.ldap.bind_dn): "
                "check its password file or environment variable")
        return conn

    # ------------------------------------------------------------------ public
    def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        """The user when ``password`` is theirs, else None. Raises DirectoryUnavailable."""
        try:
            return self._authenticate(username, password)
        except _TRANSPORT_ERRORS as exc:
            raise DirectoryUnavailable(f"LDAP directory {self.settings.url} failed: {self._describe(exc)}") from exc

    def _authenticate(self, username: str, password: str) -> DirectoryUser | None:
        if not username or not password or "\x00" in username or "\x00" in password:
            return None
        s = self.settings
        if s.bind_dn is not None:
            with _closing(self._service_connection()) as service:
                found = self._find_user(service, username)
            if found is None:
                log.info("LDAP: no unique directory user for login %r", username)
                return None
            user_conn = self._connect(found.dn, password)
            if user_conn is None:
                log.info("LDAP: wrong password for %r", username)
                return None
            _close(user_conn)
            return found
        user_dn = self.user_dn(username)
        user_conn = self._connect(user_dn, password)
        if user_conn is None:
            log.info("LDAP: wrong password or unknown user %r", username)
            return None
        with _closing(user_conn):
            found = self._find_user(user_conn, username, known_dn=user_dn)
        if found is None:
            log.info("LDAP: %r bound but does not match auth.ldap.user_filter (disabled?)", username)
        return found

    def lookup(self, username: str, password: str | None = None) -> DirectoryUser | None:
        """The user's entry and groups without checking a password (service account or the user's own bind)."""
        try:
            return self._lookup(username, password)
        except _TRANSPORT_ERRORS as exc:
            raise DirectoryUnavailable(f"LDAP directory {self.settings.url} failed: {self._describe(exc)}") from exc

    def _lookup(self, username: str, password: str | None) -> DirectoryUser | None:
        if not username:
            return None
        s = self.settings
        if s.bind_dn is None and password:
            conn = self._connect(self.user_dn(username), password)
            if conn is None:
                return None
            with _closing(conn):
                return self._find_user(conn, username, known_dn=self.user_dn(username))
        with _closing(self._service_connection()) as conn:
            known = self.user_dn(username) if s.bind_dn is None else None
            return self._find_user(conn, username, known_dn=known)

    def user_dn(self, username: str) -> str:
        template = self.settings.user_dn_template
        if template is None:
            raise ValueError("no user_dn_template configured")
        return template.replace("{username}", escape_rdn(username))

    # ------------------------------------------------------------------ searching
    def _user_attributes(self) -> list[str]:
        s = self.settings
        attrs = [s.uid_attribute, s.first_name_attribute, s.last_name_attribute, s.email_attribute]
        if s.group_attribute:
            attrs.append(s.group_attribute)
        return attrs

    def _find_user(self, conn: Connection, username: str, known_dn: str | None = None) -> DirectoryUser | None:
        s = self.settings
        uid_filter = f"({s.uid_attribute}={escape_filter_chars(username)})"
        search_filter = f"(&{s.user_filter}{uid_filter})"
        if known_dn is not None and not s.user_search_base:
            ok = conn.search(known_dn, search_filter, search_scope=BASE, attributes=self._user_attributes())
        else:
            base = s.user_search_base or known_dn or ""
            ok = conn.search(base, search_filter, search_scope=SUBTREE, attributes=self._user_attributes(),
                             size_limit=2)
        self._check_search(conn, ok)
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if known_dn is not None:
            entries = [e for e in entries if normalize_dn(e["dn"]) == normalize_dn(known_dn)]
        if len(entries) != 1:
            if len(entries) > 1:
                log.warning("LDAP: login %r matches %d entries; refusing an ambiguous sign-in", username, len(entries))
            return None
        entry = entries[0]
        attributes = entry.get("attributes", {})
        account = canonical_uid(entry["dn"], _all(attributes, s.uid_attribute), s.uid_attribute)
        if account is None:
            log.warning("LDAP: entry %s has no usable %s attribute; refusing the sign-in of %r",
                        entry["dn"], s.uid_attribute, username)
            return None
        user = DirectoryUser(
            dn=entry["dn"],
            username=account,
            first_name=_first(attributes, s.first_name_attribute),
            last_name=_first(attributes, s.last_name_attribute),
            email=_first(attributes, s.email_attribute),
        )
        user.groups = self._groups(conn, user.dn, _all(attributes, s.group_attribute) if s.group_attribute else [])
        return user

    def _check_search(self, conn: Connection, ok: bool) -> None:
        if ok:
            return
        description = (conn.result or {}).get("description", "")
        if description in ("noSuchObject", "success", "sizeLimitExceeded", ""):
            return
        if description in ("timeLimitExceeded", "busy", "unavailable", "unwillingToPerform", "other"):
            raise DirectoryUnavailable(f"LDAP search failed on {self.settings.url}: {description}")
        log.warning("LDAP search returned %s", description)

    def _is_active_directory(self, conn: Connection) -> bool:
        if self._is_ad is None:
            ok = conn.search("", "(objectClass=*)", search_scope=BASE, attributes=["supportedCapabilities"])
            caps = []
            if ok and conn.response:
                caps = _all(conn.response[0].get("attributes", {}), "supportedCapabilities")
            self._is_ad = AD_CAPABILITY in caps
        return self._is_ad

    def _groups(self, conn: Connection, user_dn: str, direct: list[str]) -> list[str]:
        s = self.settings
        found: dict[str, str] = {normalize_dn(g): g for g in direct}
        member_filter_attr = s.group_member_attribute

        use_in_chain = s.nested_groups and s.in_chain_matching != "never" and (
            s.in_chain_matching == "always" or self._is_active_directory(conn))
        if use_in_chain:
            base = s.group_search_base or s.user_search_base or ""
            flt = f"(&{s.group_filter}({member_filter_attr}:{IN_CHAIN_RULE}:={escape_filter_chars(user_dn)}))"
            if conn.search(base, flt, search_scope=SUBTREE, attributes=[]):
                for entry in conn.response or []:
                    if entry.get("type") == "searchResEntry":
                        found.setdefault(normalize_dn(entry["dn"]), entry["dn"])
                return sorted(found.values(), key=normalize_dn)
            log.info("LDAP: in-chain matching rule not usable on %s (%s); following groups one level at a time",
                     s.url, (conn.result or {}).get("description"))

        if s.group_search_base:
            for dn in self._groups_containing(conn, user_dn):
                found.setdefault(normalize_dn(dn), dn)
        if not s.nested_groups:
            return sorted(found.values(), key=normalize_dn)

        frontier = list(found.values())
        for _depth in range(s.max_nesting_depth):
            next_frontier: list[str] = []
            for group in frontier:
                for parent in self._parents_of(conn, group):
                    key = normalize_dn(parent)
                    if key not in found:
                        found[key] = parent
                        next_frontier.append(parent)
            if not next_frontier:
                break
            frontier = next_frontier
        return sorted(found.values(), key=normalize_dn)

    def _groups_containing(self, conn: Connection, member_dn: str) -> list[str]:
        s = self.settings
        flt = f"(&{s.group_filter}({s.group_member_attribute}={escape_filter_chars(member_dn)}))"
        ok = conn.search(s.group_search_base or "", flt, search_scope=SUBTREE, attributes=[])
        self._check_search(conn, ok)
        return [e["dn"] for e in conn.response or [] if e.get("type") == "searchResEntry"]

    def _parents_of(self, conn: Connection, group_dn: str) -> list[str]:
        s = self.settings
        parents: list[str] = []
        if s.group_search_base:
            parents += self._groups_containing(conn, group_dn)
        if s.group_attribute:
            ok = conn.search(group_dn, "(objectClass=*)", search_scope=BASE, attributes=[s.group_attribute])
            if ok and conn.response:
                parents += _all(conn.response[0].get("attributes", {}), s.group_attribute)
        return parents


def _close(conn: Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing a broken socket must not hide the real error
        log.debug("LDAP unbind failed", exc_info=True)


class _closing:
    def __init__(self, conn: Connection):
        self.conn = conn

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        _close(self.conn)
