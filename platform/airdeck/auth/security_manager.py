"""The FAB security manager airdeck installs: LDAP sign-in with ldap3 instead of python-ldap.

The rendered ``webserver_config.py`` sets ``SECURITY_MANAGER_CLASS`` to :class:`AirdeckSecurityManager`
and ``AUTH_TYPE = AUTH_LDAP``. FAB then calls :meth:`auth_user_ldap` from the login form, and the FAB
auth manager calls it from ``POST /auth/token`` (falling back to :meth:`auth_user_db`).

Behaviour, in FAB's ``AUTH_*`` vocabulary:

- ``AUTH_ROLES_MAPPING``: group DN -> roles; ``AUTH_USER_REGISTRATION_ROLE`` is added to every directory
  user; ``AUTH_ROLES_SYNC_AT_LOGIN`` recomputes the roles at each sign-in; ``AUTH_USER_REGISTRATION``
  creates the Airflow user at first sign-in (without a usable local password).
- Break-glass accounts (``AIRDECK_BREAK_GLASS_USERS``) are local accounts: they are checked against the
  database only, so they work when the directory is down. Every other account is refused by the local
  password check while LDAP is on, so a directory user can never sign in with a stale local password.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
from flask import current_app

from airdeck.auth.directory import Directory, DirectoryUnavailable, DirectoryUser, roles_for_groups
from airdeck.config.auth import LdapSettings

log = logging.getLogger("airdeck.auth")

#: A stored "password" that no password matches (werkzeug rejects hashes without a method).
NO_LOCAL_PASSWORD = "!directory-account"  # noqa: S105 - a marker, not a secret


def whole_text(value: str) -> str:
    """``value`` with UTF-16 surrogate pairs joined: the password is written into webserver_config.py as a
    JSON string body, where a character beyond U+FFFF becomes two \\u escapes, i.e. two surrogates."""
    return value.encode("utf-16", "surrogatepass").decode("utf-16")


class AirdeckSecurityManager(FabAirflowSecurityManagerOverride):
    _airdeck_directory: Directory | None = None

    # ------------------------------------------------------------------ configuration
    @property
    def airdeck_ldap_settings(self) -> LdapSettings:
        return LdapSettings.model_validate(current_app.config["AIRDECK_LDAP"])

    @property
    def airdeck_break_glass(self) -> set[str]:
        return {name.lower() for name in current_app.config.get("AIRDECK_BREAK_GLASS_USERS", [])}

    def airdeck_directory(self) -> Directory:
        if self._airdeck_directory is None:
            password = current_app.config.get("AIRDECK_LDAP_BIND_PASSWORD")
            # Empty when the file was rendered without the variable (a container other than the api-server's):
            # the directory then reads auth.ldap.bind_password_env from this process's environment.
            self._airdeck_directory = Directory(self.airdeck_ldap_settings,
                                                bind_password=whole_text(password) if password else None)
        return self._airdeck_directory

    def _is_break_glass(self, username: str) -> bool:
        return username.lower() in self.airdeck_break_glass

    def _ldap_on(self) -> bool:
        return bool(current_app.config.get("AIRDECK_LDAP"))

    # ------------------------------------------------------------------ local accounts
    def auth_user_db(self, username: Any, password: Any, rotate_session_id: bool = True) -> Any:
        if self._ldap_on() and username and not self._is_break_glass(str(username)):
            # Only break-glass accounts have local passwords while the directory decides who signs in.
            log.info("local password sign-in refused for %r: not a break-glass account (auth.break_glass_users)",
                     username)
            return None
        return super().auth_user_db(username, password, rotate_session_id=rotate_session_id)

    # ------------------------------------------------------------------ directory accounts
    def auth_user_ldap(self, username: Any, password: Any, rotate_session_id: bool = True) -> Any:
        if not username or not password or not isinstance(username, str) or not isinstance(password, str):
            return None
        if self._is_break_glass(username):
            return self.auth_user_db(username, password, rotate_session_id=rotate_session_id)

        # A deactivated account is refused before the directory is asked (it may be down). The same check
        # runs again below on the account the directory names, whatever spelling of the login was typed.
        typed = self.find_user(username=username)
        if typed is not None and not typed.is_active:
            log.info("sign-in refused for %r: the Airflow account is deactivated", username)
            return None

        try:
            entry = self.airdeck_directory().authenticate(username, password)
        except DirectoryUnavailable as exc:
            log.error("%s; sign-in of %r refused. Break-glass accounts still sign in with their local "
                      "password: %s", exc, username, ", ".join(sorted(self.airdeck_break_glass)) or "none configured")
            return None
        except ValueError as exc:  # e.g. the service account's password file is missing
            log.error("LDAP is misconfigured: %s; sign-in of %r refused", exc, username)
            return None

        if entry is None:
            if typed is not None:
                self.update_user_auth_stat(typed, False)
            log.info("LDAP sign-in failed for %r", username)
            return None

        # The account is the directory entry's own uid (entry.username), never the typed login: "ravi ",
        # " ravi" and "RAVI" are all the one account ravi.
        if self._is_break_glass(entry.username):
            log.warning("sign-in refused for %r: the directory entry %s is the break-glass account %r, which "
                        "signs in with its local password only", username, entry.dn, entry.username)
            return None
        user = self.find_user(username=entry.username)
        if user is not None and not user.is_active:
            log.info("sign-in refused for %r: the Airflow account %r is deactivated", username, entry.username)
            return None
        if user is None and not self.auth_user_registration:
            log.info("sign-in refused for %r: %r is not an Airflow user and auth.ldap.register_users is off",
                     username, entry.username)
            return None

        roles = self._airdeck_roles(entry)
        if user is not None:
            if self.auth_roles_sync_at_login:
                user.roles = roles
                self.session.commit()
        else:
            user = self._airdeck_register(entry, roles)
            if user is None:
                return None

        if rotate_session_id:
            self._rotate_session_id()
        self.update_user_auth_stat(user)
        self.session.expire(user, ["roles", "groups"])
        self._reset_user_permissions_cache(user)
        log.info("LDAP sign-in of %r as %r (%s) with roles %s", username, entry.username, entry.dn,
                 sorted(r.name for r in user.roles))
        return user

    def _airdeck_roles(self, entry: DirectoryUser) -> list[Any]:
        names = roles_for_groups(entry.groups, self.auth_roles_mapping,
                                 self.auth_user_registration_role if self.auth_user_registration else None)
        roles = []
        for name in names:
            role = self.find_role(name)
            if role is None:
                log.warning("role %r (auth.ldap.roles_mapping / default_role) does not exist in Airflow; "
                            "create it with `airdeck rbac sync`", name)
                continue
            roles.append(role)
        return roles

    def _airdeck_register(self, entry: DirectoryUser, roles: list[Any]) -> Any:
        email = entry.email or f"{entry.username}@email.notfound"
        if self.find_user(email=email) is not None:
            # FAB requires unique e-mail addresses; do not fail the sign-in over a shared mailbox.
            email = f"{entry.username}@email.notfound"
        try:
            user = self.add_user(username=entry.username, first_name=entry.first_name or entry.username,
                                 last_name=entry.last_name or "-", email=email, role=roles,
                                 hashed_password=NO_LOCAL_PASSWORD)
        except Exception:  # noqa: BLE001 - FAB raises a bare FabException; the reason is logged
            log.exception("could not create the Airflow user for %r", entry.username)
            return None
        log.info("registered directory user %r", entry.username)
        return user
