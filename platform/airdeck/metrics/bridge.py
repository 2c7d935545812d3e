"""The running bridge: a UDP StatsD listener, the HTTP server and mapping reloads.

The UDP thread waits for a datagram, then drains up to ``batch`` more without blocking and hands
them to the exporter under one lock acquisition; once a second it deletes expired series. The
HTTP server runs in its own threads and takes the same lock only while rendering. ``reload()``
parses the mapping file outside the lock and swaps it in; a bad file keeps the old mapping.
"""

from __future__ import annotations

import errno
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

from prometheus_client import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from airdeck.metrics.exporter import Exporter, apply_ttl_default
from airdeck.metrics.exposition import join_chunks, render_families
from airdeck.metrics.mapping import MappingConfig, MappingFileError, empty_config, load_mapping_file
from airdeck.metrics.registry import Clock
from airdeck.metrics.udpdrops import UDPDropReader
from airdeck.metrics.web import WebServer, make_handler

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65535
DEFAULT_BATCH = 256
#: Default of --max-series and observability.bridge.max_series: about 55 MiB of counters or 75 MiB of
#: histograms above the bridge's ~27 MiB (benchmarks/bridge_series_memory.py measures it).
DEFAULT_MAX_SERIES = 50_000


class BridgeError(RuntimeError):
    """The bridge cannot start; the message says what failed and what to do."""


def parse_address(text: str, what: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (all interfaces) or ``[IPv6]:PORT``."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise BridgeError(f"{flag} {text!r}: expected HOST:PORT for the {what}, for example 127.0.0.1:9125")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def _bind_hint(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the port is already in use (another bridge or statsd_exporter?); stop it or choose another port"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges); choose a port above 1024"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "that address does not belong to this machine; use 127.0.0.1, 0.0.0.0 or a local address"
    return exc.strerror or str(exc)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def open_udp_socket(host: str, port: int, rcvbuf: int | None) -> socket.socket:
    shown = f"udp://{host or '0.0.0.0'}:{port}"
    try:
        infos = socket.getaddrinfo(host or None, port, _family(host) if host else socket.AF_INET, socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise BridgeError(
            f"cannot listen for StatsD on {shown}: unknown host ({exc.strerror}); pass --statsd-listen HOST:PORT"
        ) from None
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            if granted < rcvbuf:  # Linux reports double the request when it is granted
                log.warning(
                    "asked for a %d-byte UDP receive buffer but got %d; raise net.core.rmem_max to allow more",
                    rcvbuf,
                    granted,
                )
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        raise BridgeError(f"cannot listen for StatsD on {shown}: {_bind_hint(exc)} (--statsd-listen)") from None
    sock.setblocking(False)
    return sock


def open_http_server(host: str, port: int, handler: type) -> ThreadingHTTPServer:
    shown = f"http://{host or '0.0.0.0'}:{port}"

    class Server(ThreadingHTTPServer):
        address_family = _family(host)
        daemon_threads = True
        allow_reuse_address = True

    try:
        return Server((host, port), handler)
    except OSError as exc:
        raise BridgeError(f"cannot serve /metrics on {shown}: {_bind_hint(exc)} (--web-listen)") from None


@dataclass
class BridgeSettings:
    statsd_listen: str = "127.0.0.1:9125"
    web_listen: str = "127.0.0.1:9102"
    mapping: Path | None = None
    ttl_default: float = 0.0
    udp_rcvbuf: int | None = None
    cache_size: int = 1000
    batch: int = DEFAULT_BATCH
    max_series: int = DEFAULT_MAX_SERIES  # 0: no limit (statsd_exporter's behaviour)


class Bridge:
    def __init__(self, settings: BridgeSettings, clock: Clock = time.monotonic):
        self.settings = settings
        self.clock = clock
        config = self._load(settings.mapping) if settings.mapping else empty_config()
        self.exporter = Exporter(apply_ttl_default(config, settings.ttl_default), clock, settings.cache_size,
                                 max_series=settings.max_series)
        for warning in self.exporter.mapper.warnings:
            log.warning("%s: %s", settings.mapping, warning)
        self._process_registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self._process_registry)
        self._stop = threading.Event()
        self._reload_requested = threading.Event()
        self._udp_thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._web: WebServer | None = None
        self._listening = False

    @staticmethod
    def _load(path: Path) -> MappingConfig:
        return load_mapping_file(path)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind both listeners and start serving; raises BridgeError with a readable message."""
        s = self.settings
        udp_host, udp_port = parse_address(s.statsd_listen, "StatsD UDP listener", "--statsd-listen")
        web_host, web_port = parse_address(s.web_listen, "HTTP server", "--web-listen")
        self._sock = open_udp_socket(udp_host, udp_port, s.udp_rcvbuf)
        try:
            self._web = WebServer(open_http_server(web_host, web_port, make_handler(self.render, self.healthy)))
        except BridgeError:
            self._sock.close()
            raise
        drops = UDPDropReader(self._sock)
        self.exporter.metrics.udp_drops = drops.read
        self._listening = True
        self._udp_thread = threading.Thread(target=self._udp_loop, name="metrics-bridge-udp", daemon=True)
        self._udp_thread.start()
        self._web.start()
        log.info(
            "metrics bridge listening: StatsD on udp://%s:%d, metrics on http://%s:%d/metrics (%d mappings)",
            *self.statsd_address,
            *self.web_address,
            self.exporter.metrics.loaded_mappings,
        )

    @property
    def statsd_address(self) -> tuple[str, int]:
        assert self._sock is not None
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def web_address(self) -> tuple[str, int]:
        assert self._web is not None
        return self._web.address

    def stop(self) -> None:
        self._stop.set()
        if self._udp_thread is not None:
            self._udp_thread.join(timeout=5)
        if self._web is not None:
            self._web.stop()
        if self._sock is not None:
            self._sock.close()
        self._listening = False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped (True), ``timeout`` passed or the listener died (False).

        Serves reload requests made from signal handlers.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stop.is_set():
            if self._udp_thread is not None and not self._udp_thread.is_alive():
                log.error("the StatsD listener thread died; stopping the bridge")
                return False
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self.reload()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._stop.wait(0.2 if remaining is None else min(0.2, remaining))
        return True

    def request_reload(self) -> None:
        """Safe to call from a signal handler."""
        self._reload_requested.set()

    def request_stop(self) -> None:
        self._stop.set()

    def healthy(self) -> bool:
        return self._listening and self._udp_thread is not None and self._udp_thread.is_alive()

    # -- work -------------------------------------------------------------------------------------

    def reload(self) -> bool:
        """Re-read the mapping file; on any error keep the current mapping and log why."""
        path = self.settings.mapping
        metrics = self.exporter.metrics
        if path is None:
            log.warning("reload requested but the bridge runs without --mapping; nothing to reload")
            return False
        try:
            config = apply_ttl_default(self._load(path), self.settings.ttl_default)
        except MappingFileError as exc:
            metrics.reload("failure")
            log.error("mapping reload failed, keeping the previous mapping: %s", exc)
            return False
        with self.exporter.registry.lock:
            mapper = self.exporter.set_config(config)
        for warning in mapper.warnings:
            log.warning("%s: %s", path, warning)
        metrics.reload("success")
        log.info("mapping reloaded from %s (%d mappings)", path, len(config.mappings))
        return True

    def render(self) -> bytes:
        exporter = self.exporter
        mapped = exporter.registry.render()
        with exporter.registry.lock:
            own = render_families(exporter.metrics.collect())
        process = render_families(self._process_registry.collect())
        return join_chunks(mapped, own, process)

    def _udp_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        exporter = self.exporter
        batch_size = self.settings.batch
        next_sweep = self.clock() + 1.0
        try:
            while not self._stop.is_set():
                if poller.poll(200):
                    packets: list[bytes] = []
                    for _ in range(batch_size):
                        try:
                            packets.append(sock.recv(MAX_DATAGRAM))
                        except (BlockingIOError, InterruptedError):
                            break
                    if packets:
                        exporter.handle_packets(packets)
                now = self.clock()
                if now >= next_sweep:
                    exporter.sweep()
                    next_sweep = now + 1.0
        except Exception:  # noqa: BLE001 - log and let /-/healthy report the dead listener
            log.exception("the StatsD listener stopped unexpectedly")
            self._listening = False
            raise
