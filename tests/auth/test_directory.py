"""ldap3 sign-in logic against a real slapd: binds, TLS, groups, nesting, injection, outages."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from airdeck.auth.directory import Directory, DirectoryUnavailable, normalize_dn, roles_for_groups
from airdeck.config.auth import LdapSettings
from ldap3 import HASHED_SALTED_SHA
from ldap3.utils.hashed import hashed

from tests.auth.slapd import GROUPS, PASSWORDS, PEOPLE, Slapd, group_dn, user_dn
from tests.harness import free_port

pytestmark = pytest.mark.integration


def directory(slapd: Slapd, **overrides: object) -> Directory:
    return Directory(LdapSettings.model_validate(slapd.ldap_settings(**overrides)))


def roles(slapd: Slapd, uid: str, **overrides: object) -> list[str]:
    d = directory(slapd, **overrides)
    user = d.authenticate(uid, PASSWORDS[uid])
    assert user is not None, uid
    return roles_for_groups(user.groups, d.settings.roles_mapping, d.settings.default_role)


EXPECTED_ROLES = {
    "carol": ["Admin", "Public"],
    "olga": ["Op", "Public"],
    "ulrich": ["Public", "User"],
    "dave": ["DagAuthor", "Public", "User"],  # User only through the nested group
    "vera": ["Public", "Viewer"],
    "fiona": ["Public", "team_finance"],
    "mallory": ["Public"],
    "zoë": ["DagAuthor", "Public", "User", "Viewer"],
}


@pytest.mark.parametrize("uid", sorted(EXPECTED_ROLES))
def test_search_then_bind_gives_exactly_the_mapped_roles(slapd: Slapd, uid: str) -> None:
    assert roles(slapd, uid) == EXPECTED_ROLES[uid]


def test_user_attributes_including_non_ascii(slapd: Slapd) -> None:
    user = directory(slapd).authenticate("zoë", PASSWORDS["zoë"])
    assert user is not None
    assert (user.dn, user.first_name, user.last_name, user.email) == (
        user_dn("zoë"), "Zoë", "Ångström-Núñez", "zoe@airdeck.test")


def test_nested_group_membership_is_recursive(slapd: Slapd) -> None:
    user = directory(slapd).authenticate("dave", PASSWORDS["dave"])
    assert user is not None
    assert {normalize_dn(g) for g in user.groups} == {normalize_dn(group_dn("data-engineers")),
                                                      normalize_dn(group_dn("airflow-users"))}
    flat = directory(slapd, nested_groups=False).authenticate("dave", PASSWORDS["dave"])
    assert flat is not None and [normalize_dn(g) for g in flat.groups] == [normalize_dn(group_dn("data-engineers"))]


def test_in_chain_rule_is_not_used_on_openldap_and_forced_use_falls_back(slapd: Slapd) -> None:
    # slapd does not announce Active Directory: auto must not use the rule, and "always" must still resolve
    # the nesting (the rule is rejected by slapd, the search falls back to one level at a time).
    assert roles(slapd, "dave", in_chain_matching="always") == EXPECTED_ROLES["dave"]
    d = directory(slapd)
    d.authenticate("dave", PASSWORDS["dave"])
    assert d._is_ad is False


def test_member_of_attribute_alone_finds_groups_and_nesting(slapd: Slapd) -> None:
    # The memberof overlay maintains memberOf on users and groups, as Active Directory does.
    assert roles(slapd, "dave", group_search_base=None) == EXPECTED_ROLES["dave"]


def test_direct_bind_by_dn_template_over_ldaps(slapd: Slapd) -> None:
    overrides = {"url": slapd.ldaps_url, "bind_dn": None, "bind_password_file": None,
                 "user_dn_template": f"uid={{username}},{PEOPLE}"}
    assert roles(slapd, "zoë", **overrides) == EXPECTED_ROLES["zoë"]
    assert directory(slapd, **overrides).authenticate("zoë", "wrong") is None
    # The disabled account binds (its password is right) but is excluded by user_filter.
    assert directory(slapd, **overrides).authenticate("dan", PASSWORDS["dan"]) is None


@pytest.mark.parametrize("uid,password", [
    ("vera", "wrong-password"),
    ("nobody", "whatever"),
    ("dan", PASSWORDS["dan"]),  # disabled
    ("vera", ""),  # an empty password would be an anonymous bind that "succeeds"
    ("", "x"),
])
def test_refused(slapd: Slapd, uid: str, password: str) -> None:
    assert directory(slapd).authenticate(uid, password) is None


@pytest.mark.parametrize("attempt", ["*", ")(uid=*", "*)(uid=*))(|(uid=*", "vera)(|(uid=*", "v*", "\\2a",
                                     "vera\x00", "uid=vera,ou=people,dc=airdeck,dc=test"])
def test_injection_attempts_fail(slapd: Slapd, attempt: str) -> None:
    # With any password, including a real one, for both search-then-bind and direct bind.
    for password in ("x", PASSWORDS["vera"]):
        assert directory(slapd).authenticate(attempt, password) is None
        direct = directory(slapd, bind_dn=None, bind_password_file=None, user_dn_template=f"uid={{username}},{PEOPLE}")
        assert direct.authenticate(attempt, password) is None


def test_certificate_is_verified_by_default(slapd: Slapd, tmp_path: Path) -> None:
    # Without our CA the directory's certificate is untrusted: StartTLS and ldaps both refuse.
    with pytest.raises(DirectoryUnavailable):
        directory(slapd, ca_file=None).authenticate("vera", PASSWORDS["vera"])
    with pytest.raises(DirectoryUnavailable):
        directory(slapd, url=slapd.ldaps_url, ca_file=None).authenticate("vera", PASSWORDS["vera"])
    # The right CA but the wrong host name (the certificate names localhost and 127.0.0.1).
    other = directory(slapd, url=f"ldaps://127.0.0.2:{slapd.tls_port}")
    with pytest.raises(DirectoryUnavailable):
        other.authenticate("vera", PASSWORDS["vera"])
    # Only an explicit opt-out accepts it.
    assert directory(slapd, ca_file=None, verify_certificate=False).authenticate("vera", PASSWORDS["vera"])


def test_unreachable_directory_raises_with_url(slapd: Slapd) -> None:
    port = free_port()  # reserved for this process: nothing listens there
    with pytest.raises(DirectoryUnavailable, match=f"127.0.0.1:{port}"):
        directory(slapd, url=f"ldap://127.0.0.1:{port}").authenticate("vera", PASSWORDS["vera"])


def test_response_timeout_is_enforced(slapd: Slapd) -> None:
    # A server that accepts connections and never answers.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            directory(slapd, url=f"ldap://127.0.0.1:{server.getsockname()[1]}", response_timeout=1,
                      connect_timeout=1).authenticate("vera", PASSWORDS["vera"])
        assert time.monotonic() - started < 30
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_wrong_service_account_password_is_an_outage_not_a_wrong_user_password(slapd: Slapd, tmp_path: Path) -> None:
    bad = tmp_path / "bad-password"
    bad.write_text("nope")
    with pytest.raises(DirectoryUnavailable, match="service account"):
        directory(slapd, bind_password_file=str(bad)).authenticate("vera", PASSWORDS["vera"])


def test_membership_change_is_seen_at_next_authentication(slapd: Slapd) -> None:
    assert roles(slapd, "mallory") == ["Public"]
    slapd.add_member("airflow-ops", user_dn("mallory"))
    try:
        assert roles(slapd, "mallory") == ["Op", "Public"]
    finally:
        slapd.remove_member("airflow-ops", user_dn("mallory"))
    assert roles(slapd, "mallory") == ["Public"]


def test_lookup_without_password(slapd: Slapd) -> None:
    user = directory(slapd).lookup("fiona")
    assert user is not None and user.dn == user_dn("fiona")
    assert [normalize_dn(g) for g in user.groups] == [normalize_dn(f"cn=team-finance,{GROUPS}")]
    assert directory(slapd).lookup("*") is None


def test_mapping_keys_match_dns_case_and_space_insensitively() -> None:
    mapping = {"CN=Airflow-Admins, OU=Groups,DC=airdeck,DC=test": ["Admin"]}
    assert roles_for_groups([group_dn("airflow-admins")], mapping, None) == ["Admin"]
    assert roles_for_groups([], mapping, "Viewer") == ["Viewer"]


# ------------------------------------------------------------------ one person, one account (issue 13, finding 3)
LOGIN_VARIANTS = ["vera", "vera ", " vera", "VERA", "  Vera  "]


@pytest.mark.parametrize("login", LOGIN_VARIANTS)
def test_every_spelling_of_a_login_signs_in_as_the_directory_uid(slapd: Slapd, login: str) -> None:
    # slapd matches uid with caseIgnoreMatch (case and surrounding spaces ignored): each spelling finds
    # vera's entry, and the account must be the entry's own uid, never what was typed.
    search = directory(slapd).authenticate(login, PASSWORDS["vera"])
    assert search is not None and search.username == "vera" and search.dn == user_dn("vera")
    direct = directory(slapd, bind_dn=None, bind_password_file=None,
                       user_dn_template=f"uid={{username}},{PEOPLE}").authenticate(login, PASSWORDS["vera"])
    assert direct is None or direct.username == "vera"  # refused when the DN template does not match
    if login.strip() == login:
        assert direct is not None and direct.username == "vera"
    looked_up = directory(slapd).lookup(login)
    assert looked_up is not None and looked_up.username == "vera"


@pytest.fixture
def unusual_people(slapd: Slapd) -> Iterator[str]:
    """A second branch unlike the fixtures: a mixed-case uid, and an entry with two uid values."""
    base = "ou=unusual,dc=airdeck,dc=test"
    conn = slapd.admin()
    try:
        assert conn.add(base, ["top", "organizationalUnit"], {"ou": "unusual"}), conn.result
        assert conn.add(f"uid=Ravi,{base}", ["top", "person", "organizationalPerson", "inetOrgPerson"],
                        {"uid": ["Ravi", "ravi.kumar"], "cn": "Ravi Kumar", "sn": "Kumar",
                         "userPassword": hashed(HASHED_SALTED_SHA, "ravi-pw-1")}), conn.result
        assert conn.add(f"cn=Nouid Person,{base}", ["top", "person", "organizationalPerson", "inetOrgPerson"],
                        {"cn": "Nouid Person", "sn": "Person", "mail": "nouid@airdeck.test",
                         "userPassword": hashed(HASHED_SALTED_SHA, "nouid-pw-1")}), conn.result
        yield base
    finally:
        for dn in (f"uid=Ravi,{base}", f"cn=Nouid Person,{base}", base):
            conn.delete(dn)
        conn.unbind()


@pytest.mark.parametrize("login", ["Ravi", "ravi", " RAVI", "ravi ", "ravi.kumar", "RAVI.KUMAR "])
def test_account_is_the_entry_uid_whatever_the_login(slapd: Slapd, unusual_people: str, login: str) -> None:
    d = directory(slapd, user_search_base=unusual_people, user_filter="(objectClass=inetOrgPerson)")
    user = d.authenticate(login, "ravi-pw-1")
    assert user is not None and user.username == "Ravi", (login, user)


def test_account_follows_the_configured_uid_attribute(slapd: Slapd, unusual_people: str) -> None:
    d = directory(slapd, user_search_base=unusual_people, uid_attribute="mail",
                  user_filter="(objectClass=inetOrgPerson)")
    assert d.authenticate("nouid@airdeck.test", "nouid-pw-1") is not None  # mail is its login there
    d = directory(slapd, user_search_base=unusual_people, uid_attribute="cn",
                  user_filter="(objectClass=inetOrgPerson)")
    user = d.authenticate("nouid person", "nouid-pw-1")
    assert user is not None and user.username == "Nouid Person"


def test_canonical_uid_rules() -> None:
    from airdeck.auth.directory import canonical_uid

    assert canonical_uid("uid=ravi,ou=p,dc=x", ["ravi"], "uid") == "ravi"
    assert canonical_uid("uid=Ravi,ou=p,dc=x", ["ravi.kumar", "Ravi"], "uid") == "Ravi"  # the RDN's value
    assert canonical_uid("cn=R K,ou=p,dc=x", ["zeta", "alpha"], "uid") == "alpha"  # stable: the smallest
    assert canonical_uid("cn=R K,ou=p,dc=x", [], "uid") is None
    assert canonical_uid("cn=R K,ou=p,dc=x", [" padded "], "uid") is None  # never a value with spaces around
    assert canonical_uid("cn=R K,ou=p,dc=x", ["a\nb"], "uid") is None
