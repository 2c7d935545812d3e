"""The bridge against an independent anchor: statsd_exporter's documented semantics, written by hand.

``golden/statsd-exporter-semantics.yml`` holds StatsD lines and the samples prometheus/statsd_exporter
exposes for them under ``prometheus/statsd-mapping.yml``, worked out by hand from its README and its
code (each semantic case cites the rule it follows), not produced by the bridge. Each case is fed to
a fresh bridge engine with the repository's mapping and the exposition is compared sample by sample:
every listed sample with its value, no unlisted ``airflow_*`` sample (other ``_bucket`` samples aside),
and the exporter's own error counters. A further check proves that the file exercises every rule of
the mapping, the catch-all drop included, without running the bridge.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from airdeck.metrics.exporter import Exporter
from airdeck.metrics.mapping import load_mapping_file

from tests.metrics.bridge_helpers import FakeClock, parse_exposition, render

REPO = Path(__file__).resolve().parents[2]
MAPPING = REPO / "prometheus" / "statsd-mapping.yml"
GOLDEN = Path(__file__).resolve().parent / "golden" / "statsd-exporter-semantics.yml"
DATA = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["semantics"] + DATA["rules"]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')
Key = tuple[str, frozenset[tuple[str, str]]]


def _key(name: str, labels: frozenset[tuple[str, str]] | set[tuple[str, str]]) -> Key:
    """Prometheus' view of a sample: empty labels are absent, ``le`` compared as a number."""
    return name, frozenset((k, repr(float(v)) if k == "le" else v) for k, v in labels if v != "")


def _expected(lines: list[str]) -> dict[Key, float]:
    out: dict[Key, float] = {}
    for line in lines:
        match = _SAMPLE.match(line)
        assert match, f"{GOLDEN.name}: not a sample: {line!r}"
        out[_key(match.group(1), set(_LABEL.findall(match.group(2) or "")))] = float(match.group(3))
    return out


def _run(lines: list[str]) -> tuple[dict[Key, float], dict[Key, float]]:
    """Feed the lines to a fresh bridge engine; its airflow_* samples and its statsd_exporter_* samples."""
    exporter = Exporter(load_mapping_file(MAPPING), FakeClock())
    for line in lines:
        exporter.handle_packet(line.encode())
    airflow: dict[Key, float] = {}
    own: dict[Key, float] = {}
    for (name, labels), value in parse_exposition(render(exporter)).items():
        if name.startswith("airflow_") and not name.endswith("_created"):
            airflow[_key(name, labels)] = value
        elif name.startswith("statsd_exporter_"):
            own[_key(name, labels)] = value
    return airflow, own


def _stats(own: dict[Key, float]) -> dict[str, Any]:
    def total(name: str, **labels: str) -> float:
        return sum(v for (n, ls), v in own.items() if n == name and set(labels.items()) <= ls)

    def by_reason(name: str) -> dict[str, float]:
        return {dict(ls)["reason"]: v for (n, ls), v in own.items() if n == name and v}

    return {
        "unmapped": total("statsd_exporter_events_unmapped_total"),
        "dropped": total("statsd_exporter_events_actions_total", action="drop"),
        "tag_errors": total("statsd_exporter_tag_errors_total"),
        "sample_errors": by_reason("statsd_exporter_sample_errors_total"),
        "errors": by_reason("statsd_exporter_events_error_total"),
    }


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bridge_matches_statsd_exporter(case: dict[str, Any]) -> None:
    want = _expected(case["expect"])
    got, own = _run(case["lines"])
    wrong = {f"{name}{dict(labels)}": (value, got.get((name, labels)))
             for (name, labels), value in want.items()
             if (name, labels) not in got or not math.isclose(got[(name, labels)], value, rel_tol=1e-9)}
    assert not wrong, f"{case['id']}: expected value vs bridge's (None = missing): {wrong}\n{case.get('why', '')}"
    extra = sorted(f"{name}{dict(labels)} {value}" for (name, labels), value in got.items()
                   if (name, labels) not in want and not name.endswith("_bucket"))
    assert not extra, f"{case['id']}: the bridge exposes samples statsd_exporter would not: {extra}"
    stats = {"unmapped": 0, "dropped": 0, "tag_errors": 0, "sample_errors": {}, "errors": {}} | case.get("stats", {})
    assert _stats(own) == stats, case.get("why", "")


def test_every_mapping_rule_is_exercised() -> None:
    """Read from the file alone: every rule's metric name appears in an expectation; the drop rule drops."""
    mappings = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))["mappings"]
    expected_names = {re.sub(r"_(count|sum|bucket)$", "", _SAMPLE.match(line).group(1))  # type: ignore[union-attr]
                      for case in CASES for line in case["expect"]}
    named = [m["name"] for m in mappings if m.get("action", "map") == "map"]
    assert not set(named) - expected_names, f"rules no case exercises: {sorted(set(named) - expected_names)}"
    assert mappings[-1].get("action") == "drop" and any(c.get("stats", {}).get("dropped") for c in CASES)
    assert expected_names <= set(named), f"expectations name no rule's metric: {sorted(expected_names - set(named))}"
