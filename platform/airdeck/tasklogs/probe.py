"""Check a task log destination before anything starts: write, read back and delete a probe object
with the credentials the workers and the api-server will use.

Run as ``python -m airdeck.tasklogs.probe`` in the environment of an Airflow command of the platform
(its ``airflow.cfg`` carries the ``[logging] remote_*`` settings): the destination is reached through
the ``RemoteLogIO`` Airflow's provider registers for the URL's scheme, and the connection is resolved
by Airflow's own secrets backends in Airflow's order (environment, Vault when configured, the
database). It prints one JSON line, ``{"ok": true, ...}`` or ``{"ok": false, "source": ..., "error":
...}``, and never a credential: values of the resolved connection are masked in every message.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

PROBE_FOLDER = ".airdeck-probe"
#: Seconds allowed per request to the store; the probe does not retry (a misconfiguration must not
#: wait out a cloud SDK's retry budget).
TIMEOUT = 10


class ProbeFailure(Exception):
    """The destination refused or could not be reached; the message is the cloud's error, one line."""


def credential_source(conn_id: str) -> tuple[str, list[str]]:
    """Where Airflow finds ``conn_id`` (first of its secrets backends that has it) and the connection's
    secret values (to mask them in messages)."""
    from airflow.configuration import ensure_secrets_loaded

    names = {"EnvironmentVariablesBackend": f"environment variable AIRFLOW_CONN_{conn_id.upper()}",
             "MetastoreBackend": "the metadata database"}
    unreadable: list[str] = []
    for backend in ensure_secrets_loaded():
        kind = type(backend).__name__
        where = names.get(kind, f"{kind} (Vault)" if "Vault" in kind else kind)
        try:
            conn = backend.get_connection(conn_id)
        except Exception as exc:  # noqa: BLE001 - a backend that cannot answer is reported, then the next
            unreadable.append(f"{where}: {type(exc).__name__}")
            continue
        if conn is not None:
            return f"connection {conn_id!r} from {where}", _secret_values(conn)
    tried = "; ".join(unreadable)
    raise ProbeFailure(f"connection {conn_id!r} was not found in the environment, Vault (when configured) or "
                       f"the metadata database{f' (could not ask: {tried})' if tried else ''}; create it "
                       f"(airdeck airflow connections add {conn_id} …, or airdeck vault put-connection) or "
                       "unset logging.connection to use the ambient identity")


#: Extra fields whose values are credentials (matched as substrings of the lower-cased key).
SECRET_FIELDS = ("password", "secret", "token", "key", "credential", "connection_string", "sas", "signature")


def _secret_values(conn: Any) -> list[str]:
    values = [conn.password or ""]
    try:
        extra = conn.extra_dejson
    except Exception:  # noqa: BLE001 - unreadable extra: nothing more to mask
        extra = {}
    for name, value in _leaves(extra):
        if any(word in name.lower() for word in SECRET_FIELDS):
            values.append(str(value))
            # a connection string: each Key=value part whose name is a credential too (AccountKey=…)
            for part in str(value).split(";"):
                field, _, inner = part.partition("=")
                if inner and any(word in field.lower() for word in SECRET_FIELDS):
                    values.append(inner)
    return [v for v in values if len(v) >= 4]


def _leaves(value: Any, name: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{name}.{key}")]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item, name)]
    return [(name, value)]


def remote_io() -> Any:
    """The RemoteLogIO Airflow uses for ``[logging] remote_base_log_folder``."""
    from airflow.logging_config import get_remote_task_log

    io = get_remote_task_log()
    if io is None:
        raise ProbeFailure("Airflow found no remote log handler for this URL scheme; is the provider installed "
                           "in the platform's environment?")
    return io


# --------------------------------------------------------------------------------------------- clouds
def probe_s3(io: Any, key: str, body: bytes) -> None:
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _ = io.hook.parse_s3_url(io.remote_base)
    config = Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 1})
    try:
        client = io.hook.get_client_type(config=config)
        client.put_object(Bucket=bucket, Key=key, Body=body)
        got = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        client.delete_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ProbeFailure(f"{error.get('Code', 'error')}: {error.get('Message') or exc}") from None
    except BotoCoreError as exc:
        raise ProbeFailure(f"{type(exc).__name__}: {exc}") from None
    _same(got, body)


def probe_gcs(io: Any, key: str, body: bytes) -> None:
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    try:
        bucket_name = io.remote_base.removeprefix("gs://").split("/", 1)[0]
        blob = io.client.bucket(bucket_name).blob(key)
        blob.upload_from_string(body, timeout=TIMEOUT, retry=None)
        got = blob.download_as_bytes(timeout=TIMEOUT, retry=None)
        blob.delete(timeout=TIMEOUT, retry=None)
    except GoogleAPIError as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise ProbeFailure(f"{getattr(exc, 'code', '') or type(exc).__name__} {message}".strip()) from None
    except GoogleAuthError as exc:
        raise ProbeFailure(f"credentials: {type(exc).__name__}: {exc}") from None
    except (OSError, ValueError) as exc:  # requests' connection errors are OSErrors; bad key files ValueErrors
        raise ProbeFailure(f"{type(exc).__name__}: {exc}") from None
    _same(got, body)


def probe_wasb(io: Any, key: str, body: bytes, account: str | None) -> None:
    from azure.core.exceptions import AzureError, HttpResponseError

    hook = io.hook
    if hook is None:
        raise ProbeFailure("the Azure provider could not build a WasbHook for this connection")
    options = {"retry_total": 0, "connection_timeout": TIMEOUT, "read_timeout": TIMEOUT}
    try:
        service = hook.get_conn()
        if account and service.account_name and service.account_name != account:
            raise ProbeFailure(f"the connection is for storage account {service.account_name!r}, "
                               f"but logging.remote names {account!r}")
        container = service.get_container_client(io.wasb_container)
        container.upload_blob(key, body, overwrite=True, **options)
        got = container.download_blob(key, **options).readall()
        container.delete_blob(key, **options)
    except HttpResponseError as exc:
        reason = (str(exc.message or exc).splitlines() or [""])[0]
        error_code = getattr(exc, "error_code", None)
        code = getattr(error_code, "value", error_code)  # StorageErrorCode is an enum of strings
        raise ProbeFailure(f"{code or exc.status_code}: {reason}") from None
    except AzureError as exc:
        raise ProbeFailure(f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}") from None
    except ValueError as exc:  # malformed connection string or account key
        raise ProbeFailure(f"credentials: {exc}") from None
    _same(got, body)


def _same(got: bytes, sent: bytes) -> None:
    if got != sent:
        raise ProbeFailure("the probe object read back differs from what was written")


# ----------------------------------------------------------------------------------------------- main
def run(conn_id: str, account: str | None) -> dict[str, Any]:
    secrets: list[str] = []
    source = "the ambient identity (no logging.connection)"
    started = time.monotonic()
    try:
        if conn_id:
            source, secrets = credential_source(conn_id)
        io = remote_io()
        key = f"{PROBE_FOLDER}/{uuid.uuid4().hex}"
        body = f"airdeck probe {key}\n".encode()
        base = str(io.remote_base)
        scheme = type(io).__name__
        if scheme.startswith("S3"):
            probe_s3(io, f"{base.split('/', 3)[3]}/{key}" if base.count("/") >= 3 else key, body)
        elif scheme.startswith("GCS"):
            rest = base.removeprefix("gs://").split("/", 1)
            probe_gcs(io, f"{rest[1].strip('/')}/{key}" if len(rest) == 2 and rest[1].strip("/") else key, body)
        elif scheme.startswith("Wasb"):
            probe_wasb(io, f"{base.strip('/')}/{key}" if base.strip("/") else key, body, account)
        else:
            raise ProbeFailure(f"no probe for {scheme}")
    except ProbeFailure as exc:
        return {"ok": False, "source": source, "error": _mask(str(exc), secrets)}
    except Exception as exc:  # noqa: BLE001 - anything else is reported as the destination's error
        return {"ok": False, "source": source, "error": _mask(f"{type(exc).__name__}: {exc}", secrets)}
    return {"ok": True, "source": source, "seconds": round(time.monotonic() - started, 3)}


def _mask(text: str, secrets: list[str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, "***")
    line = " ".join(text.split())
    return line[:400] + ("…" if len(line) > 400 else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airdeck.tasklogs.probe")
    parser.add_argument("--conn-id", default="")
    parser.add_argument("--account", default=None)
    args = parser.parse_args(argv)
    result = run(args.conn_id, args.account)
    sys.stdout.write("AIRDECK-PROBE " + json.dumps(result) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
