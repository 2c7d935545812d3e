"""The bridge's series cap (issue 13, finding 5): 200,000 distinct dag_id tags no longer grow it without bound.

Before: every series was kept forever, and 200,000 distinct ``dag_id`` tags (any local process can
send them to the loopback UDP port) grew the bridge from 26 to 349 MiB and the scrape to 20 MB.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from airdeck.metrics.exporter import Exporter
from airdeck.metrics.mapping import load_mapping_file, parse_mapping_yaml
from airdeck.metrics.registry import MAX_LABEL_VALUE
from bridge_helpers import FakeClock, parse_exposition, render, sample

REPO = Path(__file__).resolve().parents[2]
TAGS = 200_000


def _by_dag(samples: dict, name: str, dag_id: str) -> float | None:  # type: ignore[type-arg]
    """The value of ``name`` for ``dag_id`` (the mapping adds empty run_id/dagrun_id labels)."""
    found = [v for (n, labels), v in samples.items() if n == name and ("dag_id", dag_id) in labels]
    return found[0] if found else None


def _flood(exporter: Exporter, count: int, start: int = 0) -> None:
    """``count`` distinct dag_id tags of Airflow's ti_failures counter, 50 lines per datagram."""
    for first in range(start, start + count, 50):
        lines = [f"airflow.ti_failures,dag_id=dag_{n:06d}:1|c" for n in range(first, min(start + count, first + 50))]
        exporter.handle_packets(["\n".join(lines).encode()])


def test_200000_distinct_tags_are_capped_and_memory_stays_bounded() -> None:
    mapping = load_mapping_file(REPO / "prometheus" / "statsd-mapping.yml")
    exporter = Exporter(mapping, FakeClock(), max_series=10_000)
    process = psutil.Process()
    _flood(exporter, 2_000)  # warm up: the first series, caches, the allocator's arenas
    gc.collect()
    before = process.memory_info().rss
    _flood(exporter, TAGS - 2_000, start=2_000)
    gc.collect()
    grown = process.memory_info().rss - before
    assert exporter.registry.series_count() == 10_000
    text = render(exporter)
    samples = parse_exposition(text)
    assert sample(samples, "airdeck_metrics_bridge_dropped_samples_total", reason="series_limit") == TAGS - 10_000
    assert sample(samples, "airdeck_metrics_bridge_series") == 10_000
    assert sample(samples, "airdeck_metrics_bridge_series_limit") == 10_000
    # ~1.1 KiB per counter series: 10,000 series hold ~11 MiB; 200,000 uncapped grew the process by ~210 MiB.
    assert grown < 24 * 2**20, f"the process grew by {grown / 2**20:.1f} MiB with {TAGS} distinct tags"
    assert len(text) < 2_000_000
    # Series that exist keep counting at the limit; new ones are still refused.
    exporter.handle_packet(b"airflow.ti_failures,dag_id=dag_000000:1|c\nairflow.ti_failures,dag_id=new:1|c")
    samples = parse_exposition(render(exporter))
    assert _by_dag(samples, "airflow_ti_failures_total", "dag_000000") == 2
    assert _by_dag(samples, "airflow_ti_failures_total", "new") is None
    assert sample(samples, "airdeck_metrics_bridge_dropped_samples_total", reason="series_limit") == TAGS - 10_000 + 1


def test_new_names_beyond_the_limit_create_no_families() -> None:
    exporter = Exporter(parse_mapping_yaml("mappings: []\n", "t.yml"), FakeClock(), max_series=100)
    exporter.handle_packets([f"custom.metric_{n}:1|c".encode() for n in range(5_000)])
    assert exporter.registry.series_count() == 100
    assert len(exporter.registry.families) <= 101  # distinct names cannot grow the registry either


def test_expired_series_make_room_again() -> None:
    clock = FakeClock()
    exporter = Exporter(parse_mapping_yaml("defaults: {ttl: 1m}\nmappings: []\n", "t.yml"), clock, max_series=10)
    exporter.handle_packets([f"a.b,n={n}:1|c".encode() for n in range(20)])
    assert exporter.registry.series_count() == 10
    clock.advance(120)
    exporter.sweep()
    assert exporter.registry.series_count() == 0
    exporter.handle_packets([f"a.b,n=x{n}:1|c".encode() for n in range(10)])
    assert exporter.registry.series_count() == 10


def test_a_label_value_longer_than_the_limit_is_dropped_and_counted() -> None:
    exporter = Exporter(load_mapping_file(REPO / "prometheus" / "statsd-mapping.yml"), FakeClock())
    exporter.handle_packet(f"airflow.ti_failures,dag_id={'x' * (MAX_LABEL_VALUE + 1)}:1|c".encode())
    exporter.handle_packet(f"airflow.ti_failures,dag_id={'y' * 250}:1|c".encode())  # Airflow's longest id
    samples = parse_exposition(render(exporter))
    assert sample(samples, "airdeck_metrics_bridge_dropped_samples_total", reason="label_too_long") == 1
    assert _by_dag(samples, "airflow_ti_failures_total", "y" * 250) == 1
    assert exporter.registry.series_count() == 1


def test_live_bridge_over_udp_drops_beyond_max_series(live_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = live_bridge("mappings: []\n", max_series=100)
    for first in range(0, 300, 20):
        bridge.send("\n".join(f"airflow.x,dag_id=d{n}:1|c" for n in range(first, first + 20)))
    deadline = time.monotonic() + 10
    while True:
        samples = parse_exposition(bridge.scrape())
        dropped = sample(samples, "airdeck_metrics_bridge_dropped_samples_total", reason="series_limit")
        if dropped == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert dropped == 200
    assert sample(samples, "airdeck_metrics_bridge_series") == 100


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airdeck.metrics.cli", *args], capture_output=True, text=True,
                          timeout=30, check=False)


@pytest.mark.parametrize("value", ["-1", "many", "1e5", "²"])
def test_cli_refuses_a_bad_max_series(value: str) -> None:
    result = _run_cli("--max-series", value)
    assert result.returncode == 2 and "--max-series" in result.stderr and "Traceback" not in result.stderr


def test_the_config_key_reaches_the_bridge_and_is_validated() -> None:
    from airdeck.config.model import AirdeckConfig
    from airdeck.metrics import wiring
    from pydantic import ValidationError

    default = wiring.bridge_argv(AirdeckConfig.model_validate({}))
    assert default[default.index("--max-series") + 1] == "50000"
    cfg = AirdeckConfig.model_validate({"observability": {"bridge": {"max_series": 200_000}}})
    argv = wiring.bridge_argv(cfg)
    assert argv[argv.index("--max-series") + 1] == "200000"
    for bad in (0, 99, -1, "lots"):
        with pytest.raises(ValidationError, match="max_series"):
            AirdeckConfig.model_validate({"observability": {"bridge": {"max_series": bad}}})
