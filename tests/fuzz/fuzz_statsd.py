"""Fuzz target: one StatsD datagram → airdeck's StatsD line parser (statsd_exporter's rules).

:mod:`airdeck.metrics.line` documents that nothing in it raises on bad input (problems are counted in
``ParseCounters``): any exception is a crash. A datagram is split into lines and decoded as the
bridge does (invalid UTF-8 is the bridge's own ``malformed_line``, not the parser's).

Run: ``python tests/fuzz/fuzz_statsd.py -max_total_time=30 CORPUS_DIR tests/fuzz/corpus/statsd``.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["airdeck"]):
    from airdeck.metrics.line import COUNTER, GAUGE, OBSERVER, LineParser, ParseCounters


def test_one_input(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    counters = ParseCounters()
    parser = LineParser(counters)
    for line in text.split("\n"):
        for event in parser.parse(line):
            assert event.kind in (COUNTER, GAUGE, OBSERVER), event
            assert isinstance(event.name, str) and isinstance(event.value, float | int), event
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in event.labels.items()), event


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
