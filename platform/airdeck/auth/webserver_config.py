"""Render ``webserver_config.py``, the file the FAB auth manager reads, from ``auth:`` in airdeck.yaml.

Airflow loads it with ``flask_app.config.from_pyfile(path, silent=True)``: a missing or misplaced file
is silently ignored and sign-in falls back to local passwords. So rendering checks, before anything
starts, that every service's ``[fab] config_file`` names the rendered file, that the file compiles, and
that what it imports can be imported. The only secret it may hold is the LDAP service account's
password when it comes from an environment variable (``auth.ldap.bind_password_env``): supervisord does
not pass the airdeck command's environment on, so the password reaches the api-server through this
0600 file; a ``bind_password_file`` is read by the api-server itself.
"""

from __future__ import annotations

import ast
import importlib.util
import pprint
from pathlib import Path

from airdeck.config.errors import ConfigError, ConfigIssue
from airdeck.config.model import AirdeckConfig
from airdeck.plan.model import placeholder
from airdeck.state.home import AirdeckHome

SECURITY_MANAGER = "airdeck.auth.security_manager.AirdeckSecurityManager"
#: The secret (see the auth concern) holding the service account's password from auth.ldap.bind_password_env.
BIND_PASSWORD_SECRET = "ldap_bind_password"  # noqa: S105 - a name, not a secret


def needs_bind_password(cfg: AirdeckConfig) -> bool:
    """The service account's password comes from an environment variable of the airdeck command, which
    supervisord does not pass on: it is written into this (0600) file for the api-server."""
    return cfg.auth.mode == "ldap" and cfg.auth.ldap is not None and cfg.auth.ldap.bind_password_env is not None

HEADER = '''\
# Rendered by airdeck from airdeck.yaml (auth:). Do not edit: it is rewritten at every start.
# The FAB auth manager reads this file ([fab] config_file); Airflow silently ignores it when it is missing.
'''

COMMON = '''
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
AUTH_ROLE_ADMIN = "Admin"

# The session and CSRF key: the api-server's own secret (AIRDECK_SESSION_SECRET_FILE, 0600), not
# [api] secret_key, which the Celery workers hold for their log servers. Other processes that load this
# file (one-off airflow commands) sign no session a browser keeps: they get a key of their own.
import os as _os
import secrets as _secrets

if _os.environ.get("AIRDECK_SESSION_SECRET_FILE"):
    with open(_os.environ["AIRDECK_SESSION_SECRET_FILE"], encoding="utf-8") as _file:
        SECRET_KEY = _file.read().strip()
    if not SECRET_KEY:
        raise RuntimeError(_os.environ["AIRDECK_SESSION_SECRET_FILE"] + " is empty: the api-server's session key")
else:
    SECRET_KEY = _secrets.token_urlsafe(48)
'''


def _literal(value: object) -> str:
    text = pprint.pformat(value, width=100, sort_dicts=True)
    ast.literal_eval(text)  # only plain literals go into the file
    return text


def render(cfg: AirdeckConfig) -> str:
    auth = cfg.auth
    if auth.mode == "db" or auth.ldap is None:
        return HEADER + "from flask_appbuilder.const import AUTH_DB\n\nAUTH_TYPE = AUTH_DB\n" + COMMON
    ldap = auth.ldap
    module, _, cls = SECURITY_MANAGER.rpartition(".")
    lines = [
        HEADER,
        "from flask_appbuilder.const import AUTH_LDAP\n",
        f"from {module} import {cls}\n",
        "\n",
        "AUTH_TYPE = AUTH_LDAP\n",
        f"SECURITY_MANAGER_CLASS = {cls}\n",
        COMMON,
        "\n# FAB's own LDAP keys, kept for people who know them; airdeck's security manager uses AIRDECK_LDAP.\n",
        f"AUTH_LDAP_SERVER = {_literal(ldap.url)}\n",
        f"AUTH_LDAP_USE_TLS = {_literal(ldap.start_tls and ldap.url.startswith('ldap://'))}\n",
        f"AUTH_LDAP_TLS_CACERTFILE = {_literal(str(ldap.ca_file or ''))}\n",
        f"AUTH_LDAP_UID_FIELD = {_literal(ldap.uid_attribute)}\n",
        f"AUTH_LDAP_FIRSTNAME_FIELD = {_literal(ldap.first_name_attribute)}\n",
        f"AUTH_LDAP_LASTNAME_FIELD = {_literal(ldap.last_name_attribute)}\n",
        f"AUTH_LDAP_EMAIL_FIELD = {_literal(ldap.email_attribute)}\n",
        f"AUTH_LDAP_USE_NESTED_GROUPS_FOR_ROLES = {_literal(ldap.nested_groups)}\n",
        f"AUTH_ROLES_MAPPING = {_literal(ldap.roles_mapping)}\n",
        f"AUTH_ROLES_SYNC_AT_LOGIN = {_literal(ldap.sync_roles_at_login)}\n",
        f"AUTH_USER_REGISTRATION = {_literal(ldap.register_users)}\n",
        f"AUTH_USER_REGISTRATION_ROLE = {_literal(ldap.default_role)}\n",
        "\n# Everything airdeck's ldap3 sign-in needs (auth.ldap in airdeck.yaml), and the local accounts that\n"
        "# still sign in with their database password when the directory is down (auth.break_glass_users).\n",
        f"AIRDECK_LDAP = {_literal(ldap.model_dump(mode='json'))}\n",
        f"AIRDECK_BREAK_GLASS_USERS = {_literal(auth.break_glass(cfg.admin.username))}\n",
    ]
    if needs_bind_password(cfg):
        lines += [
            "\n# The service account's password, from the environment variable auth.ldap.bind_password_env of the\n"
            "# airdeck command that rendered this file (it is why this file is mode 0600).\n",
            f'AIRDECK_LDAP_BIND_PASSWORD = "{placeholder(BIND_PASSWORD_SECRET)}"\n',
        ]
    return "".join(lines)


def check(cfg: AirdeckConfig, home: AirdeckHome, text: str, fab_config_files: dict[str, str]) -> None:
    """Fail loudly when the rendered file would be ignored or could not be loaded."""
    target = home.webserver_config.resolve()
    issues: list[ConfigIssue] = []
    for service, configured in sorted(fab_config_files.items()):
        if not configured:
            issues.append(ConfigIssue(f"[fab] config_file of {service}", "is empty, so Airflow would ignore "
                                      f"{target}", "remove [fab] config_file from airflow.extra_config"))
        elif Path(configured).expanduser().resolve() != target:
            issues.append(ConfigIssue(
                f"[fab] config_file of {service}",
                f"is {configured}, but airdeck renders the auth settings into {target}; Airflow would "
                "silently use another file (or none) and fall back to local passwords",
                "remove fab.config_file from airflow.extra_config"))
    try:
        compile(text, str(target), "exec")
    except SyntaxError as exc:
        issues.append(ConfigIssue("auth", f"the rendered webserver_config.py does not compile: {exc}"))
    for module in ("flask_appbuilder.const", *(["airdeck.auth.security_manager"] if cfg.auth.mode == "ldap" else [])):
        if importlib.util.find_spec(module) is None:
            issues.append(ConfigIssue("auth", f"webserver_config.py imports {module}, which is not installed"))
    if cfg.auth.mode == "ldap" and cfg.auth.ldap is not None:
        ldap = cfg.auth.ldap
        if ldap.ca_file is not None and not ldap.ca_file.is_file():
            issues.append(ConfigIssue("auth.ldap.ca_file", f"{ldap.ca_file} does not exist or is not a file"))
        try:
            ldap.bind_password()
        except ValueError as exc:
            issues.append(ConfigIssue("auth.ldap", str(exc)))
    if issues:
        raise ConfigError("airdeck.yaml", issues)
