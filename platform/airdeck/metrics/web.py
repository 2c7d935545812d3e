"""The bridge's HTTP side: ``/metrics``, ``/-/healthy``, ``/-/ready`` and a small index page."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from airdeck.metrics.exposition import CONTENT_TYPE

log = logging.getLogger(__name__)

_INDEX = b"""<html><head><title>airdeck metrics bridge</title></head><body>
<h1>airdeck metrics bridge</h1><p>StatsD in, Prometheus out.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/-/healthy">/-/healthy</a></li></ul>
</body></html>
"""


class WebServer:
    def __init__(self, server: ThreadingHTTPServer):
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, name="metrics-bridge-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def make_handler(render: Callable[[], bytes], healthy: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "airdeck-metrics-bridge"
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    body = render()
                except Exception:  # noqa: BLE001 - a scrape must answer, and the cause must be logged
                    log.exception("rendering /metrics failed")
                    self._send(500, b"rendering metrics failed; see the bridge log\n", "text/plain")
                    return
                self._send(200, body, CONTENT_TYPE)
            elif path in ("/-/healthy", "/-/ready"):
                if healthy():
                    self._send(200, b"OK\n", "text/plain; charset=utf-8")
                else:
                    self._send(503, b"the StatsD listener is not running\n", "text/plain; charset=utf-8")
            elif path == "/":
                self._send(200, _INDEX, "text/html; charset=utf-8")
            else:
                self._send(404, b"not found; try /metrics or /-/healthy\n", "text/plain; charset=utf-8")

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            log.debug("http %s - %s", self.address_string(), format % args)

    return Handler
