"""Small real servers for the live observability tests.

- :class:`UdpTee` receives Airflow's StatsD datagrams, keeps a copy and forwards each one unchanged
  to the metrics bridge: the capture is exactly what Airflow sent, and the stack works as usual.
- :class:`OtlpReceiver` is an OTLP/HTTP endpoint (``POST /v1/traces``, protobuf or JSON, optionally
  gzip) that decodes every export request with opentelemetry-proto and keeps the spans.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class UdpTee:
    def __init__(self, forward_to: tuple[str, int]):
        self.forward_to = forward_to
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="udp-tee", daemon=True)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self) -> UdpTee:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams.append(data)
            self.out.sendto(data, self.forward_to)

    def lines(self) -> list[str]:
        return [line for data in list(self.datagrams)
                for line in data.decode("utf-8", errors="replace").split("\n") if line]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        self.out.close()


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]


@dataclass
class OtlpReceiver:
    spans: list[Span] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # content types seen

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                content_type = self.headers.get("Content-Type", "")
                receiver.requests.append(content_type)
                receiver._ingest(body, content_type)
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _ingest(self, body: bytes, content_type: str) -> None:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        request = ExportTraceServiceRequest()
        if "json" in content_type:
            from google.protobuf.json_format import Parse

            Parse(body.decode(), request)
        else:
            request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: MessageToDict(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: next(iter(MessageToDict(a.value).values()), None) for a in span.attributes}
                    self.spans.append(Span(span.name, span.trace_id.hex(), span.span_id.hex(),
                                           span.parent_span_id.hex(), attributes,
                                           {k: next(iter(v.values()), None) for k, v in resource.items()}))

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.spans):
                return True
            time.sleep(1)
        return bool(predicate(self.spans))


def dump_spans(spans: list[Span]) -> str:
    return json.dumps([s.__dict__ for s in spans][:50], indent=1, default=str)
