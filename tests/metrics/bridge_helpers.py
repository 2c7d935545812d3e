"""Helpers for the metrics-bridge tests: a settable clock, exposition parsing, a live bridge."""

from __future__ import annotations

import re
import socket
import time
import urllib.request

from airdeck.metrics.bridge import Bridge
from airdeck.metrics.exporter import Exporter
from airdeck.metrics.mapping import parse_mapping_yaml


class FakeClock:
    """A clock tests move by hand, so nothing depends on wall-clock speed."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a text exposition as ``{(name, labels): value}``; asserts every line parses."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_RE.match(line)
        assert match, f"unparseable exposition line: {line!r}"
        labels = frozenset(
            (k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
            for k, v in _LABEL_RE.findall(match.group(2) or "")
        )
        key = (match.group(1), labels)
        assert key not in samples, f"duplicate series in exposition: {line!r}"
        samples[key] = float(match.group(3))
    return samples


def sample(samples: dict, name: str, **labels: str) -> float | None:  # type: ignore[type-arg]
    return samples.get((name, frozenset(labels.items())))


def types_of(text: str) -> dict[str, str]:
    return {
        parts[2]: parts[3] for parts in (line.split(" ") for line in text.splitlines() if line.startswith("# TYPE "))
    }


def make_exporter(yaml_text: str = "", clock: FakeClock | None = None) -> Exporter:
    return Exporter(parse_mapping_yaml(yaml_text, "test.yml"), clock or FakeClock())


def render(exporter: Exporter) -> str:
    from airdeck.metrics.exposition import join_chunks, render_families

    return join_chunks(exporter.registry.render(), render_families(exporter.metrics.collect())).decode()


class LiveBridge:
    def __init__(self, bridge: Bridge):
        self.bridge = bridge
        self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    @property
    def udp(self) -> tuple[str, int]:
        return self.bridge.statsd_address

    @property
    def url(self) -> str:
        host, port = self.bridge.web_address
        return f"http://{host}:{port}"

    def send(self, payload: bytes | str) -> None:
        self.sender.sendto(payload.encode() if isinstance(payload, str) else payload, self.udp)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 - loopback
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def scrape(self) -> str:
        status, body = self.get("/metrics")
        assert status == 200
        return body

    def wait_for(self, name: str, at_least: float, timeout: float = 10.0) -> dict:  # type: ignore[type-arg]
        """Scrape until the unlabelled counter ``name`` reaches ``at_least`` (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            samples = parse_exposition(self.scrape())
            if (sample(samples, name) or 0) >= at_least:
                return samples
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not reach {at_least}: {sample(samples, name)}")
            time.sleep(0.02)
