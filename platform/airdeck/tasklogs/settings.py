"""The Airflow settings and environment ``logging:`` gives each Airflow component.

Airflow 3 uploads a try's log from the worker's task supervisor when the try ends and reads it back in
the api-server, both through the ``RemoteLogIO`` the provider registers for the URL's scheme; so every
Airflow component gets the same ``[logging] remote_*`` settings. Nothing here is a secret: credentials
come from the Airflow connection named by ``logging.connection`` (or the ambient identity).
"""

from __future__ import annotations

import json

from airdeck.config.model import AirdeckConfig
from airdeck.config.tasklogs import RemoteLocation
from airdeck.plan.model import Settings

#: The connection airdeck defines (without any secret) for wasb:// with the ambient identity: the
#: Azure provider needs an account URL, which only a connection can carry.
AMBIENT_WASB_CONN_ID = "airdeck_task_logs"


def remote_folder(location: RemoteLocation) -> str:
    """``[logging] remote_base_log_folder``: the full URL for s3:// and gs://; for wasb:// the provider
    strips ``wasb://`` and takes the rest as the blob-name prefix (the container is a setting of its own)."""
    if location.scheme == "wasb":
        return f"wasb://{location.prefix}"
    return f"{location.scheme}://{location.bucket}/{location.prefix}".rstrip("/")


def conn_id(cfg: AirdeckConfig) -> str:
    """``[logging] remote_log_conn_id``; empty means the provider's ambient credentials."""
    location = cfg.logging.location
    if cfg.logging.connection:
        return cfg.logging.connection
    if location is not None and location.scheme == "wasb":
        return AMBIENT_WASB_CONN_ID
    return ""


def airflow_settings(cfg: AirdeckConfig) -> Settings:
    location = cfg.logging.location
    if location is None:
        return {"logging": {"remote_logging": "False"}}
    settings: Settings = {"logging": {
        "remote_logging": "True",
        "remote_base_log_folder": remote_folder(location),
        "remote_log_conn_id": conn_id(cfg),
        "delete_local_logs": str(cfg.logging.delete_local_after_upload),
    }}
    if location.scheme == "wasb":
        settings["azure_remote_logging"] = {"remote_wasb_log_container": location.bucket}
    return settings


def environment(cfg: AirdeckConfig) -> dict[str, str]:
    """Non-secret environment: the endpoint of an S3/GCS-compatible store, the ambient Azure account."""
    location, endpoint = cfg.logging.location, cfg.logging.endpoint
    if location is None:
        return {}
    if location.scheme == "s3" and endpoint:
        return {"AWS_ENDPOINT_URL_S3": endpoint}  # boto3's own variable; a connection's endpoint_url wins
    if location.scheme == "gs" and endpoint:
        return {"STORAGE_EMULATOR_HOST": endpoint}  # google-cloud-storage's own variable
    if location.scheme == "wasb" and not cfg.logging.connection:
        account_url = endpoint or f"https://{location.account}.blob.core.windows.net"
        conn = {"conn_type": "wasb", "host": account_url}  # no credential: DefaultAzureCredential
        return {f"AIRFLOW_CONN_{AMBIENT_WASB_CONN_ID.upper()}": json.dumps(conn)}
    return {}
