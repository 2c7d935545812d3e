"""Fixtures for the metrics-bridge tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from airdeck.metrics.bridge import Bridge, BridgeSettings
from bridge_helpers import LiveBridge


@pytest.fixture
def live_bridge(tmp_path: Path) -> Iterator[object]:
    """Factory: ``live_bridge(mapping_yaml)`` starts a bridge on ephemeral loopback ports."""
    started: list[LiveBridge] = []

    def start(mapping_yaml: str | None = None, **settings: object) -> LiveBridge:
        mapping = None
        if mapping_yaml is not None:
            mapping = tmp_path / f"mapping{len(started)}.yml"
            mapping.write_text(mapping_yaml)
        bridge = Bridge(
            BridgeSettings(statsd_listen="127.0.0.1:0", web_listen="127.0.0.1:0", mapping=mapping, **settings)  # type: ignore[arg-type]
        )
        bridge.start()
        live = LiveBridge(bridge)
        started.append(live)
        return live

    yield start
    for live in started:
        live.sender.close()
        live.bridge.stop()
