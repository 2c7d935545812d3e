"""Real servers for alert tests: an SMTP server (aiosmtpd), a Slack incoming-webhook receiver, PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.harness import PostgresServer, free_port


@dataclass
class SlackPost:
    path: str
    body: dict[str, Any]
    at: float

    @property
    def text(self) -> str:
        return json.dumps(self.body)


#: What Slack answers with each error status (https://api.slack.com/messaging/webhooks#handling_errors).
SLACK_ERRORS = {400: b"invalid_payload", 403: b"invalid_token", 404: b"no_service", 410: b"channel_is_archived",
                429: b"rate_limited", 500: b"internal_error", 503: b"service_unavailable"}


class SlackReceiver:
    """Speaks Slack's incoming-webhook contract: POST JSON → 200 "ok".

    ``mode`` may be "ok", "error" (500), "hang" (no answer for 30 s) or an HTTP status from
    :data:`SLACK_ERRORS` (answered with Slack's body for it; 429 with ``Retry-After``). With ``hold`` set,
    an accepted post is recorded, ``received`` is set, and the "ok" answer waits until ``hold`` is set.
    """

    def __init__(self) -> None:
        self.posts: list[SlackPost] = []
        self.attempts = 0
        self.mode: str | int = "ok"
        self.hold: threading.Event | None = None
        self.received = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.lock:
                    receiver.attempts += 1
                    mode = receiver.mode
                if mode == "hang":
                    time.sleep(30)
                    return
                if mode == "error" or isinstance(mode, int):
                    status = 500 if mode == "error" else int(mode)
                    body = SLACK_ERRORS.get(status, b"error")
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "1")
                else:
                    try:
                        data = json.loads(raw)
                    except ValueError:
                        data = None
                    if not isinstance(data, dict) or not (data.get("text") or data.get("blocks")):
                        body = b"invalid_payload"
                        self.send_response(400)
                    else:
                        with receiver.lock:
                            receiver.posts.append(SlackPost(self.path, data, time.time()))
                            hold = receiver.hold
                        if hold is not None:
                            receiver.received.set()
                            hold.wait(60)
                        body = b"ok"
                        self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def connection(self, path: str = "/hook") -> dict[str, Any]:
        return {"conn_type": "slackwebhook", "host": f"127.0.0.1:{self.port}", "schema": "http", "password": path}

    def on(self, path: str) -> list[SlackPost]:
        with self.lock:
            return [p for p in self.posts if p.path == path]

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


ACCEPTED = "250 Message accepted for delivery"


@dataclass
class _Handler:
    """Accepts every message, or answers DATA with ``reply`` (e.g. "451 …", "550 …"), or, while ``hanging``,
    never answers DATA. ``attempts`` counts the DATA commands received. With ``hold`` set, an accepted
    message is recorded, ``received`` is set, and the 250 answer waits until ``hold`` is set."""

    messages: list[Message] = field(default_factory=list)
    reply: str = ACCEPTED
    hanging: bool = False
    attempts: int = 0
    hold: threading.Event | None = None
    received: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.attempts += 1
        if self.hanging:
            while self.hanging:
                await asyncio.sleep(0.05)
            return "421 4.4.2 timed out"  # the client gave up long ago: this attempt delivers nothing
        if not self.reply.startswith("250"):
            return self.reply
        message = message_from_bytes(envelope.original_content or envelope.content)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        hold = self.hold
        if hold is not None:
            self.received.set()
            while not hold.is_set():
                await asyncio.sleep(0.02)
        return self.reply


class SmtpServer:
    """aiosmtpd on a fixed loopback port; can be stopped and started again (an outage)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self.controller: Controller | None = None
        self.start()

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.handler.hanging = False
        if self.handler.hold is not None:
            self.handler.hold.set()
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Message]:
        return list(self.handler.messages)

    def connection(self) -> dict[str, Any]:
        return {"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                "extra": json.dumps({"disable_tls": True, "disable_ssl": True, "from_email": "airdeck@example.com",
                                     "timeout": 5, "retry_limit": 0})}


def html_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            return payload.decode(part.get_content_charset() or "utf-8") if isinstance(payload, bytes) else ""
    return ""


class Postgres(PostgresServer):
    """A throwaway PostgreSQL with the database ``alerts`` in ``folder`` (used by benchmarks/alert_latency.py)."""

    def __init__(self, folder: Path):
        super().__init__(folder, "alerts", password="alerts-test")


def set_connection_env(conn_id: str, conn: dict[str, Any]) -> None:
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
