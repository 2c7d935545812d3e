"""The environment of every child process airdeck starts: an allow-list, never a copy of its own.

airdeck's own environment may hold secrets (``AIRDECK_BACKUP_PASSPHRASE``, ``VAULT_TOKEN``, a source
database's ``PGPASSWORD``, a cloud's keys), and a child running as another user or as a database server
would expose them (``/proc/PID/environ``; a PostgreSQL superuser session can read the server's). So
each child gets :data:`BASE` (what any program needs to run: ``PATH``, ``HOME``, the locale, the time
zone, ``PYTHONPATH`` for airdeck's own code) and exactly the variables its tool needs, given by name
or prefix at the call (e.g. ``PGPASSFILE`` for ``pg_dump``, ``AIRFLOW_CONN_*`` for Airflow commands).
supervisord gets the same base, so the services it starts see the same allow-list.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

#: What any child needs to run. PYTHONPATH: children run the same airdeck code as the command that
#: started them (a checkout on PYTHONPATH).
BASE = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "TMPDIR", "PYTHONPATH")
#: Prefixes of what any child may have: the locale categories (LC_ALL, LC_CTYPE, …).
BASE_PREFIXES = ("LC_",)
#: An Airflow command's connections from the environment tier (what the services get too).
AIRFLOW_PREFIXES = ("AIRFLOW_CONN_",)
#: Where a pod's workload identity is (EKS IRSA and Pod Identity, AKS Workload Identity, a Google key
#: file's path): names of files and endpoints, no secret value. Set by the cluster's webhook on every
#: container; the checks that act as the platform's Airflow would (the task log probe) need them.
WORKLOAD_IDENTITY_NAMES = ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME", "AWS_REGION",
                           "AWS_DEFAULT_REGION", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_ENDPOINT_URL_STS",
                           "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                           "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
                           "GOOGLE_APPLICATION_CREDENTIALS")
#: What git (and ssh under it) needs to reach a remote through a proxy or an agent.
GIT_NAMES = ("SSH_AUTH_SOCK", "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
             "NO_PROXY", "ALL_PROXY", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH")


def child_env(names: Iterable[str] = (), prefixes: Iterable[str] = (), extra: Mapping[str, str] | None = None,
              source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of one child: :data:`BASE` and the ``names`` and ``prefixes`` given, taken from
    ``source`` (this process's environment), then ``extra`` (the values the caller sets itself)."""
    source = os.environ if source is None else source
    keep = set(BASE) | set(names)
    starts = (*BASE_PREFIXES, *prefixes)
    env = {key: value for key, value in source.items() if key in keep or key.startswith(starts)}
    env.update(extra or {})
    return env


def airflow_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an Airflow command (or an airdeck child that runs Airflow code) of the platform:
    the base, the caller's ``AIRFLOW_CONN_*`` connections, then ``extra`` (the component's own)."""
    return child_env(prefixes=AIRFLOW_PREFIXES, extra=extra)
