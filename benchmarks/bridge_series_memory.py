"""Metrics-bridge memory per series, and what ``observability.bridge.max_series`` bounds it to.

Feeds N distinct ``dag_id`` tags of one Airflow counter (``airflow.ti_failures``) or timer
(``airflow.task.duration``, a histogram with airdeck's 16 buckets) through the bridge's exporter with
airdeck's mapping, in a fresh process per case, and reports the process's resident memory before
and after, the bytes per series and the size and time of one ``/metrics`` rendering. The default of
``max_series`` (50,000) comes from these figures.

Usage: ``PYTHONPATH=platform .venv/bin/python benchmarks/bridge_series_memory.py [--tags N]``
(default 200,000 tags; about 30 s).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CASE = r"""
import gc, json, sys, time
from pathlib import Path
import psutil
from airdeck.metrics.exporter import Exporter
from airdeck.metrics.mapping import load_mapping_file

kind, tags, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
process = psutil.Process()
exporter = Exporter(load_mapping_file(Path(sys.argv[4])), time.monotonic, max_series=limit)
gc.collect()
before = process.memory_info().rss
for first in range(0, tags, 50):
    if kind == "counter":
        lines = [f"airflow.ti_failures,dag_id=dag_{n:06d}:1|c" for n in range(first, min(tags, first + 50))]
    else:
        lines = [f"airflow.task.duration,dag_id=dag_{n:06d},task_id=load:{n % 1000}|ms"
                 for n in range(first, min(tags, first + 50))]
    exporter.handle_packets(["\n".join(lines).encode()])
gc.collect()
after = process.memory_info().rss
started = time.perf_counter()
size = sum(len(text) for _, text in exporter.registry.render())
render_s = time.perf_counter() - started
series = exporter.registry.series_count()
print(json.dumps({"kind": kind, "tags": tags, "limit": limit, "series": series,
                  "rss_before_mib": before / 2**20, "rss_after_mib": after / 2**20,
                  "bytes_per_series": (after - before) / max(series, 1),
                  "scrape_mb": size / 1e6, "render_s": render_s}))
"""


def run(kind: str, tags: int, limit: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CASE, kind, str(tags), str(limit),
                          str(REPO / "prometheus" / "statsd-mapping.yml")],
                         check=True, capture_output=True, text=True, timeout=300)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=200_000)
    args = parser.parse_args()
    print(f"{'metric':10} {'max_series':>10} {'series':>8} {'RSS MiB':>17} {'B/series':>9} {'scrape MB':>9} "
          f"{'render s':>8}")
    for kind in ("counter", "histogram"):
        for limit in (0, 50_000):
            r = run(kind, args.tags, limit)
            print(f"{kind:10} {limit or 'none':>10} {r['series']:>8.0f} "
                  f"{r['rss_before_mib']:>7.1f} → {r['rss_after_mib']:>6.1f} {r['bytes_per_series']:>9.0f} "
                  f"{r['scrape_mb']:>9.1f} {r['render_s']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
