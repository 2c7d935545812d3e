"""What hostile task code on a Celery worker can take: each platform key, by every route, and an API token.

The task reports where it looked and what it got, never a value: each value it found is returned as a
SHA-256 digest (and the password of any URL as one more), so the test can check that no platform
secret is among them without a secret ever reaching XCom or a log. It then signs admin API tokens with
every key it could find (and with a key of its own) and reports the api-server's answers.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pendulum
from airflow.sdk import dag, get_current_context, task

#: Files under $AIRDECK_HOME that hold a platform secret (or a component's settings with secrets).
PRIVATE_FILES = [
    "secrets/fernet_key", "secrets/jwt_secret", "secrets/jwt_private_key", "secrets/api_secret_key",
    "secrets/log_fetch_key", "secrets/admin_password", "secrets/database_password", "secrets/broker_password",
    "services/api-server/airflow.cfg", "services/api-server/jwt_private_key.pem",
    "services/api-server/session_secret", "services/scheduler/airflow.cfg",
    "services/scheduler/jwt_private_key.pem", "services/dag-processor/airflow.cfg",
    "services/triggerer/airflow.cfg", "services/cli/airflow.cfg", "run/applied.key", "run/supervisord.conf",
]
#: Settings a task could ask Airflow's configuration for.
OPTIONS = [("core", "fernet_key"), ("api_auth", "jwt_secret"), ("api_auth", "jwt_private_key_path"),
           ("database", "sql_alchemy_conn"), ("api", "secret_key"), ("celery", "result_backend")]


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().encode()).hexdigest()


def _digests(value: str) -> list[str]:
    """The value's digest, plus its URL password's, when it is a URL with one."""
    out = [_digest(value)]
    try:
        password = urlsplit(value.strip()).password
    except ValueError:
        password = None
    if password:
        from urllib.parse import unquote

        out.append(_digest(unquote(password)))
    return out


def _try_read(path: Path) -> tuple[str, str | None]:
    try:
        return "read", path.read_text(encoding="utf-8", errors="replace")
    except PermissionError:
        return "permission denied", None
    except FileNotFoundError:
        return "missing", None
    except OSError as exc:
        return type(exc).__name__, None


@task
def try_the_keys() -> dict[str, Any]:
    from airflow.configuration import conf

    params = get_current_context()["dag_run"].conf or {}
    config_path = Path(os.environ["AIRFLOW_CONFIG"])  # $AIRDECK_HOME/services/<worker>/airflow.cfg
    home = config_path.parents[2]
    found: dict[str, list[str]] = {}  # where -> digests of what was there

    files = {}
    for name in PRIVATE_FILES:
        outcome, text = _try_read(home / name)
        files[name] = outcome
        if text is not None:
            found[f"file {name}"] = _digests(text) + [d for line in text.splitlines() if "=" in line
                                                      for d in _digests(line.split("=", 1)[1])]

    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        control.connect(str(home / "run" / "supervisord.sock"))
        files["connect run/supervisord.sock"] = "connected"
    except OSError as exc:
        files["connect run/supervisord.sock"] = "permission denied" if isinstance(exc, PermissionError) else "missing"
    finally:
        control.close()

    for key, value in os.environ.items():
        found[f"env {key}"] = _digests(value)

    own = configparser.ConfigParser(interpolation=None)
    own.read(config_path)
    own_options = {f"{s}.{k}" for s in own.sections() for k in own[s]}
    for section in own.sections():
        for key, value in own[section].items():
            found[f"airflow.cfg {section}.{key}"] = _digests(value)

    options: dict[str, str] = {}
    for section, key in OPTIONS:
        value = conf.get(section, key, fallback="") or ""
        options[f"{section}.{key}"] = "set" if value else "empty"
        if value:
            found[f"conf {section}.{key}"] = _digests(value)
    key_path = conf.get("api_auth", "jwt_private_key_path", fallback="") or ""
    key_file = _try_read(Path(key_path))[0] if key_path else "not configured"

    # Mint an admin token (user id 1) with every key found, and with a key of the task's own.
    now = int(time.time())
    claims = {"sub": "1", "aud": params["aud"], "iss": params["iss"], "iat": now, "nbf": now, "exp": now + 300,
              "jti": uuid.uuid4().hex}
    candidates: dict[str, tuple[str, Any, dict[str, str]]] = {}
    for section, key in OPTIONS:
        value = conf.get(section, key, fallback="") or ""
        if value and key != "jwt_private_key_path":
            candidates[f"HS512 with conf {section}.{key}"] = ("HS512", value, {})
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    candidates["EdDSA with a key of its own"] = ("EdDSA", Ed25519PrivateKey.generate(), {"kid": params["kid"]})
    answers = {}
    for label, (algorithm, signing_key, headers) in candidates.items():
        token = jwt.encode(claims, signing_key, algorithm=algorithm, headers=headers or None)
        response = httpx.get(f"{params['api']}/api/v2/dags", headers={"Authorization": f"Bearer {token}"},
                             timeout=30)
        answers[label] = response.status_code
    unsigned = jwt.encode(claims, None, algorithm="none")
    answers["unsigned (alg none)"] = httpx.get(f"{params['api']}/api/v2/dags",
                                               headers={"Authorization": f"Bearer {unsigned}"},
                                               timeout=30).status_code
    return {"user": os.geteuid(), "executable": sys.executable, "files": files, "options": options,
            "own_options": sorted(own_options),
            "key_file": key_file, "found": found, "answers": answers}


@dag(dag_id="worker_key_probe", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False,
     tags=["test"])
def worker_key_probe() -> None:
    try_the_keys()


worker_key_probe()
